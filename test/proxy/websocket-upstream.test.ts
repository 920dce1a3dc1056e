import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer, type WebSocket } from 'ws'
import { dialUpstream, type UpstreamDial } from '../../src/proxy/websocket-upstream.js'

// The upstream's side of a WebSocket upgrade on its own (src/proxy/websocket.ts
// drives it): one outcome per dial, and none once the dial is given up.

interface Outcome { accepted?: WebSocket, refused?: { code: string, reason: string } }

/** A server on 127.0.0.1 that accepts WebSockets on /ws, answers 404 elsewhere, and never answers /hang. */
async function upstream (t: TestContext): Promise<string> {
  const server = createServer((req, res) => { res.writeHead(404).end() })
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (offered) => offered.has('chat') ? 'chat' : false })
  server.on('upgrade', (req, socket, head) => {
    if (req.url === '/hang') return
    if (req.url !== '/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n')
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => { ws.on('error', () => {}) })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    server.closeAllConnections()
    server.close()
    wss.close()
  })
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function dial (
  base: string, path: string, timeoutMs = 5000
): { outcome: Promise<Outcome>, giveUp: () => void, calls: () => number } {
  let calls = 0
  let done: (o: Outcome) => void = () => {}
  const outcome = new Promise<Outcome>((resolve) => { done = resolve })
  const options: UpstreamDial = {
    url: base + path,
    protocols: ['chat'],
    headers: { 'x-request-id': 'dial-1' },
    connect: {},
    name: 'chat',
    timeoutMs,
    accepted: (ws) => { calls++; done({ accepted: ws }) },
    refused: (code, reason) => { calls++; done({ refused: { code, reason } }) }
  }
  const giveUp = dialUpstream(options)
  return { outcome, giveUp, calls: () => calls }
}

test('an upstream that accepts: accepted once, with the subprotocol it chose', async (t) => {
  const base = await upstream(t)
  const { outcome, calls } = dial(base, '/ws')
  const { accepted } = await outcome
  assert.ok(accepted !== undefined)
  assert.equal(accepted.protocol, 'chat')
  accepted.terminate()
  assert.equal(calls(), 1)
})

test('an upstream that answers 404: refused with http_404 and the status in the reason', async (t) => {
  const base = await upstream(t)
  const { outcome, calls } = dial(base, '/nothing')
  assert.deepEqual((await outcome).refused, { code: 'http_404', reason: 'chat answered 404 instead of accepting the WebSocket' })
  assert.equal(calls(), 1)
})

test('an upstream that does not answer in time: refused with timeout', async (t) => {
  const base = await upstream(t)
  const { outcome } = dial(base, '/hang', 200)
  assert.deepEqual((await outcome).refused, { code: 'timeout', reason: 'chat did not accept the WebSocket within 200 ms' })
})

test('a dial given up calls neither handler', async (t) => {
  const base = await upstream(t)
  const { giveUp, calls } = dial(base, '/hang', 100)
  giveUp()
  await new Promise((resolve) => setTimeout(resolve, 300))
  assert.equal(calls(), 0)
})

test('a URL ws cannot dial throws at once', () => {
  assert.throws(() => dial('http+unix://nowhere', ''))
})
