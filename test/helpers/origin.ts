import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net'
import type { TestContext } from 'node:test'

/** What an origin server saw of one request. */
export interface SeenRequest {
  method: string
  url: string
  headers: IncomingMessage['headers']
  rawHeaders: string[]
}

export interface Origin {
  url: string
  port: number
  server: Server
  seen: SeenRequest[]
  close: () => Promise<void>
}

export type OriginHandler = (req: IncomingMessage, res: ServerResponse) => void

/** A real HTTP server on 127.0.0.1 and a free port, recording every request it receives. */
export async function startOrigin (handler: OriginHandler): Promise<Origin> {
  const seen: SeenRequest[] = []
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders })
    handler(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    seen,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
    }
  }
}

/** An origin that answers every request with JSON describing it (method, url, headers, body size). */
export async function startEchoOrigin (): Promise<Origin> {
  return await startOrigin((req, res) => {
    let bytes = 0
    req.on('data', (chunk: Buffer) => { bytes += chunk.length })
    req.on('end', () => {
      const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, bodyBytes: bytes })
      res.writeHead(200, { 'content-type': 'application/json', 'x-origin': 'echo' })
      res.end(body)
    })
  })
}

/** A TCP server that closes every connection on its first byte; counts connections. */
export async function startDroppingTcp (t: TestContext): Promise<{ port: number, connections: () => number }> {
  let connections = 0
  const sockets = new Set<Socket>()
  const server = createNetServer((socket) => {
    connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    socket.once('data', () => socket.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => { resolve() }))
  })
  return { port: (server.address() as AddressInfo).port, connections: () => connections }
}
