// WebSocket on integrations with `websocket: true` (docs/contract.md section 9),
// the relay: once accepted, messages and pings flow both ways, in order and
// intact; an upstream that refuses, cannot be reached or dies closes the
// client's socket with a code that says so, and a message over bodyLimit
// closes it with 1009; the gateway keeps serving.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { type WebSocket } from 'ws'
import { startGateway, type TestGateway } from '../helpers/gateway.js'
import { trapUnhandled } from '../helpers/unhandled.js'
import { closedPort } from './client.js'
import { waitUntil } from '../helpers/time.js'
import { connect, exchange, fixture, startWsOrigin, wsBase } from './websocket-fixtures.js'

const unhandled = trapUnhandled()

async function metricsText (gw: TestGateway): Promise<string> {
  return await (await fetch(`${gw.url}/metrics`)).text()
}

test('100 messages each way, text and binary, in order and intact', async (t) => {
  const { base, key, gw } = await fixture(t)
  const { ws } = await connect(`${base}/chat/echo?api_key=${key}`)
  const text = await exchange(ws, 100, (i) => `pesan ${i} ✓`)
  assert.deepEqual(text.map((m) => [m.data.toString(), m.binary]), Array.from({ length: 100 }, (_, i) => [`pesan ${i} ✓`, false]))
  const blobs = Array.from({ length: 100 }, (_, i) => randomBytes(1 + i * 97))
  const binary = await exchange(ws, 100, (i) => blobs[i] as Buffer)
  assert.ok(binary.every((m, i) => m.binary && m.data.equals(blobs[i] as Buffer)))
  assert.match(await metricsText(gw), /gerbang_websockets_open\{integration="chat"\} 1/)
  assert.match(await metricsText(gw), /gerbang_websockets_open\{integration="raw"\} 0/)
  ws.close(1000, 'selesai')
  await waitUntil('the "websocket closed" log line', () => gw.logs.some((l) => l.msg === 'websocket closed'))
  const closedLine = gw.logs.find((l) => l.msg === 'websocket closed')
  assert.equal(closedLine?.closedBy, 'client')
  assert.equal(closedLine?.messagesIn, 200)
  assert.equal(closedLine?.messagesOut, 200)
  assert.match(await metricsText(gw), /gerbang_websockets_open\{integration="chat"\} 0/)
})

test('pings from the upstream reach the client and its pongs go back', async (t) => {
  const { origin, base, key } = await fixture(t)
  const { ws } = await connect(`${base}/chat/echo?api_key=${key}`)
  const upstreamSide = origin.sockets[0] as WebSocket
  const pong = once(upstreamSide, 'pong')
  const ping = once(ws, 'ping')
  upstreamSide.ping(Buffer.from('ada?'))
  assert.equal(String((await ping)[0]), 'ada?')
  assert.equal(String((await pong)[0]), 'ada?')
  ws.close()
})

test('an upstream that refuses the handshake, or cannot be reached: the client\'s socket closes with 1014, and the gateway keeps serving', async (t) => {
  const origin = await startWsOrigin(t)
  const gw = await startGateway(t, [
    'defaults:', '  auth: none', 'integrations:',
    '  refusing:', `    upstream: ${origin.url}`, '    rewritePrefix: /refuse', '    websocket: true',
    '  gone:', `    upstream: http://127.0.0.1:${await closedPort()}`, '    websocket: true', '    retries: 0',
    '  echo:', `    upstream: ${origin.url}`, '    websocket: true', ''
  ].join('\n'))
  const base = wsBase(gw)
  const refused = await connect(`${base}/refusing/x`)
  const closed = await refused.closed
  assert.ok(closed.code === 1014 || closed.code === 1011, `closed with ${closed.code}`)
  assert.equal(closed.code, 1014)
  assert.match(closed.reason, /refusing answered 403/)
  const unreachable = await connect(`${base}/gone/x`)
  const gone = await unreachable.closed
  assert.equal(gone.code, 1014)
  assert.match(gone.reason, /gone refused the connection/)
  // Still serving, WebSocket and HTTP alike.
  const { ws } = await connect(`${base}/echo/echo`)
  assert.equal((await exchange(ws, 1, () => 'masih hidup'))[0]?.data.toString(), 'masih hidup')
  ws.close()
  assert.equal((await fetch(`${gw.url}/healthz`)).status, 200)
  const metrics = await metricsText(gw)
  assert.match(metrics, /gerbang_upstream_errors_total\{integration="refusing",code="http_403"\} 1/)
  assert.match(metrics, /gerbang_upstream_errors_total\{integration="gone",code="ECONNREFUSED"\} 1/)
  assert.deepEqual(unhandled, [])
})

test('an upstream that dies mid-session: the client\'s socket closes with 1011, and the gateway keeps serving', async (t) => {
  const { base, gw } = await fixture(t)
  const { ws, closed } = await connect(`${base}/raw/die`)
  ws.send('this kills the upstream')
  const end = await closed
  assert.equal(end.code, 1011)
  assert.match(end.reason, /raw .*unexpectedly/)
  await waitUntil('the "websocket closed" log line', () => gw.logs.some((l) => l.msg === 'websocket closed'))
  assert.ok(gw.logs.some((l) => l.level === 'warn' && typeof l.msg === 'string' && l.msg.startsWith('upstream websocket broke off')))
  assert.match(await metricsText(gw), /gerbang_upstream_errors_total\{integration="raw",code="[A-Za-z_]+"\} 1/)
  const again = await connect(`${base}/raw/echo`)
  assert.equal((await exchange(again.ws, 3, (i) => `lagi ${i}`)).length, 3)
  again.ws.close()
  assert.deepEqual(unhandled, [])
})

test('a message from the client larger than bodyLimit closes the socket with 1009', async (t) => {
  const origin = await startWsOrigin(t)
  const gw = await startGateway(t, ['defaults:', '  auth: none', 'integrations:', '  kecil:', `    upstream: ${origin.url}`,
    '    rewritePrefix: /echo', '    websocket: true', '    bodyLimit: 1kb', ''].join('\n'))
  const { ws, closed } = await connect(`${wsBase(gw)}/kecil/x`)
  assert.equal((await exchange(ws, 1, () => Buffer.alloc(1024)))[0]?.data.length, 1024)
  ws.send(Buffer.alloc(1025))
  assert.equal((await closed).code, 1009)
})
