// The oauth2-client-credentials plugin, its hooks called directly: the token
// dropped and fetched again after an upstream 401, and failures that never
// carry the client secret. Real servers on 127.0.0.1 only.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { PluginFailure } from '../../src/upstream-plugins/types.js'
import { closedPort } from '../proxy/client.js'
import { trapUnhandled } from '../helpers/unhandled.js'
import {
  assertNoSecret, create, fakeRequest, fakeSatusehat, onRequest, satusehatOptions, type Created, type FakeRequest
} from './oauth2-client-credentials-fixtures.js'

// The check test/plugins/oauth2-client-credentials-gateway.test.ts ends with, made once these tests have run.
const unhandled = trapUnhandled()
after(() => { assert.deepEqual(unhandled, [], 'no unhandled rejection or exception escaped') })

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
