// What the token endpoint tests (test/auth/oauth2-*.test.ts) share: a gateway
// with only the oauth2 plugin on 127.0.0.1, clients created through
// ClientService, and the checks of an answer: SATUSEHAT's token shape, an
// RFC 6749 error, a problem document. Every call() also checks that no client
// secret a test created comes back in a response body.
import { type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import Fastify, { type FastifyBaseLogger } from 'fastify'
import pino from 'pino'
import { ClientService, type NewClient } from '../../src/auth/clients.js'
import { DEFAULT_TOKEN_TTL_MS, oauth2Plugin, TOKEN_PATH } from '../../src/auth/oauth2.js'
import { SecretHasher } from '../../src/auth/secrets.js'
import { loggerOptions } from '../../src/logging.js'
import { MemoryStore } from '../../src/store/memory-store.js'
import { RedisStore } from '../../src/store/redis-store.js'
import type { Client, Store } from '../../src/store/types.js'
import { startRedis, storeConnected } from '../helpers/redis.js'
import { assertProblem } from '../helpers/problem.js'

export const PEPPER = 'oauth2-test-pepper-0123456789'

/** Every secret a test created: no response body may ever contain one. */
export const secrets = new Set<string>()

export interface TokenServer {
  url: string
  store: Store
  hasher: SecretHasher
  clients: ClientService
  /** Every JSON line logged, when started with `logs: true`. */
  logs: string[]
}

export async function startTokenServer (
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
export async function createClient (
  server: TokenServer, extra: Partial<NewClient> = {}
): Promise<{ client: Client, key: string }> {
  const created = await server.clients.create({ name: `rs-${++clientCount}`, integrations: '*', ...extra })
  secrets.add(created.key)
  return created
}

export interface Answer {
  status: number
  headers: Headers
  text: string
  json: Record<string, unknown>
}

/** POSTs (by default) to the token endpoint; checks that the answer never carries a secret. */
export async function call (
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

export function basic (id: string, secret: string): string {
  return 'Basic ' + Buffer.from(`${id}:${secret}`).toString('base64')
}

function assertNoStore (answer: Answer): void {
  assert.equal(answer.headers.get('cache-control'), 'no-store')
  assert.equal(answer.headers.get('pragma'), 'no-cache')
  assert.ok((answer.headers.get('x-request-id') ?? '') !== '', 'x-request-id is set')
}

/** An RFC 6749 5.2 error with exactly its two members. */
export function assertOAuthError (
  answer: Answer, status: number, error: string, { basicChallenge = false } = {}
): void {
  assert.equal(answer.status, status, answer.text)
  assert.match(answer.headers.get('content-type') ?? '', /^application\/json(;|$)/)
  assertNoStore(answer)
  assert.deepEqual(Object.keys(answer.json).sort(), ['error', 'error_description'])
  assert.equal(answer.json.error, error)
  assert.equal(typeof answer.json.error_description, 'string')
  assert.equal(answer.headers.get('www-authenticate'), basicChallenge ? 'Basic realm="gerbang"' : null)
}

/** The problem document every refusal of the token endpoint is (test/helpers/problem.ts). */
export function assertTokenProblem (answer: Answer, status: number, code: string): void {
  assertProblem({ status: answer.status, headers: answer.headers, body: answer.text }, status, code, TOKEN_PATH)
}

/** Checks a successful answer against SATUSEHAT's shape and the store; returns the token. */
export async function assertToken (
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

/** The token server on a RedisStore over a redis-server of its own, which the test may kill. */
export async function redisServer (
  t: TestContext, tokenTtlMs?: number
): Promise<{ server: TokenServer, kill: () => Promise<void> }> {
  const redis = await startRedis(t, { own: true })
  const store = new RedisStore({ url: redis.url, prefix: redis.prefix })
  t.after(async () => { await store.close() })
  await storeConnected(store)
  const server = await startTokenServer(t, { store, ...(tokenTtlMs !== undefined ? { tokenTtlMs } : {}) })
  return { server, kill: redis.kill }
}
