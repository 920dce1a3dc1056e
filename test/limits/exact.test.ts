// Issue 4, acceptance: rate limits are exact across every gateway process
// sharing a store, standalone Redis or Redis Cluster, and every answer on a
// limited route carries the fields of docs/contract.md section 5; a 429 is the
// problem document of section 6.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { ClientService } from '../../src/auth/clients.js'
import { SecretHasher } from '../../src/auth/secrets.js'
import { RedisStore } from '../../src/store/redis-store.js'
import { startEchoOrigin, type Origin } from '../helpers/origin.js'
import { startGatewayProcess, type GatewayProcess } from '../helpers/process.js'
import { startRedis } from '../helpers/redis.js'
import {
  PEPPER, assertPolicies, openStore, assertRateLimited, assertXTrioMatches, describeUnexpected, httpClient, limitFields,
  pool,
  retryAfter, statusCounts, waitReady, writeRoutes, type Answer
} from './client.js'
import { sleep } from '../helpers/time.js'
import { startRedisCluster } from './cluster.js'

const LIMIT = 100
const WINDOW_S = 60
const REQUESTS = 500
const CONCURRENCY = 25

function routes (upstream: string): string {
  return [
    'defaults:',
    '  rateLimit: 600/1m',
    'integrations:',
    '  kamar:',
    `    upstream: ${upstream}`,
    `    rateLimit: ${LIMIT}/1m`,
    '  jadwal:',
    `    upstream: ${upstream}`,
    `    rateLimit: ${LIMIT}/1m`,
    '  kilat:',
    `    upstream: ${upstream}`,
    '    rateLimit: 100/1s',
    '  terbuka:',
    `    upstream: ${upstream}`,
    '    auth: none',
    '    rateLimit: 3/1m',
    ''
  ].join('\n')
}

interface Fleet {
  origin: Origin
  gateways: GatewayProcess[]
  store: RedisStore
  clients: ClientService
}

/** An echo origin, `count` gateway processes on `redisUrl`, and a ClientService on the same store and pepper. */
async function fleet (t: TestContext, redisUrl: string, count: number): Promise<Fleet> {
  const origin = await startEchoOrigin()
  t.after(origin.close)
  const file = await writeRoutes(t, routes(origin.url))
  const env = { REDIS_URL: redisUrl, GERBANG_KEY_PEPPER: PEPPER }
  const gateways = await Promise.all(Array.from({ length: count }, async () => await startGatewayProcess(t, file, env)))
  // A load balancer sends nothing before /readyz says the store is there.
  await Promise.all(gateways.map(async (g) => { await waitReady(g.url) }))
  // The gateways' default key prefix, so they see the clients made here.
  const store = await openStore(t, redisUrl)
  return { origin, gateways, store, clients: new ClientService(store, new SecretHasher(PEPPER)) }
}

/**
 * When the client's window for `integration` ends, read from Redis itself:
 * [earliest, latest] epoch ms, bounding the PTTL round trip.
 */
async function windowEnd (store: RedisStore, clientId: string, integration: string): Promise<[number, number]> {
  const before = Date.now()
  const pttl = await store.redis.pttl(`gb:rl:{${clientId}}:${integration}`)
  const after = Date.now()
  assert.ok(pttl > 0, `the window counter gb:rl:{${clientId}}:${integration} should exist with a TTL, PTTL=${pttl}`)
  return [before + pttl, after + pttl + 1]
}

/**
 * The seconds to the window's end the gateway can have seen while answering:
 * between when the answer arrived and when the request left. [lowest, highest].
 */
function secondsLeft (answer: Answer, [endLo, endHi]: [number, number]): [number, number] {
  return [Math.ceil((endLo - answer.receivedAt) / 1000), Math.ceil((endHi - answer.sentAt) / 1000)]
}

/** Scenario (a), against whatever Redis the fleet shares. */
async function exactAcrossProcesses (t: TestContext, redisUrl: string): Promise<void> {
  const { origin, gateways, store, clients } = await fleet(t, redisUrl, 4)
  const { key, client } = await clients.create({ name: 'RSUD Balaraja', integrations: '*' })
  const request = httpClient(t)

  const startedAt = Date.now()
  const answers = await pool(REQUESTS, CONCURRENCY, async (i) => {
    const gateway = gateways[i % gateways.length] as GatewayProcess
    return await request(gateway.url, `/kamar/tersedia?n=${i}`, { headers: { 'x-api-key': key }, index: i })
  })
  const elapsed = Date.now() - startedAt
  const end = await windowEnd(store, client.id, 'kamar')
  t.diagnostic(`${REQUESTS} requests over ${gateways.length} processes in ${elapsed} ms`)

  const counts = statusCounts(answers)
  assert.deepEqual(counts, { 200: LIMIT, 429: REQUESTS - LIMIT },
    `exactly ${LIMIT} answers pass, the rest are 429; unexpected:\n${describeUnexpected(answers, [200, 429])}`)
  assert.equal(origin.seen.length, LIMIT, 'refused requests never reach the upstream')
  // Every process took part, so the count really was shared.
  for (const g of gateways) {
    assert.ok(answers.some((a) => a.base === g.url && a.status === 200), `${g.url} let some requests through`)
    assert.ok(answers.some((a) => a.base === g.url && a.status === 429), `${g.url} refused some requests`)
  }
  // The window started with this burst (after it began, before its first answer) and lasts WINDOW_S seconds.
  const firstAnswer = Math.min(...answers.map((a) => a.receivedAt))
  assert.ok(end[1] >= startedAt + WINDOW_S * 1000 && end[0] <= firstAnswer + WINDOW_S * 1000,
    `the window ends ${WINDOW_S} s after its first request: it ends ${end[0] - startedAt} ms after the burst began, ` +
    `the first answer came ${firstAnswer - startedAt} ms after`)

  const remaining: number[] = []
  for (const answer of answers) {
    const what = `request #${answer.index} to ${answer.base} (${answer.status})`
    const fields = limitFields(answer, what)
    assertPolicies(fields, { default: { q: LIMIT, w: WINDOW_S } }, what)
    const entry = fields.limits.get('default')
    assert.ok(entry !== undefined)
    const [lo, hi] = secondsLeft(answer, end)
    assert.ok(entry.t !== undefined, `${what}: RateLimit needs t`)
    // t is the window's end in whole seconds; one second of leeway for
    // rounding down, and one above: a gateway dates the window's end from
    // when the store's answer reached it, which event-loop lag on a loaded
    // machine can put a second late (late is the side that keeps Retry-After
    // from coming early, checked below).
    assert.ok(entry.t >= lo - 1 && entry.t <= hi + 1, `${what}: t=${entry.t} should be within [${lo - 1}, ${hi + 1}]`)
    assert.equal(fields.xLimit, LIMIT, `${what}: X-RateLimit-Limit`)
    assert.equal(fields.xRemaining, entry.r, `${what}: X-RateLimit-Remaining equals RateLimit r`)
    assert.equal(fields.xReset, entry.t, `${what}: X-RateLimit-Reset equals RateLimit t`)
    if (answer.status === 200) {
      remaining.push(entry.r)
      continue
    }
    assertRateLimited(answer, ['default'], what)
    assert.equal(entry.r, 0, `${what}: nothing remains`)
    const seconds = retryAfter(answer, what)
    // Never earlier than the window's end, even for a client that waits exactly that long.
    assert.ok(answer.receivedAt + seconds * 1000 >= end[0],
      `${what}: Retry-After ${seconds} s from ${answer.receivedAt} is ${end[0] - answer.receivedAt - seconds * 1000} ms before the window's end`)
    assert.ok(seconds <= hi + 1, `${what}: Retry-After ${seconds} s is well past the window's end (${hi} s)`)
  }
  // Each pass took one unit of the shared count: remaining 99, 98, … 0, each exactly once.
  remaining.sort((a, b) => a - b)
  assert.deepEqual(remaining, Array.from({ length: LIMIT }, (_, i) => i), 'RateLimit r on the passes is exactly {0..99}')
}

test('(a) 100/1m across 4 gateway processes on one Redis: exactly 100 pass, with exact headers', async (t) => {
  const redis = await startRedis(t, { own: true })
  await exactAcrossProcesses(t, redis.url)
})

test('(b) the same on a 3-master Redis Cluster', async (t) => {
  const cluster = await startRedisCluster(t)
  await exactAcrossProcesses(t, cluster.url)
})

test('per-client policies and open integrations', async (t) => {
  const redis = await startRedis(t, { own: true })
  const { gateways, clients } = await fleet(t, redis.url, 2)
  const request = httpClient(t)
  // Alternating processes: every limit here is shared, not per process.
  let turn = 0
  const next = (): string => (gateways[turn++ % gateways.length] as GatewayProcess).url

  await t.test('(c) a client quota of 5/1d is the "daily" policy next to the integration\'s "default"', async () => {
    const { key } = await clients.create({ name: 'Dinkes Pandeglang', integrations: '*', quota: '5/1d' })
    for (let n = 1; n <= 5; n++) {
      const answer = await request(next(), '/kamar/tersedia', { headers: { 'x-api-key': key }, index: n })
      const what = `quota request ${n}`
      assert.equal(answer.status, 200, `${what}: ${answer.body}`)
      const fields = limitFields(answer, what)
      assertPolicies(fields, { default: { q: LIMIT, w: WINDOW_S }, daily: { q: 5, w: 86_400 } }, what)
      assert.equal(fields.limits.get('default')?.r, LIMIT - n, `${what}: default r`)
      assert.equal(fields.limits.get('daily')?.r, 5 - n, `${what}: daily r`)
      const dailyT = fields.limits.get('daily')?.t ?? -1
      assert.ok(dailyT >= 86_400 - 5 && dailyT <= 86_400, `${what}: daily t=${dailyT}`)
      assertXTrioMatches(fields, what)
    }
    const sixth = await request(next(), '/kamar/tersedia', { headers: { 'x-api-key': key }, index: 6 })
    assertRateLimited(sixth, ['daily'], 'the 6th request')
    const fields = limitFields(sixth, 'the 6th request')
    assertPolicies(fields, { default: { q: LIMIT, w: WINDOW_S }, daily: { q: 5, w: 86_400 } }, 'the 6th request')
    assert.equal(fields.limits.get('daily')?.r, 0, 'the 6th request: daily r')
    const seconds = retryAfter(sixth, 'the 6th request')
    assert.ok(seconds >= 86_400 - 5 && seconds <= 86_401, `the 6th request: Retry-After ${seconds} s is the day's end`)
    // The trio must not tell a refused client that it has quota left.
    assert.equal(assertXTrioMatches(fields, 'the 6th request'), 'daily', 'the 6th request: the X-RateLimit-* trio describes the violated policy')
    assert.equal(fields.xRemaining, 0)
    // The quota is the client's, across integrations.
    const elsewhere = await request(next(), '/jadwal/poli', { headers: { 'x-api-key': key }, index: 7 })
    assertRateLimited(elsewhere, ['daily'], 'the quota on another integration')
  })

  await t.test('(c2) the daily quota counts requests, however many short windows they are spread over', async () => {
    // One process, so nothing is shared and every number is exact (README, "Rate limits").
    const gateway = (gateways[0] as GatewayProcess).url
    const { key } = await clients.create({ name: 'Dinkes Serang', integrations: '*', quota: '100/1d' })
    const headers = { 'x-api-key': key }
    // Five requests, each in a per-second window of its own.
    const spaced: Answer[] = []
    for (let n = 1; n <= 5; n++) {
      spaced.push(await request(gateway, '/kilat/status', { headers, index: n }))
      await sleep(1100)
    }
    // The other 95 of the day's 100, and not one more.
    const burst: Answer[] = []
    for (let n = 6; n <= 101; n++) burst.push(await request(gateway, '/kilat/status', { headers, index: n }))
    const dailyLeft = spaced.map((a) => a.status === 200 ? limitFields(a).limits.get('daily')?.r : a.status)
    const passed = burst.filter((a) => a.status === 200).length
    assert.deepEqual(spaced.map((a) => a.status), [200, 200, 200, 200, 200], 'the five spaced requests pass')
    assert.equal(passed, 95, `after 5 requests, 95 of a 100/1d quota remain, but ${passed} more passed ` +
      `(daily r after each spaced request: ${JSON.stringify(dailyLeft)}, expected [99,98,97,96,95])`)
    assert.deepEqual(dailyLeft, [99, 98, 97, 96, 95], 'RateLimit "daily" r counts the requests made')
    assertRateLimited(burst.at(-1) as Answer, ['daily'], 'the 101st request of the day')
  })

  await t.test('(d) a client rateLimit of 3/1m overrides the integration\'s 100/1m', async () => {
    const { key } = await clients.create({ name: 'Puskesmas Cikande', integrations: '*', rateLimit: '3/1m' })
    const { key: otherKey } = await clients.create({ name: 'Puskesmas Kragilan', integrations: '*' })
    for (let n = 1; n <= 3; n++) {
      const answer = await request(next(), '/kamar/tersedia', { headers: { 'x-api-key': key }, index: n })
      const what = `override request ${n}`
      assert.equal(answer.status, 200, `${what}: ${answer.body}`)
      const fields = limitFields(answer, what)
      assertPolicies(fields, { default: { q: 3, w: WINDOW_S } }, what)
      assert.equal(fields.limits.get('default')?.r, 3 - n, `${what}: r`)
      assert.equal(fields.xLimit, 3, `${what}: X-RateLimit-Limit`)
      assert.equal(fields.xRemaining, 3 - n, `${what}: X-RateLimit-Remaining`)
    }
    const fourth = await request(next(), '/kamar/tersedia', { headers: { 'x-api-key': key }, index: 4 })
    assertRateLimited(fourth, ['default'], 'the 4th request')
    assertPolicies(limitFields(fourth, 'the 4th request'), { default: { q: 3, w: WINDOW_S } }, 'the 4th request')
    const seconds = retryAfter(fourth, 'the 4th request')
    assert.ok(seconds >= WINDOW_S - 5 && seconds <= WINDOW_S, `the 4th request: Retry-After ${seconds} s`)
    // Another client on the same integration keeps the integration's limit.
    const other = await request(next(), '/kamar/tersedia', { headers: { 'x-api-key': otherKey } })
    assert.equal(other.status, 200)
    assertPolicies(limitFields(other, 'another client'), { default: { q: LIMIT, w: WINDOW_S } }, 'another client')
  })

  await t.test('(e) an auth: none integration is limited per source address', async () => {
    const from = async (localAddress: string, headers: Record<string, string> = {}): Promise<Answer> =>
      await request(next(), '/terbuka/info', { localAddress, headers })
    for (let n = 1; n <= 3; n++) {
      const answer = await from('127.0.0.1')
      assert.equal(answer.status, 200, `127.0.0.1 request ${n}: ${answer.body}`)
      const fields = limitFields(answer, `127.0.0.1 request ${n}`)
      assertPolicies(fields, { default: { q: 3, w: WINDOW_S } }, `127.0.0.1 request ${n}`)
      assert.equal(fields.limits.get('default')?.r, 3 - n)
    }
    assertRateLimited(await from('127.0.0.1'), ['default'], '127.0.0.1, 4th request')
    // A header is not a source address: it cannot buy a new allowance.
    assertRateLimited(await from('127.0.0.1', { 'x-forwarded-for': '203.0.113.9', 'x-real-ip': '203.0.113.9' }), ['default'],
      '127.0.0.1 claiming another address in X-Forwarded-For')
    // Another address has its own allowance.
    for (let n = 1; n <= 3; n++) {
      const answer = await from('127.0.0.2')
      assert.equal(answer.status, 200, `127.0.0.2 request ${n}: ${answer.body}`)
      assert.equal(limitFields(answer, `127.0.0.2 request ${n}`).limits.get('default')?.r, 3 - n)
    }
    assertRateLimited(await from('127.0.0.2'), ['default'], '127.0.0.2, 4th request')
  })
})
