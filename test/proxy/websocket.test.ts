// WebSocket on integrations with `websocket: true` (docs/contract.md section 9):
// the upgrade is checked like any request and refused over HTTP with a
// problem document; once accepted, messages flow both ways with
// backpressure until either side closes; idleTimeout, revocation, reloads
// and shutdown close sockets; the upstream never sees the client's credentials.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, request, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WebSocket, WebSocketServer, type RawData } from 'ws'
import { startGateway, routesFrom, type TestGateway } from '../helpers/gateway.js'
import { startGatewayProcess } from '../helpers/process.js'
import { login, startAdminGateway, USERS } from '../helpers/admin.js'
import { trapUnhandled } from '../helpers/unhandled.js'
import { assertProblem, closedPort, send, type Answer } from './client.js'
import { assertElapsed, LATE_MS, sleep, waitUntil } from '../helpers/time.js'

const unhandled = trapUnhandled()
const MiB = 1024 * 1024

// ---------------------------------------------------------------------------
// The upstream: a real WebSocket server on 127.0.0.1

interface SeenUpgrade { url: string, headers: IncomingMessage['headers'] }

interface WsOrigin {
  url: string
  port: number
  server: Server
  /** Every handshake it received (accepted or refused). */
  seen: SeenUpgrade[]
  /** Its side of every accepted connection, in order. */
  sockets: WebSocket[]
  /** Closes seen on its side: code and reason. */
  closes: Array<{ code: number, reason: string }>
  /** Bytes and sha256 of what /slow received. */
  slow: { bytes: number, hash: ReturnType<typeof createHash> }
}

/**
 * Paths: /echo… echoes every message (text stays text, binary stays
 * binary); /refuse answers 403 to the handshake; /die breaks the connection
 * on its first message; /slow reads at about 20 MiB/s; /silent says nothing;
 * /hang never answers the handshake;
 * /talk sends a message every `every` ms (query).
 */
async function startWsOrigin (t: TestContext): Promise<WsOrigin> {
  const server = createServer((_req, res) => { res.writeHead(426, { 'content-type': 'text/plain' }).end('WebSocket only\n') })
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (offered) => offered.has('chat.v2') ? 'chat.v2' : false })
  const origin: WsOrigin = { url: '', port: 0, server, seen: [], sockets: [], closes: [], slow: { bytes: 0, hash: createHash('sha256') } }
  const raw = new Set<Socket>()
  server.on('connection', (s: Socket) => { raw.add(s); s.on('close', () => raw.delete(s)) })
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    origin.seen.push({ url: req.url ?? '', headers: req.headers })
    if ((req.url ?? '').startsWith('/hang')) return // never answers the handshake
    if ((req.url ?? '').startsWith('/refuse')) {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nno\n')
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      origin.sockets.push(ws)
      ws.on('error', () => {})
      ws.on('close', (code, reason) => { origin.closes.push({ code, reason: reason.toString() }) })
      const url = new URL(req.url ?? '/', 'http://origin')
      if (url.pathname.startsWith('/echo')) {
        ws.on('message', (data: RawData, isBinary: boolean) => { ws.send(data, { binary: isBinary }) })
      } else if (url.pathname === '/die') {
        ws.on('message', () => { socket.destroy() })
      } else if (url.pathname === '/slow') {
        let sincePause = 0
        ws.on('message', (data: RawData) => {
          const chunk = data as Buffer
          origin.slow.bytes += chunk.length
          origin.slow.hash.update(chunk)
          sincePause += chunk.length
          if (sincePause >= MiB) {
            sincePause = 0
            ws.pause()
            setTimeout(() => { ws.resume() }, 50)
          }
        })
      } else if (url.pathname === '/talk') {
        const every = Number(url.searchParams.get('every') ?? 300)
        const timer = setInterval(() => { ws.send('tick') }, every)
        ws.on('close', () => { clearInterval(timer) })
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin.port = (server.address() as AddressInfo).port
  origin.url = `http://127.0.0.1:${origin.port}`
  t.after(async () => {
    for (const s of raw) s.destroy()
    await new Promise<void>((resolve) => server.close(() => { resolve() }))
  })
  return origin
}

// ---------------------------------------------------------------------------
// The client side

interface Closed { code: number, reason: string, at: number }

/** Opens a WebSocket to the gateway; rejects with the HTTP answer when the upgrade is refused. */
async function connect (
  url: string, options: { headers?: Record<string, string>, protocols?: string[] } = {}
): Promise<{ ws: WebSocket, response: IncomingMessage, closed: Promise<Closed> }> {
  const ws = new WebSocket(url, options.protocols ?? [], { headers: options.headers ?? {}, perMessageDeflate: false })
  const closed = new Promise<Closed>((resolve) => {
    ws.on('close', (code, reason) => { resolve({ code, reason: reason.toString(), at: performance.now() }) })
  })
  ws.on('error', () => {})
  let upgraded: IncomingMessage | undefined
  ws.once('upgrade', (res: IncomingMessage) => { upgraded = res })
  // 'open', not 'upgrade' and a look at readyState: a close right behind the 101 is read before a promise continues.
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    ws.once('open', () => { resolve(upgraded as IncomingMessage) })
    ws.once('unexpected-response', (_req, res: IncomingMessage) => {
      const parts: Buffer[] = []
      res.on('data', (c: Buffer) => parts.push(c))
      res.on('end', () => { reject(Object.assign(new Error(`upgrade refused with ${res.statusCode ?? 0}`), { answer: toAnswer(res, Buffer.concat(parts)) })) })
    })
    ws.once('error', reject)
  })
  return { ws, response, closed }
}

function toAnswer (res: IncomingMessage, body: Buffer): Answer {
  return { status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body }
}

/** The HTTP answer to an upgrade request the gateway refuses. */
async function refusal (url: string, headers: Record<string, string> = {}): Promise<Answer> {
  try {
    const { ws } = await connect(url, { headers })
    ws.terminate()
  } catch (err) {
    const answer = (err as { answer?: Answer }).answer
    if (answer !== undefined) return answer
    throw err
  }
  throw new Error(`the upgrade to ${url} was accepted`)
}

/** An upgrade request written as given (what a WebSocket client would not send), and the HTTP answer to it. */
async function rawUpgrade (base: string, path: string, headers: Record<string, string>, method = 'GET'): Promise<Answer> {
  const { hostname, port } = new URL(base)
  const req = request({
    host: hostname,
    port,
    path,
    method,
    headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64'), ...headers }
  })
  req.end()
  const [res] = await Promise.race([once(req, 'response'), once(req, 'upgrade').then(() => { throw new Error('upgraded') })]) as [IncomingMessage]
  const parts: Buffer[] = []
  for await (const chunk of res) parts.push(chunk as Buffer)
  return toAnswer(res, Buffer.concat(parts))
}

/** Sends `count` messages and waits for as many answers, in order. */
async function exchange (
  ws: WebSocket, count: number, make: (i: number) => string | Buffer
): Promise<Array<{ data: Buffer, binary: boolean }>> {
  const got: Array<{ data: Buffer, binary: boolean }> = []
  const done = new Promise<void>((resolve) => {
    const onMessage = (data: RawData, binary: boolean): void => {
      got.push({ data: data as Buffer, binary })
      if (got.length === count) {
        ws.off('message', onMessage)
        resolve()
      }
    }
    ws.on('message', onMessage)
  })
  for (let i = 0; i < count; i++) ws.send(make(i))
  await done
  return got
}

function wsBase (gw: { url: string }): string {
  return gw.url.replace(/^http/, 'ws')
}

const ROUTES = (origin: string, extra: string[] = []): string => [
  'integrations:',
  '  chat:',
  `    upstream: ${origin}`,
  '    rewritePrefix: /echo',
  '    websocket: true',
  '    apiKeyQuery: api_key',
  '  raw:',
  `    upstream: ${origin}`,
  '    websocket: true',
  '    auth: none',
  '    idleTimeout: 1s',
  '  limited:',
  `    upstream: ${origin}`,
  '    rewritePrefix: /echo',
  '    websocket: true',
  '    rateLimit: 2/1m',
  '  plain:',
  `    upstream: ${origin}`,
  '    rewritePrefix: /echo',
  ...extra,
  ''
].join('\n')

interface Fixture { origin: WsOrigin, gw: TestGateway, base: string, key: string, clientId: string }

async function fixture (t: TestContext, extra: string[] = []): Promise<Fixture> {
  const origin = await startWsOrigin(t)
  const gw = await startGateway(t, ROUTES(origin.url, extra))
  const client = await gw.app.clients.create({ name: 'Dasbor Dinkes', integrations: ['chat', 'raw', 'limited'] })
  return { origin, gw, base: wsBase(gw), key: client.key, clientId: client.client.id }
}

async function metricsText (gw: TestGateway): Promise<string> {
  return await (await fetch(`${gw.url}/metrics`)).text()
}

// ---------------------------------------------------------------------------

test('a browser-style key in the query (apiKeyQuery) opens the socket; the upstream never sees it and gets the gateway\'s identity headers', async (t) => {
  const { origin, gw, base, key, clientId } = await fixture(t)
  const { ws, response } = await connect(`${base}/chat/room/7?lang=id&api_key=${encodeURIComponent(key)}`, {
    protocols: ['chat.v1', 'chat.v2'],
    headers: { origin: 'https://dashboard.bantenprov.go.id', 'x-request-id': 'ws-trace-1' }
  })
  assert.equal(response.statusCode, 101)
  assert.equal(response.headers['x-request-id'], 'ws-trace-1')
  assert.equal(ws.protocol, 'chat.v2', 'the upstream\'s choice of subprotocol')
  const [answer] = await exchange(ws, 1, () => 'halo')
  assert.equal(answer?.data.toString(), 'halo')
  ws.close(1000)

  assert.equal(origin.seen.length, 1)
  const seen = origin.seen[0] as SeenUpgrade
  assert.equal(seen.url, '/echo/room/7?lang=id', 'rewritten as for HTTP, the key removed')
  const everything = JSON.stringify(seen)
  assert.ok(!everything.includes(key), 'the key appears nowhere in what the upstream received')
  assert.equal(seen.headers['x-client-id'], clientId)
  assert.equal(seen.headers['x-client-name'], 'Dasbor Dinkes')
  assert.equal(seen.headers['x-request-id'], 'ws-trace-1')
  assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1')
  assert.equal(seen.headers['x-forwarded-proto'], 'http')
  assert.equal(seen.headers['x-forwarded-host'], new URL(gw.url).host)
  assert.equal(seen.headers.origin, 'https://dashboard.bantenprov.go.id')
  assert.equal(seen.headers['sec-websocket-protocol'], 'chat.v1,chat.v2')
  assert.equal(seen.headers['x-api-key'], undefined)
  assert.equal(seen.headers.authorization, undefined)
  // One access line for the upgrade, with its 101; none of them holds the key.
  await waitUntil('the "websocket closed" log line', () => gw.logs.some((l) => l.msg === 'websocket closed'))
  const access = gw.logs.find((l) => l.msg === 'request' && l.integration === 'chat')
  assert.equal(access?.status, 101)
  assert.equal(access?.client, clientId)
  assert.ok(!JSON.stringify(gw.logs).includes(key), 'the key is never logged')
})

test('the x-api-key header (and a bearer token) work as for any request, and never reach the upstream', async (t) => {
  const { origin, gw, base, key, clientId } = await fixture(t)
  const { ws } = await connect(`${base}/chat/header`, { headers: { 'x-api-key': key } })
  assert.equal((await exchange(ws, 1, () => 'satu'))[0]?.data.toString(), 'satu')
  ws.close()
  const seen = origin.seen[0] as SeenUpgrade
  assert.equal(seen.url, '/echo/header')
  assert.equal(seen.headers['x-client-id'], clientId)
  assert.ok(!JSON.stringify(seen).includes(key))

  const token = await fetch(`${gw.url}/oauth2/v1/accesstoken?grant_type=client_credentials`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: clientId, client_secret: key })
  })
  assert.equal(token.status, 200)
  const { access_token: bearer } = await token.json() as { access_token: string }
  const second = await connect(`${base}/chat/bearer`, { headers: { authorization: `Bearer ${bearer}` } })
  assert.equal((await exchange(second.ws, 1, () => 'dua'))[0]?.data.toString(), 'dua')
  second.ws.close()
  assert.equal(origin.seen[1]?.headers.authorization, undefined)
})

test('no key: 401 problem+json over plain HTTP, and nothing reaches the upstream', async (t) => {
  const { origin, base } = await fixture(t)
  const answer = await refusal(`${base}/chat/room`)
  assertProblem(answer, 401, 'CREDENTIALS_MISSING', '/chat/room')
  assert.equal(answer.headers.connection, 'close')
  const wrong = await refusal(`${base}/chat/room?api_key=gk_live_${'x'.repeat(40)}`)
  assert.equal(wrong.status, 401)
  assert.equal(origin.seen.length, 0)
  // The same answer for a plain HTTP request to the upgrade URL.
  assertProblem(await send(base.replace(/^ws/, 'http'), '/chat/room'), 401, 'CREDENTIALS_MISSING')
})

test('a client not granted the integration: 403 INTEGRATION_FORBIDDEN', async (t) => {
  const { origin, gw, base } = await fixture(t)
  const other = await gw.app.clients.create({ name: 'Lain', integrations: ['limited'] })
  assertProblem(await refusal(`${base}/chat/room?api_key=${other.key}`), 403, 'INTEGRATION_FORBIDDEN')
  assert.equal(origin.seen.length, 0)
})

test('the rate limit counts each upgrade as one request: 429 with Retry-After past it', async (t) => {
  const { origin, base, key } = await fixture(t)
  const sockets: WebSocket[] = []
  for (let i = 0; i < 2; i++) {
    const { ws, response } = await connect(`${base}/limited/x`, { headers: { 'x-api-key': key } })
    assert.match(String(response.headers.ratelimit), /"default";r=\d+;t=\d+/)
    sockets.push(ws)
  }
  const answer = await refusal(`${base}/limited/x`, { 'x-api-key': key })
  assertProblem(answer, 429, 'RATE_LIMITED')
  assert.ok(Number(answer.headers['retry-after']) > 0)
  assert.equal(origin.seen.length, 2)
  // Messages on an open socket are not requests: they are never limited.
  assert.equal((await exchange(sockets[0] as WebSocket, 50, (i) => `m${i}`)).length, 50)
  for (const ws of sockets) ws.close()
})

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

test('idleTimeout applies to silence in both directions', { timeout: 20_000 }, async (t) => {
  const { origin, base } = await fixture(t)
  // raw: idleTimeout 1s. For 2.1 s, one client talks every 300 ms to an upstream that says nothing,
  // and another one says nothing to an upstream that talks every 300 ms: both stay open.
  const talking = await connect(`${base}/raw/silent`)
  const listening = await connect(`${base}/raw/talk?every=300`)
  let heard = 0
  listening.ws.on('message', () => { heard++ })
  let lastSentAt = 0
  for (let i = 0; i < 7; i++) {
    talking.ws.send(`ping ${i}`)
    lastSentAt = performance.now()
    await sleep(300)
  }
  assert.equal(talking.ws.readyState, WebSocket.OPEN, 'messages from the client alone keep it open')
  assert.equal(listening.ws.readyState, WebSocket.OPEN, 'messages from the upstream alone keep it open')
  assert.ok(heard >= 5, `the client heard ${heard} messages`)
  listening.ws.close()
  // Now the first one falls silent both ways: closed about 1 s after its last message.
  const end = await talking.closed
  const after = end.at - lastSentAt
  t.diagnostic(`closed ${Math.round(after)} ms after the last message`)
  assert.equal(end.code, 1001)
  assert.match(end.reason, /idleTimeout/)
  assertElapsed(after, 900, 1000, 'closed after silence')
  await waitUntil('the upstream\'s side closed with 1001', () => origin.closes.some((c) => c.code === 1001))
  assert.ok(origin.closes.some((c) => c.code === 1001 && /idleTimeout/.test(c.reason)), 'the upstream\'s side is closed too')
})

test('revoking the client closes its open sockets within 1 s (1008), and only its own', async (t) => {
  const { base, key, clientId, gw } = await fixture(t)
  const other = await gw.app.clients.create({ name: 'Lain', integrations: ['chat'] })
  const mine = await Promise.all([connect(`${base}/chat/a?api_key=${key}`), connect(`${base}/chat/b`, { headers: { 'x-api-key': key } })])
  const theirs = await connect(`${base}/chat/c?api_key=${other.key}`)
  const revokedAt = performance.now()
  await gw.app.clients.revoke(clientId)
  const ends = await Promise.all(mine.map(async (m) => await m.closed))
  for (const end of ends) {
    assert.equal(end.code, 1008)
    assert.match(end.reason, /revoked/)
    assert.ok(end.at - revokedAt < 1000, `closed ${Math.round(end.at - revokedAt)} ms after the revocation`)
  }
  t.diagnostic(`closed ${ends.map((e) => Math.round(e.at - revokedAt)).join(', ')} ms after the revocation`)
  assert.equal(theirs.ws.readyState, WebSocket.OPEN)
  assert.equal((await exchange(theirs.ws, 1, () => 'masih'))[0]?.data.toString(), 'masih')
  theirs.ws.close()
  assertProblem(await refusal(`${base}/chat/a?api_key=${key}`), 401, 'CREDENTIALS_INVALID')
})

test('rotating the key without a grace period closes the sockets opened with the old one (1008)', async (t) => {
  const { base, key, clientId, gw } = await fixture(t)
  const { closed } = await connect(`${base}/chat/a?api_key=${key}`)
  const rotated = await gw.app.clients.rotate(clientId, 0)
  assert.ok(rotated !== undefined)
  const end = await closed
  assert.equal(end.code, 1008)
  const fresh = await connect(`${base}/chat/a?api_key=${rotated.key}`)
  assert.equal((await exchange(fresh.ws, 1, () => 'kunci baru'))[0]?.data.toString(), 'kunci baru')
  fresh.ws.close()
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

test('a reload that removes the integration (or its websocket) closes its sockets with 1001; others stay', async (t) => {
  const { origin, base, key, gw } = await fixture(t)
  const chat = await connect(`${base}/chat/a?api_key=${key}`)
  const raw = await connect(`${base}/raw/echo`)
  const limited = await connect(`${base}/limited/echo`, { headers: { 'x-api-key': key } })
  // chat is gone, raw no longer takes WebSocket, limited is unchanged.
  gw.app.applyRoutes(routesFrom([
    'integrations:',
    '  raw:', `    upstream: ${origin.url}`, '    auth: none',
    '  limited:', `    upstream: ${origin.url}`, '    rewritePrefix: /echo', '    websocket: true', '    rateLimit: 2/1m', ''
  ].join('\n')))
  const [chatEnd, rawEnd] = await Promise.all([chat.closed, raw.closed])
  assert.equal(chatEnd.code, 1001)
  assert.match(chatEnd.reason, /chat was removed/)
  assert.equal(rawEnd.code, 1001)
  assert.match(rawEnd.reason, /raw no longer accepts WebSocket/)
  assert.equal((await exchange(limited.ws, 1, () => 'tetap'))[0]?.data.toString(), 'tetap')
  limited.ws.close()
  assertProblem(await refusal(`${base}/raw/echo`), 400, 'BAD_REQUEST')
})

test('closing the app closes open sockets with 1001, both sides, and does not wait for them', async (t) => {
  const origin = await startWsOrigin(t)
  const gw = await startGateway(t, ROUTES(origin.url))
  const { ws, closed } = await connect(`${wsBase(gw)}/raw/echo`)
  assert.equal((await exchange(ws, 1, () => 'x'))[0]?.data.toString(), 'x')
  // An upgrade still waiting for its upstream's answer when the gateway stops: 503 over HTTP.
  const waiting = refusal(`${wsBase(gw)}/raw/hang`)
  await waitUntil('the upgrade to reach the upstream', () => origin.seen.some((s) => s.url === '/hang'))
  const started = performance.now()
  await gw.app.close()
  const took = performance.now() - started
  assertProblem(await waiting, 503, 'SHUTTING_DOWN')
  const end = await closed
  assert.equal(end.code, 1001)
  assert.match(end.reason, /shutting down/)
  // Sockets that do not finish the closing handshake within a second are cut.
  assert.ok(took < 1000 + LATE_MS, `app.close took ${Math.round(took)} ms`)
  await waitUntil('the upstream\'s side to close', () => origin.closes.length === 1)
  assert.equal(origin.closes[0]?.code, 1001)
})

test('an integration without websocket: true refuses the upgrade with a problem (400); other Upgrade tokens are plain requests', async (t) => {
  const { origin, base, key, gw } = await fixture(t)
  const answer = await refusal(`${base}/plain/x?api_key=${key}`)
  assertProblem(answer, 400, 'BAD_REQUEST')
  assert.match(JSON.parse(answer.body.toString()).detail as string, /plain does not accept WebSocket/)
  assert.equal(origin.seen.length, 0)
  // Malformed handshakes are refused before credentials are looked at.
  const version = await rawUpgrade(gw.url, '/chat/x', { 'sec-websocket-version': '8' })
  assertProblem(version, 400, 'BAD_REQUEST')
  assert.equal(version.headers['sec-websocket-version'], '13')
  assertProblem(await rawUpgrade(gw.url, '/chat/x', { 'sec-websocket-key': 'short' }), 400, 'BAD_REQUEST')
  assertProblem(await rawUpgrade(gw.url, '/chat/x', {}, 'POST'), 400, 'BAD_REQUEST')
  // Not a WebSocket upgrade (curl --http2 on http://): answered as the plain request it also is.
  const { hostname, port } = new URL(gw.url)
  const req = request({ host: hostname, port, path: '/healthz', headers: { connection: 'Upgrade, HTTP2-Settings', upgrade: 'h2c', 'http2-settings': 'AAMAAABkAARAAAAAAAIAAAAA' } })
  req.end()
  const [res] = await once(req, 'response') as [IncomingMessage]
  assert.equal(res.statusCode, 200)
  res.resume()
  // Unknown paths: 404 as ever.
  assertProblem(await refusal(`${base}/nowhere/x`), 404, 'ROUTE_NOT_FOUND')
})

test('/doc and the admin Routes page say which integrations accept WebSocket', async (t) => {
  const origin = await startWsOrigin(t)
  const gw = await startAdminGateway(t, { routes: routesFrom(ROUTES(origin.url)) })
  const doc = await (await fetch(`${gw.url}/doc/json`)).json() as { tags: Array<{ name: string, description: string, 'x-websocket'?: boolean }> }
  const tag = (name: string): { description: string, 'x-websocket'?: boolean } => doc.tags.find((t) => t.name === name) ?? assert.fail(`no tag ${name}`)
  assert.equal(tag('chat')['x-websocket'], true)
  assert.match(tag('chat').description, /WebSocket.*\/chat\/…/)
  assert.match(tag('chat').description, /new WebSocket\('wss:\/\/<gateway>\/chat\/…\?api_key=<kunci>'\)/)
  assert.equal(tag('plain')['x-websocket'], false)
  assert.doesNotMatch(tag('plain').description, /WebSocket/)

  const viewer = await login(gw.url, USERS.viewer)
  const routes = await (await viewer.call('GET', '/routes')).json() as { integrations: Array<{ name: string, websocket: boolean, idleTimeoutMs: number }> }
  assert.deepEqual(routes.integrations.map((i) => [i.name, i.websocket, i.idleTimeoutMs]),
    [['chat', true, 30_000], ['raw', true, 1000], ['limited', true, 30_000], ['plain', false, 30_000]])
})

// ---------------------------------------------------------------------------
// The gateway as its own process: memory

/** The resident set size of a process, in bytes. */
function rssOf (pid: number): number {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  assert.ok(match !== null, `no VmRSS for ${pid}`)
  return Number(match[1]) * 1024
}

async function idleRss (pid: number): Promise<number> {
  let low = rssOf(pid)
  for (let i = 0; i < 10; i++) {
    await sleep(20)
    low = Math.min(low, rssOf(pid))
  }
  return low
}

async function gatewayProcess (
  t: TestContext, origin: WsOrigin
): Promise<{ url: string, pid: number, logs: Array<Record<string, unknown>> }> {
  const dir = await mkdtemp(join(tmpdir(), 'gerbang-ws-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const file = join(dir, 'routes.yaml')
  await writeFile(file, [
    'defaults:', '  auth: none', '  rateLimit: 100000/1m', 'integrations:',
    '  up:', `    upstream: ${origin.url}`, '    websocket: true', '    bodyLimit: 1mb', '    idleTimeout: 5m', ''
  ].join('\n'))
  const gw = await startGatewayProcess(t, file)
  assert.ok(gw.child.pid !== undefined)
  return { url: gw.url, pid: gw.child.pid, logs: gw.logs }
}

/**
 * Sends 64 MiB to /slow in frames of `frameSize` bytes, the client keeping at
 * most 4 MiB waiting on its side; returns the gateway's RSS growth over its
 * idle RSS just before.
 */
async function slowUpload (
  t: TestContext, gw: { url: string, pid: number }, origin: WsOrigin, frameSize: number
): Promise<number> {
  const before = await idleRss(gw.pid)
  origin.slow.bytes = 0
  origin.slow.hash = createHash('sha256')
  const { ws } = await connect(`${wsBase(gw)}/up/slow`)
  let peak = before
  const sampler = setInterval(() => { peak = Math.max(peak, rssOf(gw.pid)) }, 20)
  const sent = createHash('sha256')
  const started = performance.now()
  const frame = randomBytes(frameSize)
  for (let i = 0; i < 64 * MiB / frameSize; i++) {
    const chunk = Buffer.from(frame)
    chunk.writeUInt32BE(i, 0)
    sent.update(chunk)
    ws.send(chunk)
    // What piles up beyond this would be in the gateway, or held back by it.
    await waitUntil('the client\'s send buffer to drain under 4 MiB', () => ws.bufferedAmount <= 4 * MiB, { timeoutMs: 30_000, intervalMs: 5 })
  }
  await waitUntil('the upstream to read all 64 MiB', () => origin.slow.bytes >= 64 * MiB, { timeoutMs: 60_000 })
  clearInterval(sampler)
  peak = Math.max(peak, rssOf(gw.pid))
  const growth = peak - before
  t.diagnostic(`64 MiB in ${frameSize / 1024} KiB frames in ${Math.round(performance.now() - started)} ms; gateway RSS ` +
    `${(before / MiB).toFixed(1)} → peak ${(peak / MiB).toFixed(1)} MiB, growth ${(growth / MiB).toFixed(1)} MiB`)
  assert.equal(origin.slow.bytes, 64 * MiB)
  assert.equal(origin.slow.hash.digest('hex'), sent.digest('hex'), 'every byte arrived, in order')
  ws.close()
  await sleep(300)
  return growth
}

/** A gateway process with every code path run once, ready for a baseline. */
async function warmGateway (t: TestContext, origin: WsOrigin): Promise<{ url: string, pid: number }> {
  const gw = await gatewayProcess(t, origin)
  const warm = await connect(`${wsBase(gw)}/up/echo`)
  await exchange(warm.ws, 20, () => randomBytes(64 * 1024))
  warm.ws.close()
  await warm.closed
  await sleep(300)
  return gw
}

test('64 MiB from a client to a slow upstream: backpressure holds the gateway\'s RSS growth under 32 MiB', { timeout: 120_000 }, async (t) => {
  const origin = await startWsOrigin(t)
  // The upstream reads 20 MiB/s. Without backpressure the gateway would hold most of the 64 MiB
  // (measured with it taken out: about 100 MiB of growth, whatever the frame size).
  const growth = await slowUpload(t, await warmGateway(t, origin), origin, 8 * 1024)
  assert.ok(growth < 32 * MiB, `the gateway's RSS grew by ${(growth / MiB).toFixed(1)} MiB`)
})

test('64 MiB in 64 KiB frames to a slow upstream: the same backpressure, RSS growth under 32 MiB too', { timeout: 120_000 }, async (t) => {
  // Each 64 KiB message costs two short-lived buffers in the gateway (socket reads, ws's
  // reassembly of a frame split across reads; the upstream gets it unmasked-copy-free, see
  // zeroMask in src/proxy/websocket.ts), and V8 collects dead buffers only once enough of
  // them have piled up: the growth is that garbage, measured 23 MiB, never near 64 MiB.
  const origin = await startWsOrigin(t)
  const growth = await slowUpload(t, await warmGateway(t, origin), origin, 64 * 1024)
  assert.ok(growth < 32 * MiB, `the gateway's RSS grew by ${(growth / MiB).toFixed(1)} MiB`)
})

test('1,000 concurrent idle sockets are held (RSS per socket reported)', { timeout: 120_000 }, async (t) => {
  const origin = await startWsOrigin(t)
  const gw = await gatewayProcess(t, origin)
  const base = wsBase(gw)
  const warm = await connect(`${base}/up/echo`)
  await exchange(warm.ws, 5, (i) => `w${i}`)
  warm.ws.close()
  await warm.closed
  await sleep(300)
  const before = await idleRss(gw.pid)
  const clients: Array<Awaited<ReturnType<typeof connect>>> = []
  for (let batch = 0; batch < 10; batch++) {
    clients.push(...await Promise.all(Array.from({ length: 100 }, async () => await connect(`${base}/up/echo`))))
  }
  assert.equal(clients.length, 1000)
  await sleep(500)
  const after = await idleRss(gw.pid)
  const perSocket = (after - before) / 1000
  t.diagnostic(`gateway RSS ${(before / MiB).toFixed(1)} → ${(after / MiB).toFixed(1)} MiB with 1,000 idle WebSockets: ` +
    `${(perSocket / 1024).toFixed(1)} KiB per socket (its client and upstream connections together)`)
  const metrics = await (await fetch(`${gw.url}/metrics`)).text()
  assert.match(metrics, /gerbang_websockets_open\{integration="up"\} 1000/)
  // Every one of them still works.
  const answers = await Promise.all(clients.map(async (c, i) => (await exchange(c.ws, 1, () => `s${i}`))[0]?.data.toString()))
  assert.deepEqual(answers, clients.map((_c, i) => `s${i}`))
  assert.ok(perSocket < 100 * 1024, `${(perSocket / 1024).toFixed(1)} KiB per socket`)
  for (const c of clients) c.ws.close()
  await Promise.all(clients.map(async (c) => await c.closed))
})

test('SIGTERM: open sockets are closed with 1001 and the process exits 0', { timeout: 30_000 }, async (t) => {
  const origin = await startWsOrigin(t)
  const dir = await mkdtemp(join(tmpdir(), 'gerbang-ws-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const file = join(dir, 'routes.yaml')
  await writeFile(file, ['defaults:', '  auth: none', 'integrations:', '  up:', `    upstream: ${origin.url}`, '    websocket: true', ''].join('\n'))
  const gw = await startGatewayProcess(t, file)
  const { ws, closed } = await connect(`${wsBase(gw)}/up/echo`)
  assert.equal((await exchange(ws, 1, () => 'sebelum'))[0]?.data.toString(), 'sebelum')
  gw.child.kill('SIGTERM')
  const end = await closed
  assert.equal(end.code, 1001)
  const { code, signal } = await gw.exited
  assert.equal(signal, null)
  assert.equal(code, 0)
  await waitUntil('the upstream\'s side to close', () => origin.closes.length === 1)
  assert.equal(origin.closes[0]?.code, 1001)
})
