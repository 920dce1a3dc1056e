// Forwarding, what the client gets back (docs/contract.md sections 3 to 6),
// against a real origin on 127.0.0.1: statuses, headers and bodies untouched,
// and hop-by-hop headers dropped both ways.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { send, UUID } from './client.js'
import { echoOf, setup } from './forwarding-fixtures.js'

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
