// Forwarding, the headers the gateway sets (docs/contract.md sections 3 to 6),
// against a real origin on 127.0.0.1: Host and x-forwarded-*, x-api-key never
// forwarded, x-request-id kept or replaced.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { send, UUID } from './client.js'
import { setup } from './forwarding-fixtures.js'

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
