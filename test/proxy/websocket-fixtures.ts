// What the WebSocket tests (test/proxy/websocket-*.test.ts) share: a real
// WebSocket upstream on 127.0.0.1, a client that opens sockets through the
// gateway (or gets the HTTP answer when the upgrade is refused), and a
// gateway with the integrations most of them use.
import { type TestContext } from 'node:test'
import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { WebSocket, WebSocketServer, type RawData } from 'ws'
import { startGateway, type TestGateway } from '../helpers/gateway.js'
import { type Answer } from './client.js'

export const MiB = 1024 * 1024

// ---------------------------------------------------------------------------
// The upstream: a real WebSocket server on 127.0.0.1

export interface SeenUpgrade { url: string, headers: IncomingMessage['headers'] }

export interface WsOrigin {
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
export async function startWsOrigin (t: TestContext): Promise<WsOrigin> {
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

export interface Closed { code: number, reason: string, at: number }

/** Opens a WebSocket to the gateway; rejects with the HTTP answer when the upgrade is refused. */
export async function connect (
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

export function toAnswer (res: IncomingMessage, body: Buffer): Answer {
  return { status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body }
}

/** The HTTP answer to an upgrade request the gateway refuses. */
export async function refusal (url: string, headers: Record<string, string> = {}): Promise<Answer> {
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

/** Sends `count` messages and waits for as many answers, in order. */
export async function exchange (
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

export function wsBase (gw: { url: string }): string {
  return gw.url.replace(/^http/, 'ws')
}

export const ROUTES = (origin: string, extra: string[] = []): string => [
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

export interface Fixture { origin: WsOrigin, gw: TestGateway, base: string, key: string, clientId: string }

export async function fixture (t: TestContext, extra: string[] = []): Promise<Fixture> {
  const origin = await startWsOrigin(t)
  const gw = await startGateway(t, ROUTES(origin.url, extra))
  const client = await gw.app.clients.create({ name: 'Dasbor Dinkes', integrations: ['chat', 'raw', 'limited'] })
  return { origin, gw, base: wsBase(gw), key: client.key, clientId: client.client.id }
}
