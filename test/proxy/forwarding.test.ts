// Forwarding: what the upstream receives and what the client gets back
// (docs/contract.md sections 3 to 6), against a real origin on 127.0.0.1.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import { startGateway, type TestGateway } from '../helpers/gateway.js'
import { startOrigin, type Origin, type SeenRequest } from '../helpers/origin.js'
import { assertProblem, closedPort, eventually, send, UUID } from './client.js'

interface Echo {
  method: string
  url: string
  headers: Record<string, string | string[] | undefined>
  rawHeaders: string[]
  bodyBytes: number
  sha256: string
  text: string
}

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex')

/**
 * The origin: /status/NNN answers that status (with a body of its own where
 * one is allowed), /headers answers with awkward response headers, anything
 * else echoes the request as JSON.
 */
async function startTestOrigin (t: TestContext): Promise<Origin> {
  const origin = await startOrigin((req, res) => {
    const parts: Buffer[] = []
    req.on('data', (chunk: Buffer) => { parts.push(chunk) })
    req.on('end', () => {
      const body = Buffer.concat(parts)
      const url = req.url ?? ''
      const status = /\/status\/(\d{3})/.exec(url)?.[1]
      if (status !== undefined) {
        answerStatus(Number(status), res)
        return
      }
      if (url.endsWith('/headers')) {
        res.setHeader('content-type', 'text/plain; charset=utf-8')
        res.setHeader('x-custom', 'nilai khusus; a=b')
        res.setHeader('x-multi', ['one', 'two'])
        res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; HttpOnly', 'c=3; Secure; SameSite=Lax'])
        res.setHeader('connection', 'x-internal')
        res.setHeader('x-internal', 'do-not-leak')
        res.setHeader('keep-alive', 'timeout=7, max=3')
        res.setHeader('proxy-authenticate', 'Basic realm="origin"')
        res.setHeader('x-request-id', 'upstream-own-id')
        res.setHeader('content-length', 5)
        res.end('hello')
        return
      }
      const echo: Echo = {
        method: req.method ?? '',
        url,
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        bodyBytes: body.length,
        sha256: sha256(body),
        text: body.length <= 4096 ? body.toString('utf8') : ''
      }
      const out = JSON.stringify(echo)
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out), 'x-origin': 'echo' })
      res.end(out)
    })
  })
  t.after(async () => { await origin.close() })
  return origin
}

function answerStatus (status: number, res: ServerResponse): void {
  switch (status) {
    case 201:
      res.writeHead(201, { 'content-type': 'application/json', location: '/kamar/7', 'content-length': 8 })
      res.end('{"id":7}')
      return
    case 204:
      res.writeHead(204, { 'x-deleted': 'yes' })
      res.end()
      return
    case 304:
      res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=60' })
      res.end()
      return
    case 404:
      res.writeHead(404, { 'content-type': 'application/json', 'x-origin': 'echo' })
      res.end('{"error":"kamar tidak ditemukan","rs":1}')
      return
    case 422:
      // The upstream's own problem document is its business: passed on untouched.
      res.writeHead(422, { 'content-type': 'application/problem+json' })
      res.end('{"title":"rs tidak valid","status":422,"kode":"RS_INVALID"}')
      return
    case 503:
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '120' })
      res.end('sedang pemeliharaan\n')
      return
    default:
      res.writeHead(status, { 'content-type': 'text/plain' })
      res.end(`origin says ${status}\n`)
  }
}

interface Setup {
  origin: Origin
  gw: TestGateway
  /** What the origin saw, newest last. */
  last: () => SeenRequest
}

/**
 * yankes: upstream with a base path and rewritePrefix; plain: bare origin;
 * layanan: a two-segment prefix; getonly: methods [GET]; small: bodyLimit 1kb;
 * dead: nothing listens.
 */
async function setup (t: TestContext): Promise<Setup> {
  const origin = await startTestOrigin(t)
  const dead = await closedPort()
  const gw = await startGateway(t, [
    'defaults:',
    '  auth: none',
    'integrations:',
    '  yankes:',
    `    upstream: ${origin.url}/base`,
    '    rewritePrefix: /api',
    '  plain:',
    `    upstream: ${origin.url}`,
    '  layanan:',
    `    upstream: ${origin.url}`,
    '    prefix: /layanan/rs',
    '  getonly:',
    `    upstream: ${origin.url}`,
    '    methods: [GET]',
    '  small:',
    `    upstream: ${origin.url}`,
    '    bodyLimit: 1kb',
    '  dead:',
    `    upstream: http://127.0.0.1:${dead}`,
    '    connectTimeout: 2s',
    ''
  ].join('\n'))
  return {
    origin,
    gw,
    last: () => {
      const seen = origin.seen.at(-1)
      assert.ok(seen !== undefined, 'the origin saw no request')
      return seen
    }
  }
}

function echoOf (answer: { body: Buffer }): Echo {
  return JSON.parse(answer.body.toString('utf8')) as Echo
}

// ---------------------------------------------------------------------------
// Methods and paths

test('every method is forwarded as it came', async (t) => {
  const { gw, origin } = await setup(t)
  for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']) {
    const withBody = method === 'POST' || method === 'PUT' || method === 'PATCH'
    const res = await send(gw.url, `/plain/kamar/${method.toLowerCase()}`, {
      method,
      ...(withBody ? { body: 'rs=1', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '4' } } : {})
    })
    assert.equal(res.status, 200, `${method}: ${res.body.toString()}`)
    const seen = origin.seen.at(-1)
    assert.equal(seen?.method, method)
    assert.equal(seen?.url, `/kamar/${method.toLowerCase()}`)
    if (method === 'HEAD') {
      assert.equal(res.body.length, 0)
      assert.equal(res.headers['content-type'], 'application/json')
    } else {
      const echo = echoOf(res)
      assert.equal(echo.method, method)
      assert.equal(echo.bodyBytes, withBody ? 4 : 0)
    }
  }
  assert.equal(origin.seen.length, 7)
})

test('the prefix is stripped, rewritePrefix applied and the upstream base path kept', async (t) => {
  const { gw, last } = await setup(t)
  const cases: Array<[string, string]> = [
    ['/yankes/kamar?rs=1', '/base/api/kamar?rs=1'],
    ['/yankes/kamar/7/tempat-tidur', '/base/api/kamar/7/tempat-tidur'],
    ['/yankes/', '/base/api/'],
    ['/yankes', '/base/api'],
    ['/yankes?x=1', '/base/api?x=1'],
    ['/plain/kamar?rs=1', '/kamar?rs=1'],
    ['/plain', '/'],
    ['/plain?x=1', '/?x=1'],
    ['/layanan/rs/kamar', '/kamar'],
    ['/layanan/rs', '/']
  ]
  for (const [path, upstreamPath] of cases) {
    const res = await send(gw.url, path)
    assert.equal(res.status, 200, `${path}: ${res.body.toString()}`)
    assert.equal(last().url, upstreamPath, path)
    assert.equal(echoOf(res).url, upstreamPath)
  }
})

test('a prefix matches whole segments only: /yankesfoo is no integration\'s', async (t) => {
  const { gw, origin } = await setup(t)
  for (const path of ['/yankesfoo', '/yankesfoo/kamar?rs=1', '/yankes-2/x', '/layanan/rsx', '/layanan', '/']) {
    const res = await send(gw.url, path)
    assertProblem(res, 404, 'ROUTE_NOT_FOUND', path.split('?')[0])
  }
  assert.equal(origin.seen.length, 0)
})

test('the query string arrives byte for byte: encodings and repeated keys kept', async (t) => {
  const { gw, last } = await setup(t)
  const queries = [
    '?a=1&a=2&a=3',
    '?b=%20x%2Fy%3D%26z&c=%E2%9C%93&d=&e&f=a+b&g=%25&h=%2e%2e',
    '?nama=Sri%20Rahayu&tgl=2026-11-21T10%3A10%3A58Z&tags[]=1&tags[]=2',
    '?=&&x==1&%41=%61'
  ]
  for (const query of queries) {
    const res = await send(gw.url, `/yankes/cari${query}`)
    assert.equal(res.status, 200)
    assert.equal(last().url, `/base/api/cari${query}`)
  }
})

// ---------------------------------------------------------------------------
// Request headers and bodies

test('request headers arrive intact, multi-valued ones too', async (t) => {
  const { gw, last } = await setup(t)
  const res = await send(gw.url, '/plain/h', {
    headers: {
      accept: 'application/json',
      'accept-language': 'id-ID, en;q=0.5',
      'user-agent': 'simrs-client/2.1',
      'x-custom': 'Nilai Bebas; a=b, "c"',
      'x-multi': ['satu', 'dua'],
      'if-none-match': '"v1"'
    }
  })
  assert.equal(res.status, 200)
  const { headers, rawHeaders } = last()
  assert.equal(headers.accept, 'application/json')
  assert.equal(headers['accept-language'], 'id-ID, en;q=0.5')
  assert.equal(headers['user-agent'], 'simrs-client/2.1')
  assert.equal(headers['x-custom'], 'Nilai Bebas; a=b, "c"')
  assert.equal(headers['if-none-match'], '"v1"')
  const multi = rawHeaders.filter((_v, i) => i % 2 === 1 && rawHeaders[i - 1]?.toLowerCase() === 'x-multi')
  assert.deepEqual(multi, ['satu', 'dua'])
})

test('a JSON body with content-length arrives intact', async (t) => {
  const { gw, last } = await setup(t)
  const body = JSON.stringify({ nama: 'Budi Santoso', kamar: [1, 2, 3], catatan: 'ruang ✓ ü', nested: { a: null } })
  const length = Buffer.byteLength(body)
  const res = await send(gw.url, '/yankes/pasien', {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json; charset=utf-8', 'content-length': String(length) }
  })
  assert.equal(res.status, 200)
  const echo = echoOf(res)
  assert.equal(echo.text, body)
  assert.equal(echo.bodyBytes, length)
  assert.equal(last().headers['content-type'], 'application/json; charset=utf-8')
  assert.equal(last().headers['content-length'], String(length))
})

test('binary bodies arrive intact, with content-length and chunked', async (t) => {
  const { gw, last } = await setup(t)
  const whole = randomBytes(256 * 1024)
  const res = await send(gw.url, '/plain/upload', {
    method: 'PUT',
    body: whole,
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(whole.length) }
  })
  assert.equal(res.status, 200)
  assert.equal(echoOf(res).bodyBytes, whole.length)
  assert.equal(echoOf(res).sha256, sha256(whole))
  assert.equal(last().headers['content-type'], 'application/octet-stream')

  const chunks = Array.from({ length: 20 }, () => randomBytes(10_000))
  const chunked = await send(gw.url, '/plain/upload', { method: 'POST', chunks, headers: { 'content-type': 'image/png' } })
  assert.equal(chunked.status, 200)
  assert.equal(echoOf(chunked).bodyBytes, 200_000)
  assert.equal(echoOf(chunked).sha256, sha256(Buffer.concat(chunks)))
  assert.equal(last().headers['content-type'], 'image/png')
})

// ---------------------------------------------------------------------------
// Responses

test('upstream statuses, headers and bodies pass through untouched', async (t) => {
  const { gw } = await setup(t)

  const created = await send(gw.url, '/plain/status/201', { method: 'POST' })
  assert.equal(created.status, 201)
  assert.equal(created.headers.location, '/kamar/7')
  assert.equal(created.headers['content-type'], 'application/json')
  assert.equal(created.body.toString(), '{"id":7}')

  const noContent = await send(gw.url, '/plain/status/204', { method: 'DELETE' })
  assert.equal(noContent.status, 204)
  assert.equal(noContent.headers['x-deleted'], 'yes')
  assert.equal(noContent.body.length, 0)

  const notModified = await send(gw.url, '/plain/status/304', { headers: { 'if-none-match': '"v1"' } })
  assert.equal(notModified.status, 304)
  assert.equal(notModified.headers.etag, '"v1"')
  assert.equal(notModified.headers['cache-control'], 'max-age=60')
  assert.equal(notModified.body.length, 0)

  const notFound = await send(gw.url, '/plain/status/404')
  assert.equal(notFound.status, 404)
  assert.equal(notFound.headers['content-type'], 'application/json')
  assert.equal(notFound.body.toString(), '{"error":"kamar tidak ditemukan","rs":1}')

  const bad = await send(gw.url, '/plain/status/400')
  assert.equal(bad.status, 400)
  assert.equal(bad.headers['content-type'], 'text/plain')
  assert.equal(bad.body.toString(), 'origin says 400\n')

  const invalid = await send(gw.url, '/plain/status/422')
  assert.equal(invalid.status, 422)
  assert.equal(invalid.headers['content-type'], 'application/problem+json')
  assert.equal(invalid.body.toString(), '{"title":"rs tidak valid","status":422,"kode":"RS_INVALID"}')

  const maintenance = await send(gw.url, '/plain/status/503')
  assert.equal(maintenance.status, 503)
  assert.equal(maintenance.headers['retry-after'], '120')
  assert.equal(maintenance.body.toString(), 'sedang pemeliharaan\n')

  for (const res of [created, noContent, notModified, notFound, bad, invalid, maintenance]) {
    assert.match(String(res.headers['x-request-id']), UUID)
  }
})

test('response headers: custom and multi-valued kept, set-cookie values all kept', async (t) => {
  const { gw } = await setup(t)
  const res = await send(gw.url, '/plain/headers', { headers: { 'x-request-id': 'hdr-test-1' } })
  assert.equal(res.status, 200)
  assert.equal(res.body.toString(), 'hello')
  assert.equal(res.headers['x-custom'], 'nilai khusus; a=b')
  assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8')
  assert.deepEqual(res.headers['set-cookie'], ['a=1; Path=/', 'b=2; HttpOnly', 'c=3; Secure; SameSite=Lax'])
  const multi = res.rawHeaders.filter((_v, i) => i % 2 === 1 && res.rawHeaders[i - 1]?.toLowerCase() === 'x-multi')
  assert.deepEqual(multi, ['one', 'two'])
  // The upstream's own x-request-id is replaced by the gateway's.
  assert.equal(res.headers['x-request-id'], 'hdr-test-1')
})

// ---------------------------------------------------------------------------
// Hop-by-hop headers

test('hop-by-hop request headers are not forwarded, nor the headers Connection names', async (t) => {
  const { gw, last } = await setup(t)
  const res = await send(gw.url, '/plain/hop', {
    method: 'POST',
    chunks: [Buffer.from('abc'), Buffer.from('def')],
    headers: {
      connection: 'close, X-Secret, x-other',
      'x-secret': 'rahasia',
      'x-other': 'rahasia-juga',
      'keep-alive': 'timeout=9, max=99',
      te: 'trailers',
      'proxy-authorization': 'Basic cHJveHk6cHc=',
      'proxy-connection': 'keep-alive',
      'x-kept': 'yes'
    }
  })
  assert.equal(res.status, 200)
  assert.equal(echoOf(res).text, 'abcdef')
  const { headers, rawHeaders } = last()
  assert.equal(headers['x-kept'], 'yes')
  for (const name of ['x-secret', 'x-other', 'keep-alive', 'te', 'proxy-authorization', 'proxy-connection']) {
    assert.equal(headers[name], undefined, `${name} was forwarded`)
  }
  assert.doesNotMatch(String(headers.connection ?? ''), /x-secret|x-other|close/i)
  const wire = rawHeaders.join('\n')
  assert.doesNotMatch(wire, /rahasia|timeout=9|cHJveHk6cHc=/)
})

test('hop-by-hop response headers are not returned, nor the headers Connection names', async (t) => {
  const { gw } = await setup(t)
  const res = await send(gw.url, '/plain/headers')
  assert.equal(res.status, 200)
  assert.equal(res.headers['x-internal'], undefined)
  assert.equal(res.headers['proxy-authenticate'], undefined)
  assert.notEqual(res.headers['keep-alive'], 'timeout=7, max=3')
  assert.doesNotMatch(String(res.headers.connection ?? ''), /x-internal/i)
  assert.doesNotMatch(res.rawHeaders.join('\n'), /do-not-leak|max=3/)
})

// ---------------------------------------------------------------------------
// Gateway-set headers

test('Host is the upstream\'s; x-forwarded-for/proto/host are set by the gateway', async (t) => {
  const { gw, origin, last } = await setup(t)
  const gwHost = new URL(gw.url).host

  assert.equal((await send(gw.url, '/yankes/a')).status, 200)
  let seen = last()
  assert.equal(seen.headers.host, `127.0.0.1:${origin.port}`)
  assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1')
  assert.equal(seen.headers['x-forwarded-proto'], 'http')
  assert.equal(seen.headers['x-forwarded-host'], gwHost)

  // A client's own values change nothing: without GERBANG_TRUST_PROXY the
  // peer is the client (docs/contract.md section 13), and proto and host are the
  // gateway's to say. test/server/trusted-proxies.test.ts has the trusted case.
  assert.equal((await send(gw.url, '/yankes/b', {
    headers: { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' }
  })).status, 200)
  seen = last()
  assert.equal(seen.headers.host, `127.0.0.1:${origin.port}`)
  assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1')
  assert.equal(seen.headers['x-forwarded-proto'], 'http')
  assert.equal(seen.headers['x-forwarded-host'], gwHost)
  const hosts = seen.rawHeaders.filter((_v, i) => i % 2 === 0 && seen.rawHeaders[i]?.toLowerCase() === 'host')
  assert.equal(hosts.length, 1)
})

test('x-api-key is never forwarded, whatever its spelling', async (t) => {
  const { gw, origin } = await setup(t)
  await send(gw.url, '/plain/a', { headers: { 'x-api-key': 'kunci-rahasia-1' } })
  await send(gw.url, '/plain/b', { headers: { 'X-API-KEY': 'kunci-rahasia-2' } })
  await send(gw.url, '/plain/c', { method: 'POST', body: 'x', headers: { 'X-Api-Key': ['kunci-rahasia-3', 'kunci-rahasia-4'], 'content-length': '1' } })
  assert.equal(origin.seen.length, 3)
  for (const seen of origin.seen) {
    assert.equal(seen.headers['x-api-key'], undefined)
    assert.doesNotMatch(seen.rawHeaders.join('\n'), /x-api-key|kunci-rahasia/i)
  }
})

test('x-request-id: a sane client value is kept upstream and in the answer, anything else becomes a UUID', async (t) => {
  const { gw, last } = await setup(t)
  const sane = ['abc-123_X.y', 'a'.repeat(200), '7', 'Z.Z-z_9']
  for (const id of sane) {
    const res = await send(gw.url, '/yankes/id', { headers: { 'x-request-id': id } })
    assert.equal(res.status, 200)
    assert.equal(res.headers['x-request-id'], id)
    assert.equal(last().headers['x-request-id'], id)
  }
  const insane: Array<string | string[]> = [
    'a'.repeat(201),
    'has space',
    'slash/ed',
    'semi;colon',
    // UTF-8 bytes on the wire (Node writes header strings as latin1)
    Buffer.from('permintaan-✓', 'utf8').toString('latin1'),
    'café',
    '',
    ['one', 'two']
  ]
  const generated = new Set<string>()
  for (const id of insane) {
    const res = await send(gw.url, '/yankes/id', { headers: { 'x-request-id': id } })
    assert.equal(res.status, 200)
    const answered = String(res.headers['x-request-id'])
    assert.match(answered, UUID, `for ${JSON.stringify(id)}`)
    assert.equal(last().headers['x-request-id'], answered)
    generated.add(answered)
  }
  assert.equal(generated.size, insane.length, 'every generated id is new')

  const none = await send(gw.url, '/yankes/id')
  assert.match(String(none.headers['x-request-id']), UUID)
  assert.equal(last().headers['x-request-id'], none.headers['x-request-id'])
})

// ---------------------------------------------------------------------------
// Gateway errors

test('a method outside methods: answers 405 with Allow, never reaching the upstream; HEAD follows GET', async (t) => {
  const { gw, origin } = await setup(t)
  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
    const withBody = method !== 'DELETE' && method !== 'OPTIONS'
    const res = await send(gw.url, '/getonly/kamar?rs=1', {
      method,
      ...(withBody ? { body: '{}', headers: { 'content-type': 'application/json', 'content-length': '2' } } : {})
    })
    assertProblem(res, 405, 'METHOD_NOT_ALLOWED', '/getonly/kamar')
    const allow = String(res.headers.allow ?? '').split(',').map((m) => m.trim()).sort()
    assert.deepEqual(allow, ['GET', 'HEAD'])
  }
  assert.equal(origin.seen.length, 0)

  assert.equal((await send(gw.url, '/getonly/kamar')).status, 200)
  const head = await send(gw.url, '/getonly/kamar', { method: 'HEAD' })
  assert.equal(head.status, 200)
  assert.deepEqual(origin.seen.map((s) => s.method), ['GET', 'HEAD'])
})

test('problem documents carry every member; requestId is the x-request-id header', async (t) => {
  const { gw } = await setup(t)
  const generated = await send(gw.url, '/tidak-ada/apa-apa?token=rahasia')
  const body = assertProblem(generated, 404, 'ROUTE_NOT_FOUND', '/tidak-ada/apa-apa')
  assert.match(String(body.requestId), UUID)
  assert.doesNotMatch(generated.body.toString(), /rahasia/)

  const own = await send(gw.url, '/yankesfoo', { headers: { 'x-request-id': 'klien-42' } })
  assert.equal(assertProblem(own, 404, 'ROUTE_NOT_FOUND', '/yankesfoo').requestId, 'klien-42')

  const insane = await send(gw.url, '/yankesfoo', { headers: { 'x-request-id': 'not sane' } })
  assert.match(String(assertProblem(insane, 404, 'ROUTE_NOT_FOUND').requestId), UUID)

  const refused = await send(gw.url, '/dead/kamar')
  assertProblem(refused, 502, 'UPSTREAM_UNAVAILABLE', '/dead/kamar')

  // A request target the router cannot even decode is still answered the gateway's way.
  for (const path of ['/yankes/%zz', '/yankes/kamar%', '/tidak-ada/%E0%A4%A']) {
    assertProblem(await send(gw.url, path, { headers: { 'x-request-id': 'url-rusak' } }), 400, 'BAD_REQUEST')
  }
})

test('bodyLimit: a body over the limit answers 413, declared or chunked', async (t) => {
  const { gw, origin } = await setup(t)

  const declared = await send(gw.url, '/small/upload', {
    method: 'POST',
    body: randomBytes(2048),
    headers: { 'content-type': 'application/octet-stream', 'content-length': '2048' }
  })
  assertProblem(declared, 413, 'PAYLOAD_TOO_LARGE', '/small/upload')
  assert.equal(origin.seen.length, 0, 'the upstream saw a request whose declared body was over the limit')

  const chunked = await send(gw.url, '/small/upload', {
    method: 'POST',
    chunks: Array.from({ length: 4 }, () => randomBytes(512)),
    headers: { 'content-type': 'application/octet-stream' }
  })
  assertProblem(chunked, 413, 'PAYLOAD_TOO_LARGE', '/small/upload')
})

test('bodyLimit: bodies up to the limit pass, declared or chunked', async (t) => {
  const { gw } = await setup(t)
  const exact = randomBytes(1024)
  const declared = await send(gw.url, '/small/upload', {
    method: 'POST',
    body: exact,
    headers: { 'content-length': '1024' }
  })
  assert.equal(declared.status, 200)
  assert.equal(echoOf(declared).sha256, sha256(exact))

  const chunks = [randomBytes(512), randomBytes(512)]
  const chunked = await send(gw.url, '/small/upload', { method: 'POST', chunks })
  assert.equal(chunked.status, 200)
  assert.equal(echoOf(chunked).sha256, sha256(Buffer.concat(chunks)))
})

// ---------------------------------------------------------------------------
// Access log

test('one access log line per request, without query strings or credentials', async (t) => {
  const { gw } = await setup(t)
  const secrets = {
    'x-api-key': 'KUNCI-rahasia-7f3a',
    authorization: 'Bearer TOKEN-rahasia-91bc',
    cookie: 'sesi=KUKI-rahasia-55de; lain=1'
  }
  const ok = await send(gw.url, '/plain/kamar?rs=1&api_key=QUERY-rahasia-0a1b', { headers: { ...secrets, 'x-request-id': 'log-1' } })
  assert.equal(ok.status, 200)
  const posted = await send(gw.url, '/yankes/pasien', {
    method: 'POST',
    body: '{"a":1}',
    headers: { ...secrets, 'content-type': 'application/json', 'content-length': '7', 'x-request-id': 'log-2' }
  })
  assert.equal(posted.status, 200)
  assert.equal((await send(gw.url, '/nowhere?api_key=QUERY-rahasia-0a1b', { headers: { ...secrets, 'x-request-id': 'log-3' } })).status, 404)
  assert.equal((await send(gw.url, '/dead/x?api_key=QUERY-rahasia-0a1b', { headers: { ...secrets, 'x-request-id': 'log-4' } })).status, 502)
  assert.equal((await send(gw.url, '/getonly/x', { method: 'DELETE', headers: { ...secrets, 'x-request-id': 'log-5' } })).status, 405)
  assert.equal((await send(gw.url, '/plain/status/204', { headers: { ...secrets, 'x-request-id': 'log-6' } })).status, 204)

  const ids = ['log-1', 'log-2', 'log-3', 'log-4', 'log-5', 'log-6']
  const accessLines = (id: string): Array<Record<string, unknown>> =>
    gw.logs.filter((l) => l.reqId === id && typeof l.status === 'number')
  await eventually(() => ids.every((id) => accessLines(id).length > 0))
  await new Promise((resolve) => setTimeout(resolve, 50)) // a second line, if any, would be here by now

  for (const id of ids) assert.equal(accessLines(id).length, 1, `access lines for ${id}: ${JSON.stringify(accessLines(id))}`)

  const first = accessLines('log-1')[0] as Record<string, unknown>
  assert.equal(first.integration, 'plain')
  assert.equal(first.method, 'GET')
  assert.equal(first.path, '/plain/kamar')
  assert.equal(first.status, 200)
  assert.equal(first.upstreamStatus, 200)
  assert.equal(typeof first.durationMs, 'number')
  assert.ok((first.durationMs as number) >= 0)
  assert.equal(first.bytesOut, ok.body.length)
  // A request that went well is logged once, and only once.
  assert.equal(gw.logs.filter((l) => l.reqId === 'log-1').length, 1)

  const second = accessLines('log-2')[0] as Record<string, unknown>
  assert.deepEqual(
    [second.integration, second.method, second.path, second.status, second.upstreamStatus, second.bytesOut],
    ['yankes', 'POST', '/yankes/pasien', 200, 200, posted.body.length])

  const third = accessLines('log-3')[0] as Record<string, unknown>
  assert.deepEqual([third.method, third.path, third.status], ['GET', '/nowhere', 404])

  const fourth = accessLines('log-4')[0] as Record<string, unknown>
  assert.deepEqual([fourth.integration, fourth.path, fourth.status], ['dead', '/dead/x', 502])

  const fifth = accessLines('log-5')[0] as Record<string, unknown>
  assert.deepEqual([fifth.integration, fifth.method, fifth.status], ['getonly', 'DELETE', 405])

  const sixth = accessLines('log-6')[0] as Record<string, unknown>
  assert.deepEqual([sixth.status, sixth.upstreamStatus, sixth.bytesOut], [204, 204, 0])

  const everything = JSON.stringify(gw.logs)
  for (const secret of ['KUNCI-rahasia-7f3a', 'TOKEN-rahasia-91bc', 'KUKI-rahasia-55de', 'QUERY-rahasia-0a1b']) {
    assert.ok(!everything.includes(secret), `${secret} appears in the logs`)
  }
})
