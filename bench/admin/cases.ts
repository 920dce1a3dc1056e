// What the bench asks the gateway, case by case (the Clients page, its list,
// its search), each answer checked, then timed one at a time and CONCURRENCY
// at once, with the CPU and the Redis commands each request cost.
import type { Pool } from 'undici'
import type { RedisStore } from '../../src/store/redis-store.js'
import { round1 } from '../output.js'
import { cpuUs } from '../proc.js'
import { get } from './gateway.js'
import { FRAGMENTS, type Named } from './generated.js'
import { CLIENTS, CONCURRENCY, PAGE_SIZE, RUNS, WARMUP } from './settings.js'
import { stats, type Stats } from './stats.js'

interface Case {
  label: string
  path: string
  /** Counts toward PASS/FAIL. */
  gated: boolean
  /** Checks one answer's body; a problem, or undefined. */
  check?: (body: string) => string | undefined
  note?: string
  /** Fewer repetitions for a slow reference case. */
  warmup?: number
  runs?: number
}

/**
 * What Redis did per request during a run, from INFO commandstats (reset
 * before the run), by command, most time first. A script's time includes the
 * commands it calls, which are also counted under their own names: do not add
 * the rows up.
 */
type RedisWork = Array<{ command: string, callsPerReq: number, usPerReq: number }>

export interface RunRecord {
  stats: Stats
  non200: number
  statusCodes: Record<string, number>
  /** The body of the first answer that was not 200, cut short. */
  firstError?: string
  gatewayCpuUsPerReq: number | null
  redisCpuUsPerReq: number | null
  redis?: RedisWork
}

export interface CaseRecord {
  label: string
  path: string
  gated: boolean
  bytes: number
  /** The first answer was wrong (status or body). */
  problem?: string
  note?: string
  sequential: RunRecord
  concurrent: RunRecord
}

async function redisWork (store: RedisStore, requests: number): Promise<RedisWork> {
  const text = await store.redis.info('commandstats')
  const work: RedisWork = []
  for (const match of text.matchAll(/^cmdstat_(\S+?):calls=(\d+),usec=(\d+)/gm)) {
    const [, command = '', calls = '0', usec = '0'] = match
    // The bench's own INFO and CONFIG calls.
    if (command === 'info' || command.startsWith('config')) continue
    work.push({ command, callsPerReq: round1(Number(calls) / requests), usPerReq: Math.round(Number(usec) / requests) })
  }
  return work.sort((a, b) => b.usPerReq - a.usPerReq)
}

/** The first `count` commands of a RedisWork: "evalsha 1×9,600 µs, mget 1×250 µs". */
export function topCommands (work: RedisWork | undefined, count: number): string {
  if (work === undefined || work.length === 0) return '-'
  return work.slice(0, count).map((w) => `${w.command} ${w.callsPerReq}×, ${w.usPerReq.toLocaleString('en')} µs`).join('; ')
}

export interface Target {
  pool: Pool
  cookie: string
  csrf: string
  store: RedisStore
  pids: { gateway: number, redis: number }
}

async function measure (t: Target, path: string, total: number, parallel: number): Promise<RunRecord> {
  const times: number[] = []
  const statusCodes: Record<string, number> = {}
  let firstError: string | undefined
  let next = 0
  await t.store.redis.config('RESETSTAT')
  const gw0 = cpuUs(t.pids.gateway)
  const r0 = cpuUs(t.pids.redis)
  const worker = async (): Promise<void> => {
    while (next < total) {
      next++
      const answer = await get(t.pool, path, t.cookie, t.csrf)
      times.push(answer.ms)
      statusCodes[answer.status] = (statusCodes[answer.status] ?? 0) + 1
      if (answer.status !== 200) firstError ??= answer.body.slice(0, 300)
    }
  }
  await Promise.all(Array.from({ length: parallel }, worker))
  const gw1 = cpuUs(t.pids.gateway)
  const r1 = cpuUs(t.pids.redis)
  const per = (a: number | null, b: number | null): number | null =>
    a === null || b === null ? null : Math.round((b - a) / total)
  return {
    stats: stats(times),
    non200: total - (statusCodes['200'] ?? 0),
    statusCodes,
    ...(firstError !== undefined ? { firstError } : {}),
    gatewayCpuUsPerReq: per(gw0, gw1),
    redisCpuUsPerReq: per(r0, r1),
    redis: await redisWork(t.store, total)
  }
}

export async function runCase (t: Target, c: Case): Promise<CaseRecord> {
  const first = await get(t.pool, c.path, t.cookie, t.csrf)
  const problem = first.status !== 200 ? `answered ${first.status}: ${first.body.slice(0, 300)}` : c.check?.(first.body)
  for (let i = 1; i < (c.warmup ?? WARMUP); i++) await get(t.pool, c.path, t.cookie, t.csrf)
  const sequential = await measure(t, c.path, c.runs ?? RUNS, 1)
  const concurrent = await measure(t, c.path, c.runs ?? RUNS, CONCURRENCY)
  return {
    label: c.label,
    path: c.path,
    gated: c.gated,
    bytes: first.bytes,
    ...(problem !== undefined ? { problem } : {}),
    ...(c.note !== undefined ? { note: c.note } : {}),
    sequential,
    concurrent
  }
}

interface ListBody {
  items: Array<{ name: string, requestsToday: number, status: string }>
  total: number
  hasMore: boolean
}

/** Checks a list answer: the count, total, hasMore, name order, and (with a fragment) that every name matches. */
function listCheck (expectItems: number, expectMore: boolean, fragment?: string): (body: string) => string | undefined {
  return (body) => {
    let parsed: ListBody
    try {
      parsed = JSON.parse(body) as ListBody
    } catch {
      return `not JSON: ${body.slice(0, 200)}`
    }
    const names = parsed.items.map((i) => i.name.toLowerCase())
    if (parsed.items.length !== expectItems) return `${parsed.items.length} items, ${expectItems} expected`
    if (parsed.total !== CLIENTS) return `total ${parsed.total}, ${CLIENTS} expected`
    if (parsed.hasMore !== expectMore) return `hasMore ${String(parsed.hasMore)}, ${String(expectMore)} expected`
    if (!names.every((n, i) => i === 0 || (names[i - 1] ?? '') <= n)) return 'items not sorted by name'
    if (fragment !== undefined && !names.every((n) => n.includes(fragment))) return `an item does not hold '${fragment}'`
    return undefined
  }
}

export function cases (all: Named[]): Case[] {
  const matches = (text: string): number => all.filter((c) => c.name.toLowerCase().includes(text)).length
  const lastOffset = Math.max(0, CLIENTS - PAGE_SIZE)
  return [
    { label: 'Clients page (HTML)', path: '/admin/clients', gated: true, check: (b) => b.includes('<html') ? undefined : 'not the HTML shell' },
    { label: 'main.js (asset)', path: '/admin/assets/main.js', gated: false, check: (b) => b.length > 0 ? undefined : 'empty' },
    { label: 'list, first page', path: `/admin/api/clients?limit=${PAGE_SIZE}`, gated: true, check: listCheck(Math.min(PAGE_SIZE, CLIENTS), CLIENTS > PAGE_SIZE) },
    {
      label: 'list, last page',
      path: `/admin/api/clients?limit=${PAGE_SIZE}&offset=${lastOffset}`,
      gated: true,
      check: listCheck(Math.min(PAGE_SIZE, CLIENTS - lastOffset), false)
    },
    ...FRAGMENTS.map(({ label, text }) => {
      const found = matches(text)
      return {
        label: `${label} '${text}'`,
        path: `/admin/api/clients?search=${encodeURIComponent(text)}&limit=${PAGE_SIZE}`,
        gated: true,
        check: listCheck(Math.min(PAGE_SIZE, found), found > PAGE_SIZE, text),
        note: `${found.toLocaleString('en')} matches`
      }
    }),
    // Slow (it reads 1,440 minute buckets and 25 hour buckets): fewer runs.
    { label: 'dashboard 24h (reference)', path: '/admin/api/dashboard?range=24h', gated: false, warmup: 5, runs: 40 }
  ]
}
