// Where the time goes: the store calls behind each answer, timed in this
// process against the same Redis.
import { SessionManager } from '../../src/admin/sessions.js'
import { requestsToday, summarizeTraffic } from '../../src/analytics/traffic-report.js'
import { hourClientsBucket, minuteBucket } from '../../src/analytics/traffic-recorder.js'
import type { RedisStore } from '../../src/store/redis-store.js'
import { TOP_CLIENTS_PER_HOUR, FRAGMENTS } from './generated.js'
import { CLIENTS, CONCURRENCY, INTEGRATIONS, PAGE_SIZE, STORE_RUNS, STORE_WARMUP } from './settings.js'
import { stats, type Stats } from './stats.js'

export interface StoreRecord { label: string, parallel: number, stats: Stats, errors: number }

/** `runs` calls, `parallel` at a time, after a sequential warm-up; failed calls are counted, not timed. */
async function timeStore (
  label: string, call: () => Promise<unknown>, { runs = STORE_RUNS, warmup = STORE_WARMUP, parallel = 1 } = {}
): Promise<StoreRecord> {
  let errors = 0
  const attempt = async (): Promise<number | undefined> => {
    const t0 = performance.now()
    try {
      await call()
      return performance.now() - t0
    } catch {
      errors++
      return undefined
    }
  }
  for (let i = 0; i < warmup; i++) await attempt()
  errors = 0
  const times: number[] = []
  let next = 0
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < runs) {
      next++
      const ms = await attempt()
      if (ms !== undefined) times.push(ms)
    }
  }))
  return { label, parallel, stats: stats(times), errors }
}

export async function storeBreakdown (store: RedisStore, cookie: string, firstIds: string[]): Promise<StoreRecord[]> {
  const sessions = new SessionManager(store)
  // The API asks for one more than a page, to know whether there is another.
  const limit = PAGE_SIZE + 1
  const out: StoreRecord[] = []
  out.push(await timeStore('session check (SessionManager.resolve)', async () => {
    if (await sessions.resolve(cookie) === undefined) throw new Error('the session did not resolve in-process')
  }))
  out.push(await timeStore('countClients (ZCARD)', async () => await store.countClients()))
  out.push(await timeStore(`listClients limit ${limit}`, async () => await store.listClients({ limit })))
  out.push(await timeStore(`listClients limit ${limit} offset ${CLIENTS - PAGE_SIZE}`, async () => await store.listClients({ limit, offset: CLIENTS - PAGE_SIZE })))
  for (const parallel of [1, CONCURRENCY]) {
    for (const { text } of FRAGMENTS) {
      out.push(await timeStore(`listClients search '${text}' limit ${limit}`, async () => await store.listClients({ search: text, limit }), { parallel }))
    }
  }
  out.push(await timeStore(`requestsToday, ${firstIds.length} ids (HMGET)`, async () => await requestsToday(store, firstIds)))
  const few = { runs: 10, warmup: 2 }
  out.push(await timeStore('summarizeTraffic 24h (dashboard)', async () => await summarizeTraffic(store, INTEGRATIONS.map((i) => i.name), '24h'), few))
  // Its two halves: the per-minute series and the top clients.
  const minute = Math.floor(Date.now() / 60_000)
  const minutes = Array.from({ length: 24 * 60 }, (_v, i) => minuteBucket(minute - i))
  out.push(await timeStore('  readCounts, 1,440 minute buckets', async () => await store.readCounts(minutes), few))
  const hour = Math.floor(Date.now() / 3_600_000)
  const hours = Array.from({ length: 25 }, (_v, i) => hourClientsBucket(hour - i))
  out.push(await timeStore(`  readCounts, 25 hour buckets of ${TOP_CLIENTS_PER_HOUR.toLocaleString('en')} clients`, async () => await store.readCounts(hours), few))
  return out
}
