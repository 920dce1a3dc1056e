// The bpjs-vclaim plugin: its hooks on their own, then through the gateway
// against a fake BPJS VClaim upstream (test/helpers/bpjs.ts) on 127.0.0.1.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createCipheriv, createHash } from 'node:crypto'
import pino from 'pino'
import { Value } from '@sinclair/typebox/value'
import type { Static } from '@sinclair/typebox'
import LZString from 'lz-string'
import definition from '../../plugins/bpjs-vclaim.js'
import { PluginFailure, type PluginHooks, type UpstreamHeaders, type UpstreamRequest, type UpstreamResponse } from '../../src/upstream-plugins/types.js'
import { bpjsEncrypt, bpjsSignature, peserta, startFakeBpjs, type FakeBpjs } from '../helpers/bpjs.js'
import { startGateway, type TestGateway } from '../helpers/gateway.js'
import type { Problem } from '../helpers/problem.js'
import { routesYaml } from '../helpers/routes.js'

type Options = Static<typeof definition.options>

const CONS_ID = '27952'
const SECRET = 'Rh4s-1a9f3cBPJSuji7Q'
const USER_KEY = 'uk7d1e0c9a4b2f48e6a1c3d5'

// ---------------------------------------------------------------------------
// Hooks on their own, with small fakes of the request and response objects

class FakeHeaders implements UpstreamHeaders {
  readonly map = new Map<string, string>()
  constructor (init: Record<string, string> = {}) {
    for (const [k, v] of Object.entries(init)) this.set(k, v)
  }

  get (name: string): string | undefined { return this.map.get(name.toLowerCase()) }
  has (name: string): boolean { return this.map.has(name.toLowerCase()) }
  set (name: string, value: string): void { this.map.set(name.toLowerCase(), value) }
  delete (name: string): void { this.map.delete(name.toLowerCase()) }
}

function fakeRequest (headers: Record<string, string> = {}): UpstreamRequest & { headers: FakeHeaders } {
  return {
    integration: 'bpjs',
    method: 'GET',
    path: '/vclaim-rest/Peserta/nokartu/0001234567890/tglSEP/2025-01-15',
    query: '',
    headers: new FakeHeaders(headers),
    clientId: undefined,
    attempt: 0
  }
}

function fakeResponse (body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }, status = 200): UpstreamResponse {
  return { status, headers: new FakeHeaders(headers), body: Buffer.isBuffer(body) ? body : Buffer.from(body) }
}

function create (options: Options): PluginHooks {
  return definition.create(options, { integration: 'bpjs', log: pino({ level: 'silent' }) })
}

/** Runs onRequest, then onResponse on an answer built with the timestamp the request carried. */
async function roundTrip (
  hooks: PluginHooks, answer: (timestamp: string) => string, headers?: Record<string, string>
): Promise<UpstreamResponse> {
  const request = fakeRequest()
  await hooks.onRequest?.(request)
  const response = fakeResponse(answer(request.headers.get('x-timestamp') ?? ''), headers)
  assert.ok(hooks.onResponse !== undefined)
  await hooks.onResponse(response, request)
  return response
}

/** Runs `hook` (which may throw or reject) and returns its PluginFailure, checking what its message must not say. */
async function rejects (hook: () => unknown, ...forbidden: string[]): Promise<PluginFailure> {
  let caught: unknown
  try {
    await hook()
  } catch (err) {
    caught = err
  }
  assert.ok(caught instanceof PluginFailure, `expected a PluginFailure, got ${String(caught)}`)
  assert.equal(caught.timeout, false)
  assert.match(caught.message, /^could not decrypt the response of BPJS: /)
  for (const s of forbidden) assert.ok(!caught.message.includes(s), 'the message leaks a secret or the ciphertext')
  assert.equal(caught.cause, undefined)
  return caught
}

test('the options schema takes digits or an integer consId and refuses anything else', () => {
  assert.equal(definition.name, 'bpjs-vclaim')
  assert.equal(definition.responseBodyLimit, 10 * 1024 * 1024)
  const ok = (o: unknown): boolean => Value.Check(definition.options, o)
  assert.ok(ok({ consId: '01234', secret: 's' }))
  assert.ok(ok({ consId: 1234, secret: 's', userKey: 'k', decrypt: true }))
  assert.ok(!ok({ consId: '12a4', secret: 's' }), 'consId must be digits')
  assert.ok(!ok({ consId: 12.5, secret: 's' }))
  assert.ok(!ok({ consId: -1, secret: 's' }))
  assert.ok(!ok({ consId: '1234', secret: '' }), 'secret must not be empty')
  assert.ok(!ok({ consId: '1234' }), 'secret is required')
  assert.ok(!ok({ secret: 's' }), 'consId is required')
  assert.ok(!ok({ consId: '1234', secret: 's', userKey: '' }))
  assert.ok(!ok({ consId: '1234', secret: 's', decrypt: 'yes' }))
  assert.ok(!ok({ consId: '1234', secret: 's', extra: 1 }), 'additionalProperties: false')
})

test('onRequest signs as BPJS does (a vector computed with openssl) and sets every header', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_700_000_000_500 })
  const hooks = create({ consId: 1234, secret: 'pwd', userKey: 'uk', decrypt: true })
  const request = fakeRequest({ 'x-signature': 'from-the-client', user_key: 'client-key', 'accept-encoding': 'gzip, br' })
  await hooks.onRequest?.(request)
  // printf '%s' '1234&1700000000' | openssl dgst -sha256 -hmac pwd -binary | base64
  assert.deepEqual(Object.fromEntries(request.headers.map), {
    'x-cons-id': '1234',
    'x-timestamp': '1700000000',
    'x-signature': 'QbAKTP54Su+BEvo9Ks0zhW27zsJAjQNNXGMcns5eMz0=',
    user_key: 'uk',
    'accept-encoding': 'identity'
  })

  // A second attempt (a retryOn elsewhere in the chain) is signed afresh.
  t.mock.timers.tick(5000)
  await hooks.onRequest?.(request)
  assert.equal(request.headers.get('x-timestamp'), '1700000005')
  assert.equal(request.headers.get('x-signature'), bpjsSignature('1234', 'pwd', '1700000005'))
})

test('onRequest uses the current Unix time in seconds', async () => {
  const hooks = create({ consId: CONS_ID, secret: SECRET, userKey: USER_KEY })
  const request = fakeRequest()
  await hooks.onRequest?.(request)
  const timestamp = request.headers.get('x-timestamp') ?? ''
  assert.match(timestamp, /^\d{10}$/)
  assert.ok(Math.abs(Number(timestamp) - Date.now() / 1000) <= 2)
  assert.equal(request.headers.get('x-signature'), bpjsSignature(CONS_ID, SECRET, timestamp))
  assert.equal(request.headers.get('user_key'), USER_KEY)
  assert.equal(request.headers.get('accept-encoding'), undefined, 'no decrypt: the encoding is left alone')
})

test('without userKey a client-sent user_key is dropped; without decrypt there is no onResponse', async () => {
  const hooks = create({ consId: CONS_ID, secret: SECRET })
  const request = fakeRequest({ user_key: 'chosen-by-the-client', 'accept-encoding': 'gzip' })
  await hooks.onRequest?.(request)
  assert.equal(request.headers.has('user_key'), false)
  assert.equal(request.headers.get('accept-encoding'), 'gzip')
  assert.equal(hooks.onResponse, undefined)
  assert.equal(hooks.retryOn, undefined)
})

test('onResponse decrypts a ciphertext made with openssl', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_700_000_000_000 })
  // key = SHA-256('1234pwd1700000000'); iv = its first 16 bytes
  assert.equal(createHash('sha256').update('1234pwd1700000000').digest('hex'), '7b426539e1dda2e8eced60cdc7415cb59ab492ea549fbdccaa4f9380d2957dd5')
  // compressToEncodedURIComponent('{"noKartu":"0001234567890"}') | openssl enc -aes-256-cbc -K <key> -iv <iv> | base64
  const ciphertext = 'V6Lg4dKYOM+25iFHi3qOwsBdXlx70sKrTVCQ9pD9/d72ALdIyc5WNahPI/auSeVnBJSYSV0DB0pO4mmy7r1hCg=='
  const hooks = create({ consId: '1234', secret: 'pwd', decrypt: true })
  const response = await roundTrip(hooks, () => JSON.stringify({ metaData: { code: '200', message: 'OK' }, response: ciphertext }),
    { 'content-type': 'text/html' })
  assert.equal(response.body.toString(), '{"metaData":{"code":"200","message":"OK"},"response":{"noKartu":"0001234567890"}}')
  assert.equal(response.headers.get('content-type'), 'application/json')
})

test('onResponse round trip with the fake upstream\'s encryption', async () => {
  const hooks = create({ consId: CONS_ID, secret: SECRET, userKey: USER_KEY, decrypt: true })
  const payload = peserta('0001234567890', '2025-01-15')
  const response = await roundTrip(hooks, (ts) => JSON.stringify({
    metaData: { code: '200', message: 'OK' },
    response: bpjsEncrypt(payload, CONS_ID, SECRET, ts)
  }))
  assert.deepEqual(JSON.parse(response.body.toString()), { metaData: { code: '200', message: 'OK' }, response: payload })
})

test('onResponse passes on answers that are not encrypted envelopes, byte for byte', async () => {
  const hooks = create({ consId: CONS_ID, secret: SECRET, decrypt: true })
  const unchanged: Array<[body: string, contentType: string, status: number]> = [
    ['{"metaData":{"code":"201","message":"Peserta tidak ditemukan"},"response":null}', 'application/json', 200],
    ['{"metaData":{"code":"200","message":"OK"}}', 'application/json', 200],
    ['{"metaData":{"code":"200","message":"OK"},"response":{"already":"plain"}}', 'application/json', 200],
    ['{"metaData":{"code":"200","message":"OK"},"response":""}', 'application/json', 200],
    ['{"response":"not-a-vclaim-envelope"}', 'application/json', 200],
    ['[1,2,3]', 'application/json', 200],
    ['<html>Service Unavailable</html>', 'text/html', 200],
    ['{"metaData": broken', 'application/json', 200],
    ['{"metaData":{"code":"500","message":"error"},"response":"Internal Server Error"}', 'application/json', 500]
  ]
  for (const [body, contentType, status] of unchanged) {
    const request = fakeRequest()
    await hooks.onRequest?.(request)
    const response = fakeResponse(body, { 'content-type': contentType }, status)
    await hooks.onResponse?.(response, request)
    assert.equal(response.body.toString(), body)
    assert.equal(response.headers.get('content-type'), contentType)
  }
})

test('a corrupt or wrongly keyed answer is a PluginFailure that names no secret', async () => {
  const hooks = create({ consId: CONS_ID, secret: SECRET, userKey: USER_KEY, decrypt: true })
  const envelope = (response: string): string => JSON.stringify({ metaData: { code: '200', message: 'OK' }, response })
  const keyOf = (ts: string): string[] => {
    const key = createHash('sha256').update(CONS_ID + SECRET + ts).digest()
    return [key.toString('hex'), key.toString('base64'), key.subarray(0, 16).toString('hex')]
  }
  const corrupt = Buffer.from('this is not a ciphertext block!!').toString('base64')
  const cases: Array<[name: string, make: (ts: string) => string, reason: RegExp]> = [
    // 1 in 256 random blocks happens to end in valid padding; a later stage then fails.
    ['not ciphertext', () => corrupt, /AES-256-CBC decryption failed|LZ-string|not JSON/],
    ['not even whole blocks', () => 'AAAA', /AES-256-CBC decryption failed/],
    ['another secret', (ts) => bpjsEncrypt({ a: 1 }, CONS_ID, 'another-secret', ts), /AES-256-CBC decryption failed|LZ-string|not JSON/],
    ['not LZ-string data', (ts) => encryptRaw('!!!', ts), /not LZ-string data/],
    ['not JSON', (ts) => encryptRaw(LZString.compressToEncodedURIComponent('Siti Aminah, 3604010101900001'), ts), /not JSON/]
  ]
  for (const [name, make, reason] of cases) {
    const request = fakeRequest()
    await hooks.onRequest?.(request)
    const ts = request.headers.get('x-timestamp') ?? ''
    const ciphertext = make(ts)
    const err = await rejects(() => hooks.onResponse?.(fakeResponse(envelope(ciphertext)), request),
      SECRET, USER_KEY, ciphertext, ...keyOf(ts))
    assert.match(err.message, reason, name)
    assert.ok(!err.message.includes('3604010101900001'), 'the decrypted data stays out of the message')
  }
})

test('a compressed answer, although identity was asked for, is a PluginFailure', async () => {
  const hooks = create({ consId: CONS_ID, secret: SECRET, decrypt: true })
  const err = await rejects(() => roundTrip(hooks, (ts) => JSON.stringify({ metaData: { code: '200' }, response: bpjsEncrypt({ a: 1 }, CONS_ID, SECRET, ts) }),
    { 'content-type': 'application/json', 'content-encoding': 'gzip' }), SECRET)
  assert.match(err.message, /Content-Encoding gzip/)
})

/** AES-256-CBC of `text` with the BPJS key for `ts`: a valid ciphertext of something that is not a VClaim payload. */
function encryptRaw (text: string, ts: string): string {
  // bpjsEncrypt compresses JSON; these cases need to choose the plaintext itself.
  const key = createHash('sha256').update(CONS_ID + SECRET + ts).digest()
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16))
  return Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]).toString('base64')
}

// ---------------------------------------------------------------------------
// Through the gateway (needs the core's plugin support in src/)

const ENV = { BPJS_CONS_ID: CONS_ID, BPJS_SECRET: SECRET, BPJS_USER_KEY: USER_KEY }
const CARD_PATH = '/bpjs/Peserta/nokartu/0001234567890/tglSEP/2025-01-15'

async function startFake (t: TestContext): Promise<FakeBpjs> {
  const fake = await startFakeBpjs({ consId: CONS_ID, secret: SECRET, userKey: USER_KEY })
  t.after(async () => { await fake.close() })
  return fake
}

// routes.yaml's own ${VAR} references, expanded from the env given to
// startGateway: in block style, bare in a flow mapping, and quoted.
/* eslint-disable no-template-curly-in-string */
const ALL_OPTIONS = ['', 'consId: ${BPJS_CONS_ID}', 'secret: ${BPJS_SECRET}', 'userKey: ${BPJS_USER_KEY}', 'decrypt: true'].join('\n          ')
const NO_USER_KEY = ' { consId: ${BPJS_CONS_ID}, secret: ${BPJS_SECRET}, decrypt: true }'
const INTEGER_CONS_ID = ` { consId: ${CONS_ID}, secret: "\${BPJS_SECRET}", userKey: "\${BPJS_USER_KEY}", decrypt: true }`
/* eslint-enable no-template-curly-in-string */

/** routes.yaml with one `auth: none` integration on the fake; `pluginOptions` follows `- bpjs-vclaim:`. */
function bpjsRoutes (fake: FakeBpjs, pluginOptions = ALL_OPTIONS): string {
  return routesYaml({
    defaults: { auth: 'none' },
    integrations: { bpjs: { upstream: `${fake.url}/vclaim-rest`, plugins: [`bpjs-vclaim:${pluginOptions}`] } }
  })
}

/** Fails the test if a BPJS credential appears in the gateway's logs or in `bodies`. */
function assertNoCredentials (gw: TestGateway, ...bodies: string[]): void {
  assert.ok(gw.logs.length > 0, 'the gateway logged the request')
  const logs = JSON.stringify(gw.logs)
  for (const s of [SECRET, USER_KEY]) {
    assert.ok(!logs.includes(s), 'a BPJS credential is in the gateway logs')
    for (const body of bodies) assert.ok(!body.includes(s), 'a BPJS credential is in a response body')
  }
}

test('the client sends no BPJS header and gets the decrypted answer; the upstream saw a valid signature', async (t) => {
  const fake = await startFake(t)
  const gw = await startGateway(t, bpjsRoutes(fake), ENV)

  const res = await fetch(gw.url + CARD_PATH)
  const text = await res.text()
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
  assert.equal(res.headers.get('content-length'), String(Buffer.byteLength(text)))
  assert.deepEqual(JSON.parse(text), { metaData: { code: '200', message: 'OK' }, response: peserta('0001234567890', '2025-01-15') })

  assert.equal(fake.verdicts.length, 1)
  const [seen] = fake.verdicts
  assert.equal(seen?.rejected, undefined)
  assert.equal(seen?.url, '/vclaim-rest/Peserta/nokartu/0001234567890/tglSEP/2025-01-15')
  assert.equal(seen?.headers['x-cons-id'], CONS_ID)
  assert.equal(seen?.headers.user_key, USER_KEY)
  assert.equal(seen?.headers['accept-encoding'], 'identity')
  assertNoCredentials(gw, text, JSON.stringify([...res.headers]))
})

test('BPJS headers a client sends are replaced, and an unencrypted error answer passes through', async (t) => {
  const fake = await startFake(t)
  const gw = await startGateway(t, bpjsRoutes(fake), ENV)

  const res = await fetch(gw.url + '/bpjs/Peserta/nokartu/0000000000000/tglSEP/2025-01-15', {
    headers: { 'x-cons-id': '99999', 'x-timestamp': '1', 'x-signature': 'forged', user_key: 'forged' }
  })
  assert.equal(res.status, 200)
  assert.deepEqual(await res.json(), { metaData: { code: '201', message: 'Peserta tidak ditemukan' }, response: null })
  assert.equal(fake.verdicts[0]?.rejected, undefined)
  assert.equal(fake.verdicts[0]?.headers['x-cons-id'], CONS_ID)
})

test('an integer consId written in routes.yaml works like a string one', async (t) => {
  const fake = await startFake(t)
  const gw = await startGateway(t, bpjsRoutes(fake, INTEGER_CONS_ID), ENV)
  const res = await fetch(gw.url + CARD_PATH)
  assert.equal(res.status, 200)
  assert.equal(((await res.json()) as { response: { peserta: { noKartu: string } } }).response.peserta.noKartu, '0001234567890')
  assert.equal(fake.verdicts[0]?.headers['x-cons-id'], CONS_ID)
})

test('with a wrong secret the client gets the upstream\'s rejection as it was sent', async (t) => {
  const fake = await startFake(t)
  const wrong = 'wrong-secret-5c0ffee'
  const gw = await startGateway(t, bpjsRoutes(fake), { ...ENV, BPJS_SECRET: wrong })

  const res = await fetch(gw.url + CARD_PATH)
  const text = await res.text()
  assert.equal(res.status, 200)
  assert.deepEqual(JSON.parse(text), { metaData: { code: '401', message: 'Authentication failed: wrong X-signature' }, response: null })
  assert.equal(fake.verdicts[0]?.rejected, 'wrong X-signature')
  assertNoCredentials(gw, text)
  assert.ok(!JSON.stringify(gw.logs).includes(wrong))
})

test('without userKey the upstream rejects the request for its missing user_key', async (t) => {
  const fake = await startFake(t)
  const gw = await startGateway(t, bpjsRoutes(fake, NO_USER_KEY), ENV)
  const res = await fetch(gw.url + CARD_PATH, { headers: { user_key: USER_KEY } })
  assert.equal(res.status, 200)
  assert.equal(((await res.json()) as { metaData: { code: string } }).metaData.code, '401')
  assert.equal(fake.verdicts[0]?.rejected, 'missing or wrong user_key')
})

test('a corrupt ciphertext from the upstream is a 502 naming the plugin, without the secret', async (t) => {
  const fake = await startFake(t)
  fake.corrupt = true
  const gw = await startGateway(t, bpjsRoutes(fake), ENV)

  const res = await fetch(gw.url + CARD_PATH)
  const text = await res.text()
  assert.equal(res.status, 502)
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/)
  const problem = JSON.parse(text) as Problem & { plugin?: string }
  assert.equal(problem.status, 502)
  assert.equal(problem.code, 'UPSTREAM_AUTH_FAILED')
  assert.equal(problem.plugin, 'bpjs-vclaim')
  assert.match(problem.detail, /^bpjs: the bpjs-vclaim plugin failed: could not decrypt the response of BPJS: AES-256-CBC decryption failed/)
  assert.equal(problem.instance, CARD_PATH)
  assert.equal(fake.verdicts[0]?.rejected, undefined)
  assertNoCredentials(gw, text)
})
