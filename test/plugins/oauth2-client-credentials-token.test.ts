// The oauth2-client-credentials plugin, its hooks called directly: its options,
// the token request (SATUSEHAT's way and RFC 6749's), and a token fetched once
// and shared, kept until expires_in - 60 s. Real servers on 127.0.0.1 only.
import { test, after, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Value } from '@sinclair/typebox/value'
import plugin from '../../plugins/oauth2-client-credentials.js'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { trapUnhandled } from '../helpers/unhandled.js'
import { assertNoSecret, create, fakeRequest, fakeSatusehat, onRequest, satusehatOptions } from './oauth2-client-credentials-fixtures.js'

// The check test/plugins/oauth2-client-credentials-gateway.test.ts ends with, made once these tests have run.
const unhandled = trapUnhandled()
after(() => { assert.deepEqual(unhandled, [], 'no unhandled rejection or exception escaped') })

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
