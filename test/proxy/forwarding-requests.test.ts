// Forwarding, what the upstream receives (docs/contract.md sections 3 to 6),
// against a real origin on 127.0.0.1: every method, the path with its prefix
// stripped and rewritten, the query string byte for byte, request headers and
// bodies intact.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { assertProblem, send } from './client.js'
import { echoOf, setup, sha256 } from './forwarding-fixtures.js'

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
