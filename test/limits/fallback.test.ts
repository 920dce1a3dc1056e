// Issue 4, acceptance: when Redis dies, no request waits on it; each gateway
// process limits alone at its share of the limit (limit ÷ live processes),
// and once Redis is back the limits are exact again.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ClientService } from '../../src/auth/clients.js'
import { SecretHasher } from '../../src/auth/secrets.js'
import { startEchoOrigin } from '../helpers/origin.js'
import { startGatewayProcess, type GatewayProcess } from '../helpers/process.js'
import { startRedis } from '../helpers/redis.js'
import {
  PEPPER, assertPolicies, openStore, assertRateLimited, describeUnexpected, httpClient, limitFields, pool, retryAfter,
  statusCounts, waitReady, writeRoutes, type Answer
} from './client.js'
import { sleepUntil } from '../helpers/time.js'

const LIMIT = 40
const PROCESSES = 2
const SHARE = Math.floor(LIMIT / PROCESSES)
/** The limiter's heartbeat is every 2 s; past 3 s both processes have seen each other. */
const HEARTBEATS_SETTLED_MS = 3000
/**
 * Tokens a process may still hold from its last lease when Redis dies: a lease of 40 ÷ (4 × 2) = 5, one of them spent.
 */
const LEFTOVER_MAX = 4
const DOWN_REQUESTS = 120
const DOWN_SPACING_MS = 16
/**
 * How much slower than before the kill any request may be: a hang waits on the store for seconds; a loaded CI machine
 * adds a few hundred ms.
 */
const HANG_MARGIN_MS = 500

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

const latency = (a: Answer): number => a.receivedAt - a.sentAt

test('Redis down: no hang, no 5xx, each process allows limit ÷ 2; Redis back: exact again', async (t) => {
  const redis = await startRedis(t, { own: true })
  const origin = await startEchoOrigin()
  t.after(origin.close)
  const file = await writeRoutes(t, [
    'integrations:',
    '  kamar:',
    `    upstream: ${origin.url}`,
    `    rateLimit: ${LIMIT}/1m`,
    ''
  ].join('\n'))
  const env = { REDIS_URL: redis.url, GERBANG_KEY_PEPPER: PEPPER }
  const gateways = await Promise.all(Array.from({ length: PROCESSES }, async () =>
    await startGatewayProcess(t, file, env)))
  const startedAt = Date.now()
  await Promise.all(gateways.map(async (g) => { await waitReady(g.url) }))
  const gatewayAt = (i: number): string => (gateways[i % PROCESSES] as GatewayProcess).url
  const request = httpClient(t)

  const store = await openStore(t, redis.url)
  const clients = new ClientService(store, new SecretHasher(PEPPER))
  const { key } = await clients.create({ name: 'RSUD Kabupaten Tangerang', integrations: '*' })
  const headers = { 'x-api-key': key }
  await sleepUntil(startedAt + HEARTBEATS_SETTLED_MS)
  t.diagnostic(`processes announced in Redis before the kill: ${await store.redis.zcard('gb:{procs}')}`)
  await store.close()

  // Before the kill: the key is cached on both processes, and the latency to beat is known.
  const before: Answer[] = []
  for (let i = 0; i < 20; i++) before.push(await request(gatewayAt(i), '/kamar/tersedia', { headers, index: i }))
  assert.deepEqual(statusCounts(before), { 200: 20 }, describeUnexpected(before, [200]))
  const baseline = median(before.map(latency))

  await redis.kill()

  // Steadily, across both processes, never waiting for one answer before the next request.
  const downStarted = Date.now()
  const pending: Array<Promise<Answer>> = []
  for (let i = 0; i < DOWN_REQUESTS; i++) {
    await sleepUntil(downStarted + i * DOWN_SPACING_MS)
    pending.push(request(gatewayAt(i), '/kamar/tersedia', { headers, index: i }))
  }
  const down = await Promise.all(pending)
  const slowest = down.reduce((a, b) => latency(a) >= latency(b) ? a : b)
  t.diagnostic(`latency: median ${baseline} ms before the kill; with Redis down median ${median(down.map(latency))} ms, ` +
    `slowest ${latency(slowest)} ms (#${slowest.index}); ${JSON.stringify(statusCounts(down))}`)

  assert.ok(latency(slowest) <= baseline + HANG_MARGIN_MS,
    `request #${slowest.index} to ${slowest.base} took ${latency(slowest)} ms with Redis down; the median before was ${baseline} ms`)
  assert.deepEqual(Object.keys(statusCounts(down)).filter((s) => s !== '200' && s !== '429'), [],
    `with Redis down, a cached key gets 2xx or 429, never an error:\n${describeUnexpected(down, [200, 429])}`)
  // Each process: its share, plus at most the tokens it had leased from Redis
  // before the kill and not yet spent (a lease here is at most 40 ÷ (4 × 2) = 5).
  for (let p = 0; p < PROCESSES; p++) {
    const mine = down.filter((a) => a.base === gatewayAt(p))
    const passed = mine.filter((a) => a.status === 200).length
    assert.ok(passed >= SHARE && passed <= SHARE + LEFTOVER_MAX,
      `${gatewayAt(p)} let ${passed} of ${mine.length} requests through with Redis down; its share is ` +
      `${LIMIT} ÷ ${PROCESSES} = ${SHARE} (plus at most ${LEFTOVER_MAX} tokens leased before the kill)`)
  }
  for (const answer of down) {
    const what = `request #${answer.index} with Redis down (${answer.status})`
    const fields = limitFields(answer, what)
    assertPolicies(fields, { default: { q: LIMIT, w: 60 } }, what)
    if (answer.status === 429) {
      assertRateLimited(answer, ['default'], what)
      const seconds = retryAfter(answer, what)
      assert.ok(seconds >= 1 && seconds <= 60, `${what}: Retry-After ${seconds}`)
      assert.equal(fields.limits.get('default')?.r, 0, `${what}: r`)
    }
  }

  // Back, and empty: every gateway reconnects, and counting is shared again.
  await redis.restart()
  const restartedAt = Date.now()
  await Promise.all(gateways.map(async (g) => { await waitReady(g.url, 15_000) }))
  t.diagnostic(`both gateways ready ${Date.now() - restartedAt} ms after Redis restarted`)
  await sleepUntil(restartedAt + 2000)

  const storeAgain = await openStore(t, redis.url)
  const { key: newKey } = await new ClientService(storeAgain, new SecretHasher(PEPPER))
    .create({ name: 'RSUD Kota Serang', integrations: '*' })
  const after = await pool(60, 10, async (i) =>
    await request(gatewayAt(i), '/kamar/tersedia', { headers: { 'x-api-key': newKey }, index: i }))
  assert.deepEqual(statusCounts(after), { 200: LIMIT, 429: 60 - LIMIT },
    `with Redis back, exactly ${LIMIT} of 60 pass across both processes:\n${describeUnexpected(after, [200, 429])}`)
  const remaining = after.filter((a) => a.status === 200).map((a) => limitFields(a).limits.get('default')?.r ?? -1).sort((a, b) => a - b)
  assert.deepEqual(remaining, Array.from({ length: LIMIT }, (_, i) => i), 'RateLimit r on the passes is exactly {0..39}')
})
