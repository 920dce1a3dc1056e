import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { ClientService } from '../../src/auth/clients.js'
import { generateKey, generateToken, SecretHasher } from '../../src/auth/secrets.js'
import { MemoryStore } from '../../src/store/memory-store.js'
import { RedisStore } from '../../src/store/redis-store.js'
import { startEchoOrigin, type Origin } from '../helpers/origin.js'
import { startGateway, type TestGateway } from '../helpers/gateway.js'
import { startGatewayProcess } from '../helpers/process.js'
import { startRedis, storeConnected } from '../helpers/redis.js'
import { sleep, waitUntil } from '../helpers/time.js'

const PEPPER = 'credentials-test-pepper-0123456789'

interface Problem {
  status: number
  code: string
  detail: string
  requestId: string
  instance: string
  title: string
  type: string
  timestamp: string
}

function routes (upstream: string): string {
  return [
    'integrations:',
    '  yankes:',
    `    upstream: ${upstream}`,
    '  bpjs:',
    `    upstream: ${upstream}`,
    '  satu-data:',
    `    upstream: ${upstream}`,
    '    apiKeyQuery: apikey',
    '  terbuka:',
    `    upstream: ${upstream}`,
    '    auth: none',
    ''
  ].join('\n')
}

async function problem (res: Response, status: number, code: string): Promise<Problem> {
  assert.equal(res.status, status)
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/)
  const body = await res.json() as Problem
  assert.equal(body.code, code)
  assert.equal(body.status, status)
  assert.equal(body.requestId, res.headers.get('x-request-id'))
  assert.equal(body.type, 'about:blank')
  assert.match(body.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
  return body
}

interface Setup { gw: TestGateway, origin: Origin, clients: ClientService, store: MemoryStore }

async function setup (t: TestContext): Promise<Setup> {
  const origin = await startEchoOrigin()
  t.after(origin.close)
  const store = new MemoryStore()
  const hasher = new SecretHasher(PEPPER)
  const gw = await startGateway(t, routes(origin.url), {}, { store, hasher })
  return { gw, origin, clients: gw.app.clients, store }
}

test('every 401 and 403 row of the contract, with its headers and body', async (t) => {
  const { gw, clients, origin } = await setup(t)
  const { key } = await clients.create({ name: 'RSUD Banten', integrations: ['yankes', 'satu-data'] })
  const { key: expiredKey } = await clients.create({ name: 'Dinkes Lebak', integrations: '*', expiresAt: '2020-01-01T00:00:00Z' })
  const { key: revokedKey, client: revoked } = await clients.create({ name: 'Puskesmas Serang', integrations: '*' })
  await clients.revoke(revoked.id)
  const { key: fencedKey } = await clients.create({ name: 'BPJS Cabang Serang', integrations: '*', allowedIps: ['10.20.0.0/16'] })

  const missing = await fetch(`${gw.url}/yankes/kamar`)
  const m = await problem(missing, 401, 'CREDENTIALS_MISSING')
  assert.match(missing.headers.get('www-authenticate') ?? '', /^Bearer realm="gerbang"/)
  assert.equal(m.instance, '/yankes/kamar')

  const cases: Array<[string, Record<string, string>, number, string]> = [
    ['unknown key', { 'x-api-key': generateKey() }, 401, 'CREDENTIALS_INVALID'],
    ['malformed key', { 'x-api-key': 'sha1-of-the-domain' }, 401, 'CREDENTIALS_INVALID'],
    ['revoked key', { 'x-api-key': revokedKey }, 401, 'CREDENTIALS_INVALID'],
    ['expired key', { 'x-api-key': expiredKey }, 401, 'CREDENTIALS_INVALID'],
    ['unknown token', { authorization: `Bearer ${generateToken()}` }, 401, 'CREDENTIALS_INVALID'],
    ['integration not granted', { 'x-api-key': key }, 403, 'INTEGRATION_FORBIDDEN'],
    ['source address not allowed', { 'x-api-key': fencedKey }, 403, 'INTEGRATION_FORBIDDEN']
  ]
  for (const [name, headers, status, code] of cases) {
    const path = status === 403 && name === 'integration not granted' ? '/bpjs/peserta/0001' : '/yankes/kamar'
    const res = await fetch(gw.url + path, { headers })
    const body = await problem(res, status, code)
    if (status === 401) assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/, name)
    // The old API manager echoed the key back; we never do.
    for (const secret of Object.values(headers)) assert.ok(!JSON.stringify(body).includes(secret.replace('Bearer ', '')), `${name}: secret echoed`)
  }
  assert.equal(origin.seen.length, 0, 'no rejected request reached the upstream')

  // The old API manager's header spelling is the same header.
  const ok = await fetch(`${gw.url}/yankes/kamar`, { headers: { 'X-API-KEY': key } })
  assert.equal(ok.status, 200)
})

test('the upstream gets x-client-id and x-client-name, never the credential; logs never hold it', async (t) => {
  const { gw, clients, origin } = await setup(t)
  const { key, client } = await clients.create({ name: 'RSUD Malingping', integrations: ['yankes', 'satu-data'] })
  const res = await fetch(`${gw.url}/yankes/kamar?rs=2`, { headers: { 'x-api-key': key, 'x-client-id': 'spoofed' } })
  assert.equal(res.status, 200)
  const seen = origin.seen.at(-1)
  assert.ok(seen !== undefined)
  assert.equal(seen.headers['x-client-id'], client.id)
  assert.equal(seen.headers['x-client-name'], 'RSUD Malingping')
  assert.equal(seen.headers['x-api-key'], undefined)

  // apiKeyQuery: accepted, removed before forwarding, other parameters untouched.
  const legacy = await fetch(`${gw.url}/satu-data/getGroup?page=1&apikey=${encodeURIComponent(key)}&limit=5`)
  assert.equal(legacy.status, 200)
  assert.equal(origin.seen.at(-1)?.url, '/getGroup?page=1&limit=5')

  // The query parameter is only a credential where the integration says so.
  const elsewhere = await fetch(`${gw.url}/yankes/kamar?apikey=${encodeURIComponent(key)}`)
  await problem(elsewhere, 401, 'CREDENTIALS_MISSING')

  // An auth: none integration needs nothing and forwards Authorization untouched.
  const open = await fetch(`${gw.url}/terbuka/info`, { headers: { authorization: 'Basic dXBzdHJlYW06c2VjcmV0' } })
  assert.equal(open.status, 200)
  assert.equal(origin.seen.at(-1)?.headers.authorization, 'Basic dXBzdHJlYW06c2VjcmV0')

  await waitUntil('the last request\'s access line', () => gw.logs.some((l) => l.msg === 'request' && l.path === '/terbuka/info'))
  const logged = JSON.stringify(gw.logs)
  assert.ok(!logged.includes(key), 'the key is in a log line')
  assert.ok(gw.logs.some((l) => l.client === client.id), 'the access line names the client')
})

test('token flow: SATUSEHAT-style token works as a bearer, is not forwarded, and dies at expiry', async (t) => {
  // Expiry is read from Date.now(): a mocked Date (timers stay real) lets the 600 ms pass at once.
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() })
  const origin = await startEchoOrigin()
  t.after(origin.close)
  const gw = await startGateway(t, routes(origin.url), {},
    { store: new MemoryStore(), hasher: new SecretHasher(PEPPER), tokenTtlMs: 600 })
  const { key, client } = await gw.app.clients.create({ name: 'RSUD Banten', integrations: ['yankes'] })

  const tokenRes = await fetch(`${gw.url}/oauth2/v1/accesstoken?grant_type=client_credentials`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: client.id, client_secret: key }).toString()
  })
  assert.equal(tokenRes.status, 200)
  const token = await tokenRes.json() as Record<string, string>
  assert.equal(token.client_id, client.id)
  assert.equal(token.status, 'approved')
  assert.match(token.expires_in ?? '', /^\d+$/)
  assert.match(token.issued_at ?? '', /^\d{13}$/)
  assert.match(token.access_token ?? '', /^gbt_/)

  const res = await fetch(`${gw.url}/yankes/dokter`, { headers: { authorization: `Bearer ${token.access_token ?? ''}` } })
  assert.equal(res.status, 200)
  const seen = origin.seen.at(-1)
  assert.equal(seen?.headers.authorization, undefined, 'the bearer token is not forwarded')
  assert.equal(seen?.headers['x-client-id'], client.id)

  t.mock.timers.tick(700)
  const expired = await fetch(`${gw.url}/yankes/dokter`, { headers: { authorization: `Bearer ${token.access_token ?? ''}` } })
  const body = await problem(expired, 401, 'CREDENTIALS_INVALID')
  assert.match(body.detail, /expired|not valid/)
})

async function writeRoutes (t: TestContext, text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gerbang-auth-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const file = join(dir, 'routes.yaml')
  await writeFile(file, text)
  return file
}

test('revoking a client kills its key and its tokens within 1 s on another gateway process', async (t) => {
  const redis = await startRedis(t, { own: true })
  const origin = await startEchoOrigin()
  t.after(origin.close)
  const file = await writeRoutes(t, routes(origin.url))
  const env = { REDIS_URL: redis.url, GERBANG_KEY_PEPPER: PEPPER }
  const [a, b] = await Promise.all([startGatewayProcess(t, file, env), startGatewayProcess(t, file, env)])

  const store = new RedisStore({ url: redis.url })
  t.after(async () => { await store.close() })
  await storeConnected(store)
  const clients = new ClientService(store, new SecretHasher(PEPPER))
  const { key, client } = await clients.create({ name: 'Dinkes Pandeglang', integrations: '*' })

  const tokenRes = await fetch(`${a.url}/oauth2/v1/accesstoken?grant_type=client_credentials`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `client_id=${client.id}&client_secret=${encodeURIComponent(key)}`
  })
  assert.equal(tokenRes.status, 200)
  const { access_token: token } = await tokenRes.json() as { access_token: string }

  // Both credentials are now cached on b.
  assert.equal((await fetch(`${b.url}/yankes/kamar`, { headers: { 'x-api-key': key } })).status, 200)
  assert.equal((await fetch(`${b.url}/yankes/kamar`, { headers: { authorization: `Bearer ${token}` } })).status, 200)

  const revokedAt = performance.now()
  await clients.revoke(client.id)
  let keyDead = Infinity
  let tokenDead = Infinity
  while (performance.now() - revokedAt < 1500 && (keyDead === Infinity || tokenDead === Infinity)) {
    const [k, tk] = await Promise.all([
      fetch(`${b.url}/yankes/kamar`, { headers: { 'x-api-key': key } }),
      fetch(`${b.url}/yankes/kamar`, { headers: { authorization: `Bearer ${token}` } })
    ])
    await Promise.all([k.arrayBuffer(), tk.arrayBuffer()])
    if (k.status === 401 && keyDead === Infinity) keyDead = performance.now() - revokedAt
    if (tk.status === 401 && tokenDead === Infinity) tokenDead = performance.now() - revokedAt
  }
  t.diagnostic(`key refused after ${Math.round(keyDead)} ms, token after ${Math.round(tokenDead)} ms`)
  assert.ok(keyDead < 1000, `key still accepted ${Math.round(keyDead)} ms after revocation`)
  assert.ok(tokenDead < 1000, `token still accepted ${Math.round(tokenDead)} ms after revocation`)
})

test('Redis killed under load: cached key keeps working, unknown keys 503 fast, /readyz follows Redis', async (t) => {
  const redis = await startRedis(t, { own: true })
  const origin = await startEchoOrigin()
  t.after(origin.close)
  const file = await writeRoutes(t, routes(origin.url))
  const gw = await startGatewayProcess(t, file, { REDIS_URL: redis.url, GERBANG_KEY_PEPPER: PEPPER })

  const store = new RedisStore({ url: redis.url })
  t.after(async () => { await store.close() })
  await storeConnected(store)
  const { key } = await new ClientService(store, new SecretHasher(PEPPER)).create({ name: 'RSUD Banten', integrations: '*' })
  assert.equal((await fetch(`${gw.url}/yankes/kamar`, { headers: { 'x-api-key': key } })).status, 200)
  assert.equal((await fetch(`${gw.url}/readyz`)).status, 200)

  // 200 requests/s for 3 s; Redis dies after 1 s.
  const statuses: number[] = []
  const slow: number[] = []
  const inFlight: Array<Promise<void>> = []
  const started = performance.now()
  let sentWhileDown = 0
  let redisDown = false
  const timer = setInterval(() => {
    const sent = performance.now()
    if (redisDown) sentWhileDown++
    inFlight.push(fetch(`${gw.url}/yankes/kamar`, { headers: { 'x-api-key': key } }).then(async (res) => {
      await res.arrayBuffer()
      statuses.push(res.status)
      const took = performance.now() - sent
      if (took > 100) slow.push(took)
    }, () => { statuses.push(0) }))
  }, 5)
  await sleep(1000)
  await redis.kill()
  redisDown = true
  await waitUntil('/readyz to answer 503 once Redis is down', async () => {
    const res = await fetch(`${gw.url}/readyz`)
    await res.arrayBuffer()
    return res.status === 503
  })
  const unknownStart = performance.now()
  const unknown = await fetch(`${gw.url}/yankes/kamar`, { headers: { 'x-api-key': generateKey() } })
  const unknownMs = performance.now() - unknownStart
  await problem(unknown, 503, 'STORE_UNAVAILABLE')
  assert.ok(unknownMs < 1000, `a never-seen key took ${Math.round(unknownMs)} ms`)

  await sleep(Math.max(0, 3000 - (performance.now() - started)))
  clearInterval(timer)
  await Promise.all(inFlight)
  const failed = statuses.filter((s) => s !== 200)
  t.diagnostic(`${statuses.length} requests, ${failed.length} failed, ${slow.length} over 100 ms, never-seen key answered in ${Math.round(unknownMs)} ms`)
  // What must hold is that traffic really ran while Redis was down; how much a
  // starved CI machine sends in 2 s varies (a slow one managed 193 in all).
  assert.ok(sentWhileDown >= 50, `only ${sentWhileDown} of ${statuses.length} requests were sent while Redis was down`)
  assert.deepEqual(failed, [])

  await redis.restart()
  const restartedAt = performance.now()
  await waitUntil('/readyz to answer 200 again after Redis restarted', async () => {
    const res = await fetch(`${gw.url}/readyz`)
    await res.arrayBuffer()
    return res.status === 200
  }, { intervalMs: 100 })
  t.diagnostic(`/readyz 200 again ${Math.round(performance.now() - restartedAt)} ms after Redis restarted`)
})
