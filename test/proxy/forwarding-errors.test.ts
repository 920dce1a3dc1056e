// Forwarding, what the gateway answers itself (docs/contract.md sections 3 to
// 6), against a real origin on 127.0.0.1: 405 with Allow, problem documents,
// bodyLimit; and the one access line each request leaves.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { assertProblem, eventually, send, UUID } from './client.js'
import { echoOf, setup, sha256 } from './forwarding-fixtures.js'

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
