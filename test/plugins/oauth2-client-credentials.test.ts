// The oauth2-client-credentials plugin: a token fetched once and shared, kept
// until expires_in - 60 s, dropped and fetched again after an upstream 401, and
// failures that never carry the client secret. First its hooks called
// directly, then through the gateway. Real servers on 127.0.0.1 only.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import type { IncomingMessage, ServerResponse } from 'node:http'
import pino from 'pino'
import type { Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import plugin from '../../plugins/oauth2-client-credentials.js'
import { PluginFailure, type PluginHooks, type UpstreamHeaders, type UpstreamRequest } from '../../src/upstream-plugins/types.js'
import { startFakeSatusehat, type FakeSatusehat } from '../helpers/satusehat.js'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { startGateway, type TestGateway } from '../helpers/gateway.js'
import { assertProblem, closedPort, json, send } from '../proxy/client.js'
import { trapUnhandled } from '../helpers/unhandled.js'
import { routesYaml } from '../helpers/routes.js'

const unhandled = trapUnhandled()

type Options = Static<typeof plugin.options>

// ---------------------------------------------------------------------------
// Helpers

class Headers implements UpstreamHeaders {
  readonly map = new Map<string, string>()
  constructor (init: Record<string, string> = {}) {
    for (const [name, value] of Object.entries(init)) this.map.set(name.toLowerCase(), value)
  }

  get (name: string): string | undefined { return this.map.get(name.toLowerCase()) }
  has (name: string): boolean { return this.map.has(name.toLowerCase()) }
  set (name: string, value: string): void { this.map.set(name.toLowerCase(), value) }
  delete (name: string): void { this.map.delete(name.toLowerCase()) }
}

/** An UpstreamRequest as the gateway hands it over; `attempt` is writable, as the gateway's is. */
interface FakeRequest extends UpstreamRequest {
  attempt: number
  readonly headers: Headers
}

function fakeRequest (headers: Record<string, string> = {}): FakeRequest {
  return {
    integration: 'satusehat',
    method: 'GET',
    path: '/Patient',
    query: 'identifier=https%3A%2F%2Ffhir.kemkes.go.id%2Fid%2Fnik%7C3601234567890001',
    headers: new Headers(headers),
    clientId: undefined,
    attempt: 0
  }
}

interface Created {
  hooks: Required<Pick<PluginHooks, 'onRequest' | 'retryOn'>>
  /** Every line the plugin logged, parsed. */
  logs: Array<Record<string, unknown>>
  /** The same lines as written. */
  logText: () => string
}

function create (options: Options): Created {
  const logs: Array<Record<string, unknown>> = []
  const lines: string[] = []
  const sink = new Writable({
    write (chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue
        lines.push(line)
        logs.push(JSON.parse(line) as Record<string, unknown>)
      }
      done()
    }
  })
  const hooks = plugin.create(options, { integration: 'satusehat', log: pino({ level: 'debug' }, sink) })
  assert.ok(hooks.onRequest !== undefined && hooks.retryOn !== undefined)
  return { hooks: { onRequest: hooks.onRequest, retryOn: hooks.retryOn }, logs, logText: () => lines.join('\n') }
}

async function fakeSatusehat (t: TestContext): Promise<FakeSatusehat> {
  const fake = await startFakeSatusehat()
  t.after(fake.close)
  return fake
}

function satusehatOptions (fake: FakeSatusehat, extra: Partial<Options> = {}): Options {
  return { tokenUrl: fake.tokenUrl, clientId: fake.clientId, clientSecret: fake.clientSecret, ...extra }
}

async function onRequest (created: Created, request: FakeRequest = fakeRequest()): Promise<FakeRequest> {
  await created.hooks.onRequest(request)
  return request
}

/** Runs onRequest and returns what it rejected with, failing if it did not. */
async function failure (created: Created, request: FakeRequest = fakeRequest()): Promise<PluginFailure> {
  try {
    await created.hooks.onRequest(request)
  } catch (err) {
    assert.ok(err instanceof PluginFailure, `expected a PluginFailure, got ${String(err)}`)
    assert.equal(request.headers.get('authorization'), undefined)
    return err
  }
  assert.fail('onRequest did not fail')
}

function assertNoSecret (text: string, fake: { clientSecret: string, issued?: string[] }): void {
  assert.ok(!text.includes(fake.clientSecret), `the client secret leaked: ${text}`)
  for (const token of fake.issued ?? []) assert.ok(!text.includes(token), `a token leaked: ${text}`)
}

/** An origin that records each request's body and answers a standard RFC 6749 token answer. */
async function startRfcTokenEndpoint (t: TestContext): Promise<{ origin: Origin, bodies: string[] }> {
  const bodies: string[] = []
  let n = 0
  const origin = await startOrigin((req: IncomingMessage, res: ServerResponse) => {
    const parts: Buffer[] = []
    req.on('data', (chunk: Buffer) => parts.push(chunk))
    req.on('end', () => {
      bodies.push(Buffer.concat(parts).toString('utf8'))
      res.writeHead(200, { 'content-type': 'application/json;charset=UTF-8', 'cache-control': 'no-store' })
      res.end(JSON.stringify({ access_token: `rfc-token-${++n}`, token_type: 'Bearer', expires_in: 3600 }))
    })
  })
  t.after(origin.close)
  return { origin, bodies }
}

// ---------------------------------------------------------------------------
// Options

test('options: the schema takes both styles and refuses unknown fields, bad URLs, empty credentials and bad durations', () => {
  const base = { tokenUrl: 'https://api-satusehat.kemkes.go.id/oauth2/v1/accesstoken', clientId: 'id', clientSecret: 'secret' }
  assert.equal(Value.Check(plugin.options, base), true)
  assert.equal(Value.Check(plugin.options, { ...base, style: 'satusehat', timeout: '10s' }), true)
  assert.equal(Value.Check(plugin.options, { ...base, style: 'rfc6749', clientAuth: 'body', scope: 'patient.read', timeout: '500ms' }), true)
  assert.equal(Value.Check(plugin.options, { ...base, tokenUrl: 'http://127.0.0.1:8080/token' }), true)

  assert.equal(Value.Check(plugin.options, { ...base, extra: 1 }), false)
  assert.equal(Value.Check(plugin.options, { ...base, tokenUrl: 'ftp://example.org/token' }), false)
  assert.equal(Value.Check(plugin.options, { ...base, tokenUrl: 'api-satusehat.kemkes.go.id/oauth2' }), false)
  assert.equal(Value.Check(plugin.options, { ...base, clientId: '' }), false)
  assert.equal(Value.Check(plugin.options, { ...base, clientSecret: '' }), false)
  assert.equal(Value.Check(plugin.options, { ...base, clientId: 12345 }), false)
  assert.equal(Value.Check(plugin.options, { ...base, style: 'basic' }), false)
  assert.equal(Value.Check(plugin.options, { ...base, clientAuth: 'header' }), false)
  assert.equal(Value.Check(plugin.options, { ...base, timeout: '10' }), false)
  assert.equal(Value.Check(plugin.options, { ...base, timeout: 10 }), false)
  const { clientSecret: _omitted, ...noSecret } = base
  assert.equal(Value.Check(plugin.options, noSecret), false)
})

test('options: check refuses a zero timeout and a tokenUrl that is not a URL, naming the option', () => {
  const base = { tokenUrl: 'https://example.org/token', clientId: 'id', clientSecret: 'secret' }
  assert.equal(plugin.check?.(base), undefined)
  assert.match(plugin.check?.({ ...base, timeout: '0s' }) ?? '', /^option 'timeout' must be a positive duration/)
  assert.match(plugin.check?.({ ...base, tokenUrl: 'http://exa mple.org/' }) ?? '', /^option 'tokenUrl' is not a URL/)
})

// ---------------------------------------------------------------------------
// The token request, SATUSEHAT's way and RFC 6749's

test('satusehat: grant_type in the query, the credentials in a form body; Bearer upstream, whatever token_type says', async (t) => {
  const fake = await fakeSatusehat(t)
  const created = create(satusehatOptions(fake))
  const request = await onRequest(created, fakeRequest({ authorization: 'Bearer the-clients-own-token' }))

  assert.equal(fake.tokenRequests.length, 1)
  const seen = fake.tokenRequests[0]!
  assert.equal(seen.method, 'POST')
  assert.equal(seen.url, '/oauth2/v1/accesstoken?grant_type=client_credentials')
  assert.equal(seen.contentType, 'application/x-www-form-urlencoded')
  assert.equal(seen.authorization, undefined)
  assert.deepEqual([...seen.form], [['client_id', fake.clientId], ['client_secret', fake.clientSecret]])
  assert.equal(seen.status, 200)
  assert.equal(fake.issued.length, 1)
  // The answer said token_type "BearerToken"; the upstream wants "Bearer".
  assert.equal(request.headers.get('authorization'), `Bearer ${fake.issued[0]}`)
  assertNoSecret(created.logText(), fake)
})

test('satusehat: a tokenUrl that already has grant_type in its query string gets it once', async (t) => {
  const fake = await fakeSatusehat(t)
  const created = create(satusehatOptions(fake, { tokenUrl: fake.tokenUrl + '?grant_type=client_credentials' }))
  await onRequest(created)
  assert.equal(fake.tokenRequests[0]?.url, '/oauth2/v1/accesstoken?grant_type=client_credentials')
})

test('rfc6749: grant_type and scope in the body, the client in HTTP Basic with each part form-encoded', async (t) => {
  const { origin, bodies } = await startRfcTokenEndpoint(t)
  const created = create({
    tokenUrl: origin.url + '/oauth/token',
    clientId: 'gerbang client',
    clientSecret: 'p@ss:w+rd/=',
    style: 'rfc6749',
    scope: 'patient.read'
  })
  const request = await onRequest(created)

  assert.equal(origin.seen.length, 1)
  const seen = origin.seen[0]!
  assert.equal(seen.method, 'POST')
  assert.equal(seen.url, '/oauth/token')
  assert.equal(seen.headers['content-type'], 'application/x-www-form-urlencoded')
  const basic = Buffer.from('gerbang+client:p%40ss%3Aw%2Brd%2F%3D', 'utf8').toString('base64')
  assert.equal(seen.headers.authorization, `Basic ${basic}`)
  assert.equal(bodies[0], 'grant_type=client_credentials&scope=patient.read')
  assert.equal(request.headers.get('authorization'), 'Bearer rfc-token-1')

  // expires_in as a number (3600) keeps it too.
  await onRequest(created)
  assert.equal(origin.seen.length, 1)
  assertNoSecret(created.logText(), { clientSecret: 'p@ss:w+rd/=', issued: ['rfc-token-1'] })
})

test('rfc6749 with clientAuth body: the credentials in the form, no Authorization header', async (t) => {
  const { origin, bodies } = await startRfcTokenEndpoint(t)
  const created = create({ tokenUrl: origin.url + '/oauth/token', clientId: 'gerbang', clientSecret: 's3cret', style: 'rfc6749', clientAuth: 'body' })
  await onRequest(created)
  assert.equal(origin.seen[0]?.headers.authorization, undefined)
  assert.equal(origin.seen[0]?.url, '/oauth/token')
  assert.equal(bodies[0], 'grant_type=client_credentials&client_id=gerbang&client_secret=s3cret')
})

// ---------------------------------------------------------------------------
// Caching and single flight

test('200 concurrent requests share one token request', async (t) => {
  const fake = await fakeSatusehat(t)
  const created = create(satusehatOptions(fake))
  const requests = Array.from({ length: 200 }, () => fakeRequest())
  await Promise.all(requests.map(async (r) => { await created.hooks.onRequest(r) }))
  assert.equal(fake.tokenRequests.length, 1)
  for (const r of requests) assert.equal(r.headers.get('authorization'), `Bearer ${fake.issued[0]}`)

  // And later requests use the cached token without waiting for anything.
  const later = fakeRequest()
  assert.equal(created.hooks.onRequest(later), undefined)
  assert.equal(later.headers.get('authorization'), `Bearer ${fake.issued[0]}`)
  assert.equal(fake.tokenRequests.length, 1)
})

test('a token is kept until expires_in - 60 s, then fetched again', async (t) => {
  // The plugin times its cache by Date.now(): a mocked Date moves on 1.1 s at once
  // (the timers stay real, so the token request still goes over HTTP).
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() })
  const fake = await fakeSatusehat(t)
  fake.expiresIn = '61' // kept for 1 s
  const created = create(satusehatOptions(fake))
  await onRequest(created)
  await onRequest(created)
  assert.equal(fake.tokenRequests.length, 1)
  t.mock.timers.tick(999)
  await onRequest(created)
  assert.equal(fake.tokenRequests.length, 1, 'still kept just before the second is over')
  t.mock.timers.tick(101)
  const request = await onRequest(created)
  assert.equal(fake.tokenRequests.length, 2)
  assert.equal(request.headers.get('authorization'), `Bearer ${fake.issued[1]}`)
  assert.notEqual(fake.issued[0], fake.issued[1])
})

test('a token that lives a minute or less is kept for half its life', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() })
  const fake = await fakeSatusehat(t)
  fake.expiresIn = '1' // kept for 500 ms
  const created = create(satusehatOptions(fake))
  await onRequest(created)
  await onRequest(created)
  assert.equal(fake.tokenRequests.length, 1)
  t.mock.timers.tick(600)
  await onRequest(created)
  assert.equal(fake.tokenRequests.length, 2)
})

test('an answer without expires_in, or with one that is not a number, is kept (5 minutes)', async (t) => {
  const fake = await fakeSatusehat(t)
  fake.expiresIn = undefined
  const created = create(satusehatOptions(fake))
  await onRequest(created)
  await onRequest(created)
  assert.equal(fake.tokenRequests.length, 1)

  fake.expiresIn = 'soon'
  const other = create(satusehatOptions(fake))
  await onRequest(other)
  await onRequest(other)
  assert.equal(fake.tokenRequests.length, 2)
})

// ---------------------------------------------------------------------------
// retryOn

test('retryOn: a 401 drops the token the request carried and asks for one more attempt; concurrent 401s fetch once', async (t) => {
  const fake = await fakeSatusehat(t)
  const created = create(satusehatOptions(fake))
  const { onRequest: hook, retryOn } = created.hooks
  const requests = Array.from({ length: 50 }, () => fakeRequest())
  await Promise.all(requests.map(async (r) => { await hook(r) }))
  assert.equal(fake.tokenRequests.length, 1)

  // Other statuses change nothing.
  assert.equal(retryOn(200, requests[0]!), false)
  assert.equal(retryOn(403, requests[0]!), false)
  assert.equal(retryOn(500, requests[0]!), false)
  await onRequest(created)
  assert.equal(fake.tokenRequests.length, 1)

  // Every request that carried the revoked token is sent again, with one fresh token.
  for (const r of requests) assert.equal(retryOn(401, r), true)
  for (const r of requests) r.attempt = 1
  await Promise.all(requests.map(async (r) => { await hook(r) }))
  assert.equal(fake.tokenRequests.length, 2)
  for (const r of requests) assert.equal(r.headers.get('authorization'), `Bearer ${fake.issued[1]}`)

  // A late 401 for a request that carried the old token leaves the new one alone.
  const stale = fakeRequest({ authorization: `Bearer ${fake.issued[0]}` })
  assert.equal(retryOn(401, stale), true)
  await onRequest(created)
  assert.equal(fake.tokenRequests.length, 2)

  // The second attempt is the last: a 401 then drops the token but asks for nothing more.
  assert.equal(retryOn(401, requests[0]!), false)
  const next = await onRequest(created)
  assert.equal(fake.tokenRequests.length, 3)
  assert.equal(next.headers.get('authorization'), `Bearer ${fake.issued[2]}`)
})

// ---------------------------------------------------------------------------
// Failures

test('token endpoint down: a PluginFailure that says so, not a timeout', async (t) => {
  const port = await closedPort()
  const secret = 'never-show-this-secret'
  const created = create({ tokenUrl: `http://127.0.0.1:${port}/oauth2/v1/accesstoken`, clientId: 'id', clientSecret: secret })
  const err = await failure(created)
  assert.equal(err.timeout, false)
  assert.equal(err.message, 'the token endpoint refused the connection')
  assert.deepEqual(created.logs.map((l) => [l.level, l.code]), [[40, 'ECONNREFUSED']])
  assertNoSecret(created.logText(), { clientSecret: secret })
})

test('a failure is shared by the requests waiting for it and not kept: the next request asks again', async (t) => {
  const fake = await fakeSatusehat(t)
  fake.tokenMode = { status: 500 }
  const created = create(satusehatOptions(fake))
  const results = await Promise.allSettled(Array.from({ length: 10 }, async () => await onRequest(created)))
  assert.equal(fake.tokenRequests.length, 1)
  const reasons = results.map((r) => (r as PromiseRejectedResult).reason as unknown)
  assert.ok(reasons.every((r) => r === reasons[0]))
  assert.ok(reasons[0] instanceof PluginFailure)
  assert.equal(reasons[0].message, 'the token endpoint answered 500')

  fake.tokenMode = 'ok'
  const request = await onRequest(created)
  assert.equal(fake.tokenRequests.length, 2)
  assert.equal(request.headers.get('authorization'), `Bearer ${fake.issued[0]}`)
})

test('refused credentials: the status only, never the secret or the answer that echoes it', async (t) => {
  const fake = await fakeSatusehat(t)
  const created = create(satusehatOptions(fake, { clientSecret: fake.clientSecret + '-wrong' }))
  const err = await failure(created)
  assert.equal(fake.tokenRequests[0]?.status, 401)
  assert.equal(err.message, 'the token endpoint answered 401')
  assert.equal(err.timeout, false)
  assert.equal(err.cause, undefined)
  assert.deepEqual(created.logs.map((l) => [l.level, l.status]), [[40, 401]])
  assertNoSecret(created.logText(), fake)
  assert.ok(!created.logText().includes('invalid_client'))
})

test('answers that carry no token: not JSON, no access_token, too large', async (t) => {
  const fake = await fakeSatusehat(t)
  const created = create(satusehatOptions(fake))

  fake.tokenMode = 'not-json'
  let err = await failure(created)
  assert.equal(err.message, 'the token endpoint answered 200 with a body that is not JSON')
  assert.ok(!err.message.includes(fake.clientSecret))

  fake.tokenMode = 'no-token'
  err = await failure(created)
  assert.equal(err.message, 'the token endpoint answered 200 without a usable access_token')

  fake.tokenMode = 'huge'
  err = await failure(created)
  assert.equal(err.message, "the token endpoint's answer is larger than 64 KiB")

  assert.equal(fake.tokenRequests.length, 3)
  assert.ok(created.logs.every((l) => l.level === 40 && l.status === 200))
  assertNoSecret(created.logText(), fake)
})

test('a slow token endpoint: a PluginFailure with timeout true once the timeout passes', async (t) => {
  const fake = await fakeSatusehat(t)
  fake.tokenDelayMs = 3000
  const created = create(satusehatOptions(fake, { timeout: '200ms' }))
  const started = Date.now()
  const err = await failure(created)
  const elapsed = Date.now() - started
  assert.equal(err.timeout, true)
  assert.equal(err.message, 'the token endpoint did not answer within 200ms')
  assert.ok(elapsed >= 190 && elapsed < 1500, `failed after ${elapsed} ms`)
  assert.deepEqual(created.logs.map((l) => [l.level, l.code]), [[40, 'timeout']])
})

// ---------------------------------------------------------------------------
// Through the gateway

const PATIENT = '/satusehat/Patient?identifier=https%3A%2F%2Ffhir.kemkes.go.id%2Fid%2Fnik%7C3601234567890001'

function satusehatRoutes (upstream: string, extra = ''): string {
  return routesYaml({
    defaults: { auth: 'none' },
    integrations: {
      satusehat: {
        upstream,
        plugins: [`oauth2-client-credentials: { tokenUrl: \${SS_TOKEN_URL}, clientId: \${SS_CLIENT_ID}, clientSecret: \${SS_CLIENT_SECRET}${extra} }`]
      }
    }
  })
}

async function gatewayFor (t: TestContext, fake: FakeSatusehat, tokenUrl = fake.tokenUrl, extra = ''): Promise<TestGateway> {
  return await startGateway(t, satusehatRoutes(fake.fhirUrl, extra), {
    SS_TOKEN_URL: tokenUrl,
    SS_CLIENT_ID: fake.clientId,
    SS_CLIENT_SECRET: fake.clientSecret
  })
}

function assertLogsClean (gw: TestGateway, fake: FakeSatusehat): void {
  assertNoSecret(JSON.stringify(gw.logs), fake)
}

test('gateway: 200 concurrent requests, one token request, the plugin\'s Authorization replaces the client\'s', async (t) => {
  const fake = await fakeSatusehat(t)
  const gw = await gatewayFor(t, fake)
  const answers = await Promise.all(Array.from({ length: 200 }, async () =>
    await send(gw.url, PATIENT, { headers: { authorization: 'Bearer the-clients-own-token' } })))
  for (const answer of answers) assert.equal(answer.status, 200, answer.body.toString('utf8'))
  assert.equal(json(answers[0]!).resourceType, 'Bundle')
  assert.equal(fake.tokenRequests.length, 1)
  assert.equal(fake.fhirRequests.length, 200)
  for (const seen of fake.fhirRequests) {
    assert.equal(seen.url, '/fhir-r4/v1/Patient?identifier=https%3A%2F%2Ffhir.kemkes.go.id%2Fid%2Fnik%7C3601234567890001')
    assert.equal(seen.authorization, `Bearer ${fake.issued[0]}`)
    assert.equal(seen.valid, true)
  }
  assertLogsClean(gw, fake)
})

test('gateway: a revoked token meets one upstream 401, one refresh and one retry; the client gets 200', async (t) => {
  const fake = await fakeSatusehat(t)
  const gw = await gatewayFor(t, fake)
  assert.equal((await send(gw.url, PATIENT)).status, 200)
  assert.equal(fake.tokenRequests.length, 1)
  assert.equal(fake.fhirRequests.length, 1)

  fake.revokeAll()
  const answer = await send(gw.url, PATIENT)
  assert.equal(answer.status, 200, answer.body.toString('utf8'))
  assert.equal(json(answer).resourceType, 'Bundle')
  assert.equal(fake.tokenRequests.length, 2)
  assert.deepEqual(fake.fhirRequests.slice(1).map((r) => [r.authorization, r.valid]), [
    [`Bearer ${fake.issued[0]}`, false],
    [`Bearer ${fake.issued[1]}`, true]
  ])
  assertLogsClean(gw, fake)
})

test('gateway: 20 concurrent requests after a revocation share one refresh; each one refused is retried once', async (t) => {
  const fake = await fakeSatusehat(t)
  const gw = await gatewayFor(t, fake)
  assert.equal((await send(gw.url, PATIENT)).status, 200)
  fake.revokeAll()
  const answers = await Promise.all(Array.from({ length: 20 }, async () => await send(gw.url, PATIENT)))
  for (const answer of answers) assert.equal(answer.status, 200, answer.body.toString('utf8'))
  assert.equal(fake.tokenRequests.length, 2)
  // How many were sent before the first 401 dropped the token depends on
  // timing; each of those, and only those, was sent once more.
  const refused = fake.fhirRequests.filter((r) => !r.valid)
  assert.ok(refused.length >= 1)
  for (const r of refused) assert.equal(r.authorization, `Bearer ${fake.issued[0]}`)
  assert.equal(fake.fhirRequests.length, 1 + 20 + refused.length)
  const accepted = fake.fhirRequests.slice(1).filter((r) => r.valid)
  assert.equal(accepted.length, 20)
  for (const r of accepted) assert.equal(r.authorization, `Bearer ${fake.issued[1]}`)
  assertLogsClean(gw, fake)
})

test('gateway: a token past expires_in - 60 s is replaced before the upstream refuses it', async (t) => {
  // Date mocked (timers real), as in the plugin's own tests: 1.1 s pass at once.
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() })
  const fake = await fakeSatusehat(t)
  fake.expiresIn = '61'
  const gw = await gatewayFor(t, fake)
  assert.equal((await send(gw.url, PATIENT)).status, 200)
  assert.equal((await send(gw.url, PATIENT)).status, 200)
  assert.equal(fake.tokenRequests.length, 1)
  t.mock.timers.tick(1100)
  assert.equal((await send(gw.url, PATIENT)).status, 200)
  assert.equal(fake.tokenRequests.length, 2)
  assert.deepEqual(fake.fhirRequests.map((r) => r.authorization), [
    `Bearer ${fake.issued[0]}`, `Bearer ${fake.issued[0]}`, `Bearer ${fake.issued[1]}`
  ])
  assert.ok(fake.fhirRequests.every((r) => r.valid))
  assertLogsClean(gw, fake)
})

test('gateway: token endpoint down is a 502 UPSTREAM_AUTH_FAILED naming the plugin, without the secret', async (t) => {
  const fake = await fakeSatusehat(t)
  const port = await closedPort()
  const gw = await gatewayFor(t, fake, `http://127.0.0.1:${port}/oauth2/v1/accesstoken`)
  const answer = await send(gw.url, PATIENT)
  const problem = assertProblem(answer, 502, 'UPSTREAM_AUTH_FAILED')
  assert.equal(problem.plugin, 'oauth2-client-credentials')
  assert.match(String(problem.detail), /the token endpoint refused the connection/)
  assertNoSecret(answer.body.toString('utf8'), fake)
  assert.equal(fake.fhirRequests.length, 0)
  assertLogsClean(gw, fake)
})

test('gateway: refused credentials are a 502 that carries neither the secret nor the endpoint\'s answer', async (t) => {
  const fake = await fakeSatusehat(t)
  fake.tokenMode = { status: 401 }
  const gw = await gatewayFor(t, fake)
  const answer = await send(gw.url, PATIENT)
  const problem = assertProblem(answer, 502, 'UPSTREAM_AUTH_FAILED')
  assert.equal(problem.plugin, 'oauth2-client-credentials')
  assert.match(String(problem.detail), /the token endpoint answered 401/)
  assertNoSecret(answer.body.toString('utf8'), fake)
  assert.ok(!answer.body.toString('utf8').includes('invalid_client'))
  assert.equal(fake.fhirRequests.length, 0)
  assertLogsClean(gw, fake)
})

test('gateway: a token endpoint slower than the plugin\'s timeout is a 504 UPSTREAM_TIMEOUT', async (t) => {
  const fake = await fakeSatusehat(t)
  fake.tokenDelayMs = 3000
  const gw = await gatewayFor(t, fake, fake.tokenUrl, ', timeout: 300ms')
  const answer = await send(gw.url, PATIENT)
  const problem = assertProblem(answer, 504, 'UPSTREAM_TIMEOUT')
  assert.equal(problem.plugin, 'oauth2-client-credentials')
  assert.equal(fake.fhirRequests.length, 0)
  assertLogsClean(gw, fake)
})

test('no unhandled rejection or exception escaped', () => {
  assert.deepEqual(unhandled, [])
})
