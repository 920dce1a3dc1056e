// Issue 20, finding 6: floods. The token endpoint issues at most 60 tokens a
// minute per client (docs/contract.md section 15), and repeated invalid
// credentials from one address are refused with 429 once past a threshold,
// while valid credentials from that address (and every other) still work.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { Authenticator } from '../../src/auth/authenticator.js'
import { addressKey, FailureThrottle } from '../../src/auth/failure-throttle.js'
import { generateKey, generateToken, SecretHasher } from '../../src/auth/secrets.js'
import { GerbangError } from '../../src/errors.js'
import { MemoryStore } from '../../src/store/memory-store.js'
import { RedisStore } from '../../src/store/redis-store.js'
import { startEchoOrigin } from '../helpers/origin.js'
import { routesFrom, startGateway, type TestGateway } from '../helpers/gateway.js'
import type { Problem } from '../helpers/problem.js'
import { startRedis, storeConnected, type TestRedis } from '../helpers/redis.js'

const PEPPER = 'floods-test-pepper-0123456789abcdef'
const TOKEN_URL = '/oauth2/v1/accesstoken?grant_type=client_credentials'
const TOKENS_PER_MINUTE = 60
const FAILURES_PER_MINUTE = 20

function routes (upstream: string): string {
  return ['integrations:', '  yankes:', `    upstream: ${upstream}`, ''].join('\n')
}

async function redisGateway (t: TestContext, redis: TestRedis): Promise<TestGateway> {
  const origin = await startEchoOrigin()
  t.after(origin.close)
  const store = new RedisStore({ url: redis.url, prefix: redis.prefix })
  await storeConnected(store)
  return await startGateway(t, routes(origin.url), {}, { store, hasher: new SecretHasher(PEPPER) })
}

interface Answer {
  status: number
  headers: Headers
  at: number
  code: string | undefined
  violatedPolicies: unknown
  oauthError: string | undefined
}

async function answer (res: Response): Promise<Answer> {
  const at = Date.now()
  const text = await res.text()
  const type = res.headers.get('content-type') ?? ''
  let code: string | undefined
  let violatedPolicies: unknown
  let oauthError: string | undefined
  if (type.startsWith('application/problem+json')) {
    const problem = JSON.parse(text) as Problem
    assert.equal(problem.status, res.status)
    assert.equal(problem.requestId, res.headers.get('x-request-id'))
    code = problem.code
    violatedPolicies = problem.violatedPolicies
  } else if (res.status >= 400) {
    oauthError = (JSON.parse(text) as { error?: string }).error
  }
  return { status: res.status, headers: res.headers, at, code, violatedPolicies, oauthError }
}

async function requestToken (gw: TestGateway, clientId: string, secret: string): Promise<Answer> {
  return await answer(await fetch(gw.url + TOKEN_URL, { method: 'POST', body: new URLSearchParams({ client_id: clientId, client_secret: secret }) }))
}

async function proxied (gw: TestGateway, headers: Record<string, string>): Promise<Answer> {
  return await answer(await fetch(`${gw.url}/yankes/kamar`, { headers }))
}

/**
 * A 429 RATE_LIMITED over `policy` (`tokens`: the client's token rate;
 * `invalid-credentials`: its address's failures) whose Retry-After is whole
 * seconds, at least 1 and at most `maxSeconds`; returns it.
 */
function assertRateLimited (a: Answer, policy: 'tokens' | 'invalid-credentials', maxSeconds = 60): number {
  assert.equal(a.status, 429)
  assert.equal(a.code, 'RATE_LIMITED')
  assert.deepEqual(a.violatedPolicies, [policy])
  const retryAfter = a.headers.get('retry-after') ?? ''
  assert.match(retryAfter, /^[0-9]+$/)
  const seconds = Number(retryAfter)
  assert.ok(seconds >= 1 && seconds <= maxSeconds, `Retry-After ${seconds}`)
  return seconds
}

// ---------------------------------------------------------------------------
// Tokens per client

test('token flood: of 100 requests for one client the first 60 get a token, the rest 429 RATE_LIMITED with Retry-After past the window; another client is unaffected', async (t) => {
  const gw = await redisGateway(t, await startRedis(t))
  const { client, key } = await gw.app.clients.create({ name: 'RSUD Flood', integrations: '*' })
  const started = Date.now()
  const answers: Answer[] = []
  for (let i = 0; i < 100; i++) answers.push(await requestToken(gw, client.id, key))

  answers.slice(0, TOKENS_PER_MINUTE).forEach((a, i) => { assert.equal(a.status, 200, `request ${i + 1}`) })
  for (const a of answers.slice(TOKENS_PER_MINUTE)) {
    const seconds = assertRateLimited(a, 'tokens')
    // The window began no earlier than the first request: retrying after
    // Retry-After must not land before its end.
    assert.ok(a.at + seconds * 1000 >= started + 60_000, `Retry-After ${seconds} s ends before the window`)
    assert.equal(a.headers.get('ratelimit-policy'), '"tokens";q=60;w=60')
    assert.equal(a.headers.get('x-ratelimit-remaining'), '0')
  }
  assert.equal(answers[0]?.headers.get('ratelimit-policy'), '"tokens";q=60;w=60')
  assert.equal(answers[0]?.headers.get('x-ratelimit-remaining'), '59')

  const other = await gw.app.clients.create({ name: 'RSUD Tenang', integrations: '*' })
  assert.equal((await requestToken(gw, other.client.id, other.key)).status, 200)
})

test('token flood: the count is kept in the store, so two gateways on one Redis issue 60 tokens in all to a client flooding both at once', async (t) => {
  const redis = await startRedis(t)
  const one = await redisGateway(t, redis)
  const two = await redisGateway(t, redis)
  const { client, key } = await one.app.clients.create({ name: 'Klinik Dua Pintu', integrations: '*' })
  const answers = await Promise.all(Array.from({ length: 100 }, async (_, i) =>
    await requestToken(i % 2 === 0 ? one : two, client.id, key)))
  assert.equal(answers.filter((a) => a.status === 200).length, TOKENS_PER_MINUTE)
  for (const a of answers.filter((a) => a.status !== 200)) assertRateLimited(a, 'tokens')
})

// ---------------------------------------------------------------------------
// Invalid credentials from one address

test('wrong secrets at the token endpoint: 401 invalid_client for the first 20, then 429 RATE_LIMITED with Retry-After; the right secret still gets a token', async (t) => {
  const gw = await redisGateway(t, await startRedis(t))
  const { client, key } = await gw.app.clients.create({ name: 'Puskesmas Target', integrations: '*' })
  const other = await gw.app.clients.create({ name: 'Puskesmas Lain', integrations: '*' })
  const wrong: string[] = [
    ...Array.from({ length: 20 }, () => generateKey()),
    ...Array.from({ length: 5 }, (_, i) => `hunter${i}`),
    // A real key, for another client id.
    ...Array.from({ length: 5 }, () => other.key)
  ]
  const answers: Answer[] = []
  for (const secret of wrong) answers.push(await requestToken(gw, client.id, secret))
  answers.slice(0, FAILURES_PER_MINUTE).forEach((a, i) => {
    assert.equal(a.status, 401, `attempt ${i + 1}`)
    assert.equal(a.oauthError, 'invalid_client')
  })
  for (const a of answers.slice(FAILURES_PER_MINUTE)) assertRateLimited(a, 'invalid-credentials')

  // Valid credentials from the same address are not throttled.
  assert.equal((await requestToken(gw, client.id, key)).status, 200)
  assert.equal((await requestToken(gw, other.client.id, other.key)).status, 200)
  // And the address is still refused for the next wrong one.
  assertRateLimited(await requestToken(gw, client.id, generateKey()), 'invalid-credentials')
})

test('invalid API keys and tokens at a proxied route: 401 for the first 20 (cached unknown keys count too), then 429 RATE_LIMITED; a valid key still gets 200', async (t) => {
  const gw = await redisGateway(t, await startRedis(t))
  const { key } = await gw.app.clients.create({ name: 'Dinkes Valid', integrations: '*' })
  const revoked = await gw.app.clients.create({ name: 'Dinkes Dicabut', integrations: '*' })
  await gw.app.clients.revoke(revoked.client.id)

  // Missing credentials are not invalid ones: they do not count.
  for (let i = 0; i < 25; i++) assert.equal((await proxied(gw, {})).code, 'CREDENTIALS_MISSING')

  const unknown = generateKey()
  const attempts: Array<Record<string, string>> = [
    // The first is looked up in the store; the other four are answered from the cache of unknown keys.
    ...Array.from({ length: 5 }, () => ({ 'x-api-key': unknown })),
    ...Array.from({ length: 8 }, () => ({ 'x-api-key': generateKey() })),
    ...Array.from({ length: 5 }, (_, i) => ({ 'x-api-key': `not-a-key-${i}` })),
    ...Array.from({ length: 5 }, () => ({ authorization: `Bearer ${generateToken()}` })),
    ...Array.from({ length: 5 }, () => ({ 'x-api-key': revoked.key }))
  ]
  const answers: Answer[] = []
  for (const [i, headers] of attempts.entries()) {
    answers.push(await proxied(gw, headers))
    // Valid requests in between neither count nor are refused.
    if (i % 7 === 0) assert.equal((await proxied(gw, { 'x-api-key': key })).status, 200)
  }
  answers.slice(0, FAILURES_PER_MINUTE).forEach((a, i) => { assert.deepEqual([a.status, a.code], [401, 'CREDENTIALS_INVALID'], `attempt ${i + 1}`) })
  for (const a of answers.slice(FAILURES_PER_MINUTE)) assertRateLimited(a, 'invalid-credentials')
  assert.equal((await proxied(gw, { 'x-api-key': key })).status, 200)
})

// ---------------------------------------------------------------------------
// Per address

test('the authenticator counts failures per address: others still get 401, an IPv6 address in the same /64 shares the count', async (t) => {
  const store = new MemoryStore()
  const auth = new Authenticator(store, new SecretHasher(PEPPER))
  t.after(async () => { await auth.close(); await store.close() })
  const [integration] = routesFrom(routes('http://127.0.0.1:9')).integrations
  assert.ok(integration !== undefined)
  const attempt = async (address: string): Promise<string> => {
    const outcome = await auth.authenticate({ 'x-api-key': generateKey() }, '', integration, address)
    assert.ok(outcome instanceof GerbangError)
    return `${outcome.status} ${outcome.code}`
  }
  for (let i = 0; i < FAILURES_PER_MINUTE; i++) assert.equal(await attempt('192.0.2.1'), '401 CREDENTIALS_INVALID')
  assert.equal(await attempt('192.0.2.1'), '429 RATE_LIMITED')
  assert.equal(await attempt('::ffff:192.0.2.1'), '429 RATE_LIMITED')
  assert.equal(await attempt('192.0.2.2'), '401 CREDENTIALS_INVALID')

  for (let i = 0; i < FAILURES_PER_MINUTE; i++) assert.equal(await attempt(`2001:db8:1:2::${(i + 1).toString(16)}`), '401 CREDENTIALS_INVALID')
  assert.equal(await attempt('2001:db8:1:2:ffff:ffff:ffff:ffff'), '429 RATE_LIMITED')
  assert.equal(await attempt('2001:db8:1:3::1'), '401 CREDENTIALS_INVALID')
})

test('addressKey: IPv4 as it is, IPv4-mapped IPv6 as IPv4, IPv6 by its /64', () => {
  assert.equal(addressKey('203.0.113.9'), '203.0.113.9')
  assert.equal(addressKey('::ffff:203.0.113.9'), '203.0.113.9')
  assert.equal(addressKey('2001:db8:0:1::5'), '2001:db8:0:1::/64')
  assert.equal(addressKey('2001:0db8:0000:0001:aaaa:bbbb:cccc:dddd'), '2001:db8:0:1::/64')
  assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64')
  assert.equal(addressKey('::1'), '0:0:0:0::/64')
  assert.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64')
  assert.equal(addressKey('64:ff9b::192.0.2.1'), '64:ff9b:0:0::/64')
})

test('FailureThrottle: a window ends after windowMs, and the map never holds more than maxAddresses', () => {
  const throttle = new FailureThrottle({ limit: 2, windowMs: 1000, maxAddresses: 100 })
  const t0 = 1_000_000
  assert.equal(throttle.fail('192.0.2.1', t0), 0)
  assert.equal(throttle.fail('192.0.2.1', t0 + 10), 0)
  // Over the limit: the wait is the rest of the window.
  assert.equal(throttle.fail('192.0.2.1', t0 + 400), 600)
  assert.equal(throttle.fail('192.0.2.1', t0 + 999), 1)
  // A new window.
  assert.equal(throttle.fail('192.0.2.1', t0 + 1000), 0)
  // No address, nothing counted.
  assert.equal(throttle.fail(undefined, t0), 0)
  assert.equal(throttle.size, 1)

  // Expired windows make room first.
  for (let i = 0; i < 100; i++) throttle.fail(`10.1.0.${i}`, t0 + 1000)
  assert.equal(throttle.size, 100)
  throttle.fail('10.2.0.1', t0 + 2500)
  assert.equal(throttle.size, 1)

  // Past maxAddresses, the windows that began longest ago go.
  for (let i = 0; i < 1000; i++) throttle.fail(`10.0.${i >> 8}.${i & 255}`, t0 + 2600)
  assert.equal(throttle.size, 100)
  // The newest address is kept and counted...
  assert.equal(throttle.fail('10.0.3.231', t0 + 2700), 0)
  assert.equal(throttle.fail('10.0.3.231', t0 + 2700), 900)
  // ...an evicted one starts again.
  assert.equal(throttle.fail('10.0.0.0', t0 + 2700), 0)
  assert.equal(throttle.size, 100)
})
