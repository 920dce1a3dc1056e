import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import Fastify, { type FastifyBaseLogger } from 'fastify'
import pino from 'pino'
import { ClientService, type NewClient } from '../../src/auth/clients.js'
import { DEFAULT_TOKEN_TTL_MS, oauth2Plugin, TOKEN_PATH } from '../../src/auth/oauth2.js'
import { generateKey, SecretHasher } from '../../src/auth/secrets.js'
import { loggerOptions } from '../../src/logging.js'
import { MemoryStore } from '../../src/store/memory-store.js'
import { RedisStore } from '../../src/store/redis-store.js'
import type { Client, Store } from '../../src/store/types.js'
import { startRedis, storeConnected } from '../helpers/redis.js'
import { assertProblem } from '../helpers/problem.js'
import { sleep } from '../helpers/time.js'

const PEPPER = 'oauth2-test-pepper-0123456789'

/** Every secret a test created: no response body may ever contain one. */
const secrets = new Set<string>()

interface TokenServer {
  url: string
  store: Store
  hasher: SecretHasher
  clients: ClientService
  /** Every JSON line logged, when started with `logs: true`. */
  logs: string[]
}

async function startTokenServer (
  t: TestContext, { store = new MemoryStore(), tokenTtlMs, logs = false }: {
    store?: Store, tokenTtlMs?: number, logs?: boolean
  } = {}
): Promise<TokenServer> {
  const hasher = new SecretHasher(PEPPER)
  const lines: string[] = []
  const sink = new Writable({
    write (chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''))
      done()
    }
  })
  const logger: FastifyBaseLogger = pino(loggerOptions('trace'), sink)
  const app = Fastify({ ...(logs ? { loggerInstance: logger } : { logger: false }) })
  await app.register(oauth2Plugin, { store, hasher, ...(tokenTtlMs !== undefined ? { tokenTtlMs } : {}) })
  t.after(async () => { await app.close() })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, store, hasher, clients: new ClientService(store, hasher), logs: lines }
}

let clientCount = 0
async function createClient (
  server: TokenServer, extra: Partial<NewClient> = {}
): Promise<{ client: Client, key: string }> {
  const created = await server.clients.create({ name: `rs-${++clientCount}`, integrations: '*', ...extra })
  secrets.add(created.key)
  return created
}

interface Answer {
  status: number
  headers: Headers
  text: string
  json: Record<string, unknown>
}

/** POSTs (by default) to the token endpoint; checks that the answer never carries a secret. */
async function call (
  url: string,
  { query = '?grant_type=client_credentials', form, body, headers = {}, method = 'POST' }:
  {
    query?: string, form?: Array<[string, string]>, body?: string, headers?: Record<string, string>, method?: string
  } = {}
): Promise<Answer> {
  const init: RequestInit = { method, headers }
  if (form !== undefined) init.body = new URLSearchParams(form)
  if (body !== undefined) init.body = body
  const res = await fetch(`${url}${TOKEN_PATH}${query}`, init)
  const text = await res.text()
  for (const secret of secrets) assert.ok(!text.includes(secret), 'a response body contains a client secret')
  return { status: res.status, headers: res.headers, text, json: text === '' ? {} : JSON.parse(text) as Record<string, unknown> }
}

function basic (id: string, secret: string): string {
  return 'Basic ' + Buffer.from(`${id}:${secret}`).toString('base64')
}

function assertNoStore (answer: Answer): void {
  assert.equal(answer.headers.get('cache-control'), 'no-store')
  assert.equal(answer.headers.get('pragma'), 'no-cache')
  assert.ok((answer.headers.get('x-request-id') ?? '') !== '', 'x-request-id is set')
}

/** An RFC 6749 5.2 error with exactly its two members. */
function assertOAuthError (answer: Answer, status: number, error: string, { basicChallenge = false } = {}): void {
  assert.equal(answer.status, status, answer.text)
  assert.match(answer.headers.get('content-type') ?? '', /^application\/json(;|$)/)
  assertNoStore(answer)
  assert.deepEqual(Object.keys(answer.json).sort(), ['error', 'error_description'])
  assert.equal(answer.json.error, error)
  assert.equal(typeof answer.json.error_description, 'string')
  assert.equal(answer.headers.get('www-authenticate'), basicChallenge ? 'Basic realm="gerbang"' : null)
}

/** The problem document every refusal of the token endpoint is (test/helpers/problem.ts). */
function assertTokenProblem (answer: Answer, status: number, code: string): void {
  assertProblem({ status: answer.status, headers: answer.headers, body: answer.text }, status, code, TOKEN_PATH)
}

/** Checks a successful answer against SATUSEHAT's shape and the store; returns the token. */
async function assertToken (
  server: TokenServer, answer: Answer, client: Client, before: number, ttlMs = DEFAULT_TOKEN_TTL_MS
): Promise<string> {
  const after = Date.now()
  assert.equal(answer.status, 200, answer.text)
  assert.match(answer.headers.get('content-type') ?? '', /^application\/json(;|$)/)
  assertNoStore(answer)
  const token = answer.json.access_token as string
  assert.match(token, /^gbt_[A-Za-z0-9_-]{43}$/)
  const issuedAt = Number(answer.json.issued_at)
  assert.ok(issuedAt >= before && issuedAt <= after, `issued_at ${issuedAt} is the time of the request`)
  assert.deepEqual(answer.json, {
    access_token: token,
    token_type: 'BearerToken',
    expires_in: String(Math.floor(ttlMs / 1000)),
    issued_at: String(issuedAt),
    client_id: client.id,
    application_name: client.name,
    organization_name: 'Gerbang',
    scope: '',
    status: 'approved',
    refresh_count: '0',
    developer: { email: '' },
    api_product_list: '[]',
    api_product_list_json: []
  })
  const resolved = await server.store.resolveToken(server.hasher.hash(token))
  assert.equal(resolved?.client.id, client.id)
  assert.ok(resolved.expiresAt !== undefined)
  assert.ok(Math.abs(resolved.expiresAt - (issuedAt + ttlMs)) < 1000, `token expires ${resolved.expiresAt - issuedAt} ms after issue, expected ${ttlMs}`)
  return token
}

// ---------------------------------------------------------------------------
// Issuing tokens

test('SATUSEHAT style: grant_type in the query, credentials in the form body, 200 with the token stored', async (t) => {
  const server = await startTokenServer(t)
  const { client, key } = await createClient(server)
  const before = Date.now()
  const answer = await call(server.url, { form: [['client_id', client.id], ['client_secret', key]] })
  assert.equal(answer.json.expires_in, '14399')
  await assertToken(server, answer, client, before)
})

test('RFC 6749 style: grant_type in the body, with a charset on the content type', async (t) => {
  const server = await startTokenServer(t)
  const { client, key } = await createClient(server)
  const before = Date.now()
  const answer = await call(server.url, {
    query: '',
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: client.id, client_secret: key }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' }
  })
  await assertToken(server, answer, client, before)
})

test('grant_type in both the query and the body is accepted when they agree', async (t) => {
  const server = await startTokenServer(t)
  const { client, key } = await createClient(server)
  const before = Date.now()
  const answer = await call(server.url, { form: [['grant_type', 'client_credentials'], ['client_id', client.id], ['client_secret', key]] })
  await assertToken(server, answer, client, before)
})

test('HTTP Basic client authentication, with and without an empty form body', async (t) => {
  const server = await startTokenServer(t)
  const { client, key } = await createClient(server)
  let before = Date.now()
  await assertToken(server, await call(server.url, { headers: { authorization: basic(client.id, key) } }), client,
    before)
  before = Date.now()
  await assertToken(server, await call(server.url, { form: [], headers: { authorization: basic(client.id, key) } }),
    client, before)
  before = Date.now()
  const lowerScheme = `basic ${Buffer.from(`${client.id}:${key}`).toString('base64')}`
  await assertToken(server, await call(server.url, { headers: { authorization: lowerScheme } }), client, before)
})

test('every token is new, and each one resolves to its client', async (t) => {
  const server = await startTokenServer(t)
  const { client, key } = await createClient(server)
  const form: Array<[string, string]> = [['client_id', client.id], ['client_secret', key]]
  let before = Date.now()
  const first = await assertToken(server, await call(server.url, { form }), client, before)
  before = Date.now()
  const second = await assertToken(server, await call(server.url, { form }), client, before)
  assert.notEqual(first, second)
})

test('a token never outlives its client: expires_in is cut to the client expiry', async (t) => {
  const server = await startTokenServer(t)
  const expiresAt = new Date(Date.now() + 5500).toISOString()
  const { client, key } = await createClient(server, { expiresAt })
  const answer = await call(server.url, { form: [['client_id', client.id], ['client_secret', key]] })
  assert.equal(answer.status, 200, answer.text)
  assert.ok(['4', '5'].includes(answer.json.expires_in as string), `expires_in ${String(answer.json.expires_in)}`)
  const resolved = await server.store.resolveToken(server.hasher.hash(answer.json.access_token as string))
  assert.ok(resolved?.expiresAt !== undefined && Math.abs(resolved.expiresAt - Date.parse(expiresAt)) < 1000)
})

test('a token issued on a rotated key in its grace period dies with that key', async (t) => {
  const server = await startTokenServer(t)
  const { client, key } = await createClient(server)
  const rotated = await server.clients.rotate(client.id, 3000)
  assert.ok(rotated !== undefined)
  secrets.add(rotated.key)
  const answer = await call(server.url, { form: [['client_id', client.id], ['client_secret', key]] })
  assert.equal(answer.status, 200, answer.text)
  assert.ok(['2', '3'].includes(answer.json.expires_in as string), `expires_in ${String(answer.json.expires_in)}`)
})

test('with tokenTtlMs 300 the token stops resolving once it expired', async (t) => {
  // The memory store reads expiry from Date.now(): a mocked Date (timers stay real) moves on at once.
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() })
  const server = await startTokenServer(t, { tokenTtlMs: 300 })
  const { client, key } = await createClient(server)
  const before = Date.now()
  const answer = await call(server.url, { form: [['client_id', client.id], ['client_secret', key]] })
  const token = await assertToken(server, answer, client, before, 300)
  assert.equal(answer.json.expires_in, '0')
  t.mock.timers.tick(299)
  assert.notEqual(await server.store.resolveToken(server.hasher.hash(token)), undefined, 'still valid just before it expires')
  t.mock.timers.tick(101)
  assert.equal(await server.store.resolveToken(server.hasher.hash(token)), undefined)
})

test('the plugin refuses a tokenTtlMs that is not a positive duration', async () => {
  for (const tokenTtlMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
    const app = Fastify({ logger: false })
    await assert.rejects(async () => {
      await app.register(oauth2Plugin, { store: new MemoryStore(), hasher: new SecretHasher(PEPPER), tokenTtlMs })
    }, /tokenTtlMs must be a positive number of milliseconds/)
    await app.close()
  }
})

// ---------------------------------------------------------------------------
// Refusals: RFC 6749 section 5.2

test('request errors answer 400 invalid_request or unsupported_grant_type', async (t) => {
  const server = await startTokenServer(t)
  const { client, key } = await createClient(server)
  const creds: Array<[string, string]> = [['client_id', client.id], ['client_secret', key]]
  const cases: Array<{
    name: string
    error: string
    query?: string
    form?: Array<[string, string]>
    body?: string
    headers?: Record<string, string>
  }> = [
    { name: 'grant_type missing', error: 'invalid_request', query: '', form: creds },
    { name: 'grant_type empty', error: 'invalid_request', query: '?grant_type=', form: creds },
    { name: 'grant_type password', error: 'unsupported_grant_type', query: '?grant_type=password', form: creds },
    { name: 'grant_type authorization_code in the body', error: 'unsupported_grant_type', query: '', form: [['grant_type', 'authorization_code'], ...creds] },
    { name: 'client_id missing', error: 'invalid_request', form: [['client_secret', key]] },
    { name: 'client_id empty', error: 'invalid_request', form: [['client_id', ''], ['client_secret', key]] },
    { name: 'client_secret missing', error: 'invalid_request', form: [['client_id', client.id]] },
    { name: 'no body and no credentials', error: 'invalid_request' },
    { name: 'client_id twice', error: 'invalid_request', form: [['client_id', client.id], ...creds] },
    { name: 'client_secret twice', error: 'invalid_request', form: [...creds, ['client_secret', key]] },
    { name: 'grant_type twice in the query', error: 'invalid_request', query: '?grant_type=client_credentials&grant_type=client_credentials', form: creds },
    { name: 'grant_type differing between query and body', error: 'invalid_request', form: [['grant_type', 'password'], ...creds] },
    { name: 'client_secret in the query string', error: 'invalid_request', query: `?grant_type=client_credentials&client_id=${client.id}&client_secret=${key}` },
    {
      name: 'a JSON body',
      error: 'invalid_request',
      body: JSON.stringify({ client_id: client.id, client_secret: key }),
      headers: { 'content-type': 'application/json' }
    },
    { name: 'a text body', error: 'invalid_request', body: `client_id=${client.id}&client_secret=${key}`, headers: { 'content-type': 'text/plain' } },
    { name: 'Basic and form credentials together', error: 'invalid_request', form: creds, headers: { authorization: basic(client.id, key) } },
    { name: 'Basic credentials without a colon', error: 'invalid_request', headers: { authorization: 'Basic ' + Buffer.from(client.id).toString('base64') } },
    { name: 'Basic credentials with an empty secret', error: 'invalid_request', headers: { authorization: basic(client.id, '') } }
  ]
  for (const c of cases) {
    await t.test(c.name, async () => {
      const answer = await call(server.url, {
        ...(c.query !== undefined ? { query: c.query } : {}),
        ...(c.form !== undefined ? { form: c.form } : {}),
        ...(c.body !== undefined ? { body: c.body } : {}),
        ...(c.headers !== undefined ? { headers: c.headers } : {})
      })
      assertOAuthError(answer, 400, c.error)
    })
  }
})

test('client authentication failures answer 401 invalid_client', async (t) => {
  const server = await startTokenServer(t)
  const { client, key } = await createClient(server)
  const other = await createClient(server)
  const unknownKey = generateKey()
  secrets.add(unknownKey)
  const cases: Array<{ name: string, id: string, secret: string }> = [
    { name: 'a secret that is not shaped like a key', id: client.id, secret: 'hunter2-not-a-key' },
    { name: 'an unknown key', id: client.id, secret: unknownKey },
    { name: 'the key of another client', id: client.id, secret: other.key },
    { name: 'an unknown client id', id: '00000000-0000-4000-8000-000000000000', secret: key },
    { name: 'a client id that differs in length', id: client.id + 'x', secret: key },
    { name: 'a client id that differs in case', id: client.id.toUpperCase(), secret: key }
  ]
  for (const c of cases) {
    await t.test(`${c.name}, in the form body`, async () => {
      const answer = await call(server.url, { form: [['client_id', c.id], ['client_secret', c.secret]] })
      assertOAuthError(answer, 401, 'invalid_client')
      assert.ok(!answer.text.includes(c.secret))
    })
    await t.test(`${c.name}, by HTTP Basic: WWW-Authenticate challenges with Basic`, async () => {
      const answer = await call(server.url, { headers: { authorization: basic(c.id, c.secret) } })
      assertOAuthError(answer, 401, 'invalid_client', { basicChallenge: true })
      assert.ok(!answer.text.includes(c.secret))
    })
  }
  await t.test('an Authorization scheme other than Basic', async () => {
    const answer = await call(server.url, { headers: { authorization: `Bearer ${key}` } })
    assertOAuthError(answer, 401, 'invalid_client', { basicChallenge: true })
  })
})

test('a revoked client gets invalid_client', async (t) => {
  const server = await startTokenServer(t)
  const { client, key } = await createClient(server)
  await server.clients.revoke(client.id)
  const answer = await call(server.url, { form: [['client_id', client.id], ['client_secret', key]] })
  assertOAuthError(answer, 401, 'invalid_client')
  assert.equal(answer.json.error_description, 'the client has been revoked')
  const byBasic = await call(server.url, { headers: { authorization: basic(client.id, key) } })
  assertOAuthError(byBasic, 401, 'invalid_client', { basicChallenge: true })
})

test('an expired client gets invalid_client', async (t) => {
  const server = await startTokenServer(t)
  const { client, key } = await createClient(server, { expiresAt: new Date(Date.now() - 60_000).toISOString() })
  const answer = await call(server.url, { form: [['client_id', client.id], ['client_secret', key]] })
  assertOAuthError(answer, 401, 'invalid_client')
  assert.match(answer.json.error_description as string, /^the client expired at /)
})

// ---------------------------------------------------------------------------
// Gateway errors: problem+json

test('a body over 8 KiB answers 413 PAYLOAD_TOO_LARGE as problem+json', async (t) => {
  const server = await startTokenServer(t)
  const { client, key } = await createClient(server)
  const answer = await call(server.url, { form: [['client_id', client.id], ['client_secret', key], ['padding', 'x'.repeat(9000)]] })
  assertTokenProblem(answer, 413, 'PAYLOAD_TOO_LARGE')
})

test('other methods answer 405 METHOD_NOT_ALLOWED with Allow: POST', async (t) => {
  const server = await startTokenServer(t)
  for (const method of ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
    const answer = await call(server.url, { method })
    assertTokenProblem(answer, 405, 'METHOD_NOT_ALLOWED')
    assert.equal(answer.headers.get('allow'), 'POST')
  }
  const head = await call(server.url, { method: 'HEAD' })
  assert.equal(head.status, 405)
  assert.equal(head.headers.get('allow'), 'POST')
})

test('neither the secret nor the token reaches a log line', async (t) => {
  const server = await startTokenServer(t, { logs: true })
  const { client, key } = await createClient(server)
  const ok = await call(server.url, { form: [['client_id', client.id], ['client_secret', key]] })
  assert.equal(ok.status, 200)
  const token = ok.json.access_token as string
  assert.equal((await call(server.url, { headers: { authorization: basic(client.id, key) } })).status, 200)
  assert.equal((await call(server.url, { form: [['client_id', 'someone-else'], ['client_secret', key]] })).status, 401)
  assert.equal((await call(server.url, { body: JSON.stringify({ client_secret: key }), headers: { 'content-type': 'application/json' } })).status, 400)
  assert.ok(server.logs.some((l) => l.includes('oauth2 token issued')), 'issuing a token is logged')
  for (const line of server.logs) {
    assert.ok(!line.includes(key), `a log line carries the secret: ${line}`)
    assert.ok(!line.includes(token), `a log line carries the token: ${line}`)
  }
})

test('no response body in this file carried a client secret', () => {
  // call() asserts it on every answer; this makes sure it had secrets to look for.
  assert.ok(secrets.size > 5)
})

// ---------------------------------------------------------------------------
// With the Redis store

async function redisServer (
  t: TestContext, tokenTtlMs?: number
): Promise<{ server: TokenServer, kill: () => Promise<void> }> {
  const redis = await startRedis(t, { own: true })
  const store = new RedisStore({ url: redis.url, prefix: redis.prefix })
  t.after(async () => { await store.close() })
  await storeConnected(store)
  const server = await startTokenServer(t, { store, ...(tokenTtlMs !== undefined ? { tokenTtlMs } : {}) })
  return { server, kill: redis.kill }
}

test('Redis store: tokens are issued and stored, revoked and expired clients refused', async (t) => {
  const { server } = await redisServer(t)
  const { client, key } = await createClient(server)
  let before = Date.now()
  await assertToken(server, await call(server.url, { form: [['client_id', client.id], ['client_secret', key]] }), client, before)
  before = Date.now()
  await assertToken(server, await call(server.url, { headers: { authorization: basic(client.id, key) } }), client,
    before)

  const expired = await createClient(server, { expiresAt: new Date(Date.now() - 1000).toISOString() })
  assertOAuthError(await call(server.url, { form: [['client_id', expired.client.id], ['client_secret', expired.key]] }), 401, 'invalid_client')

  await server.clients.revoke(client.id)
  assertOAuthError(await call(server.url, { form: [['client_id', client.id], ['client_secret', key]] }), 401, 'invalid_client')
})

test('Redis store: with tokenTtlMs 300 the token stops resolving once it expired', async (t) => {
  const { server } = await redisServer(t, 300)
  const { client, key } = await createClient(server)
  const before = Date.now()
  const token = await assertToken(server, await call(server.url, { form: [['client_id', client.id], ['client_secret', key]] }), client, before, 300)
  await sleep(400) // Redis expires the key on its own clock
  assert.equal(await server.store.resolveToken(server.hasher.hash(token)), undefined)
})

test('Redis store down: 503 STORE_UNAVAILABLE within 1 s, never 401', async (t) => {
  const { server, kill } = await redisServer(t)
  const { client, key } = await createClient(server)
  await kill()
  const form: Array<[string, string]> = [['client_id', client.id], ['client_secret', key]]
  for (const options of [{ form }, { headers: { authorization: basic(client.id, key) } }]) {
    const started = Date.now()
    const answer = await call(server.url, options)
    const elapsed = Date.now() - started
    assertTokenProblem(answer, 503, 'STORE_UNAVAILABLE')
    assert.ok(elapsed < 1000, `answered in ${elapsed} ms`)
  }
})
