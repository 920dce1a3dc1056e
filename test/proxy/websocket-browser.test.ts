// Issue 13, acceptance 2: a real Chromium opens a WebSocket to a
// `websocket: true` integration with its key in the query (browsers cannot
// set headers on a WebSocket), exchanges 100 messages with an echo
// upstream, and the upstream never sees the key; without a key the upgrade
// fails, and a plain HTTP request to the same URL gets the 401 problem.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { type Page } from 'playwright-core'
import { WebSocketServer } from 'ws'
import { startGateway } from '../helpers/gateway.js'
import { launchChromium, servePage } from '../helpers/chromium.js'

// The browser app: a live bed-availability board talking to the gateway.
const PAGE = `<!doctype html>
<html lang="id"><head><meta charset="utf-8"><title>Papan kamar</title></head>
<body><h1>Ketersediaan kamar (langsung)</h1><pre id="out"></pre>
<script>
  // Opens the socket, sends n messages one after the other, each after the echo of the last.
  window.talk = (url, n) => new Promise((resolve) => {
    const received = []
    const ws = new WebSocket(url)
    let opened = false
    ws.onopen = () => { opened = true; ws.send('kamar 0') }
    ws.onmessage = (event) => {
      received.push(event.data)
      if (received.length < n) ws.send('kamar ' + received.length)
      else ws.close(1000, 'selesai')
    }
    ws.onclose = (event) => resolve({ opened, received, code: event.code, reason: event.reason, wasClean: event.wasClean })
  })
</script></body></html>`

interface Talk { opened: boolean, received: string[], code: number, reason: string, wasClean: boolean }

interface EchoUpstream { url: string, seen: Array<{ url: string, headers: IncomingMessage['headers'] }> }

async function echoUpstream (t: TestContext): Promise<EchoUpstream> {
  const server = createServer((_req, res) => { res.writeHead(426).end() })
  const wss = new WebSocketServer({ server })
  const seen: EchoUpstream['seen'] = []
  const sockets = new Set<Socket>()
  server.on('connection', (s: Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)) })
  wss.on('connection', (ws, req) => {
    seen.push({ url: req.url ?? '', headers: req.headers })
    ws.on('message', (data, isBinary) => { ws.send(data, { binary: isBinary }) })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => { resolve() }))
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
}

async function openPage (t: TestContext, url: string): Promise<Page> {
  const browser = await launchChromium(t)
  const page = browser.pages()[0] ?? await browser.newPage()
  await page.goto(url)
  return page
}

test('Chromium: a WebSocket with the key in the query exchanges 100 messages; the upstream never sees the key; without a key the upgrade fails with 401', { timeout: 60_000 }, async (t) => {
  const upstream = await echoUpstream(t)
  const gw = await startGateway(t, [
    'integrations:',
    '  papan:',
    `    upstream: ${upstream.url}`,
    '    rewritePrefix: /live',
    '    websocket: true',
    '    apiKeyQuery: api_key',
    ''
  ].join('\n'))
  const { key } = await gw.app.clients.create({ name: 'Papan Kamar RSUD', integrations: ['papan'] })
  const page = await openPage(t, await servePage(t, PAGE))
  const wsBase = gw.url.replace(/^http/, 'ws')

  const talk = await page.evaluate(async ([url]) => await (globalThis as unknown as {
    talk: (u: string, n: number) => Promise<Talk>
  }).talk(url as string, 100), [`${wsBase}/papan/kamar?rs=7&api_key=${encodeURIComponent(key)}`])
  assert.equal(talk.opened, true)
  assert.equal(talk.received.length, 100)
  assert.deepEqual(talk.received, Array.from({ length: 100 }, (_, i) => `kamar ${i}`))
  assert.equal(talk.code, 1000)
  assert.equal(talk.wasClean, true)

  assert.equal(upstream.seen.length, 1)
  const seen = upstream.seen[0] as EchoUpstream['seen'][number]
  assert.equal(seen.url, '/live/kamar?rs=7')
  assert.ok(!JSON.stringify(seen).includes(key), 'the key is nowhere in what the upstream received')
  assert.equal(seen.headers['x-client-name'], 'Papan Kamar RSUD')
  assert.match(String(seen.headers.origin), /^http:\/\/127\.0\.0\.1:\d+$/, 'the page\'s origin, as the browser sent it')

  // Without a key: the browser's upgrade fails (a browser shows no more than that)…
  const refused = await page.evaluate(async ([url]) => await (globalThis as unknown as {
    talk: (u: string, n: number) => Promise<Talk>
  }).talk(url as string, 1), [`${wsBase}/papan/kamar?rs=7`])
  assert.equal(refused.opened, false)
  assert.equal(refused.code, 1006)
  assert.equal(upstream.seen.length, 1, 'nothing reached the upstream')
  // …and a plain HTTP request to the same URL reads why: the 401 problem.
  const res = await fetch(`${gw.url}/papan/kamar?rs=7`)
  assert.equal(res.status, 401)
  assert.equal(res.headers.get('content-type')?.startsWith('application/problem+json'), true)
  assert.equal((await res.json() as { code: string }).code, 'CREDENTIALS_MISSING')
  // The gateway logged the refused upgrade as a 401 too.
  assert.ok(gw.logs.some((l) => l.msg === 'request' && l.status === 401 && l.path === '/papan/kamar'))
  assert.ok(!JSON.stringify(gw.logs).includes(key), 'the key is never logged')
})
