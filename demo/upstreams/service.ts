// One tiny router shared by every sample upstream, and the HTTP server that
// runs one: each service is a list of routes and its own error shape.
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

const BASE_PATH = '/api/v1'

export type Json = Record<string, unknown>

export interface Call {
  params: Record<string, string>
  query: URLSearchParams
  /** A JSON or form body; undefined when there was none. */
  body: Json | undefined
  /** How the upstream's callers reach it, for the self links real services print. */
  baseUrl: string
}

export interface Answer {
  status?: number
  body: unknown
}

export type Route = [method: 'GET' | 'POST' | 'PUT', pattern: string, handler: (call: Call) => Answer]

export interface Service {
  routes: Route[]
  /** The service's own error shape: each real service has its own. */
  error: (status: number, reason: string) => unknown
}

class BadBody extends Error {}

const MAX_BODY_BYTES = 1024 * 1024

async function readBody (req: IncomingMessage): Promise<Json | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES) throw new BadBody('body too large')
    chunks.push(chunk as Buffer)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  if (text.trim() === '') return undefined
  // The dashboard's PHP clients post forms; newer clients post JSON.
  if ((req.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(text))
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new BadBody('body is not JSON')
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new BadBody('body is not a JSON object')
  return parsed as Json
}

function matchPattern (pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/')
  const got = path.split('/')
  if (want.length !== got.length) return undefined
  const params: Record<string, string> = {}
  for (let i = 0; i < want.length; i++) {
    const w = want[i] as string
    const g = got[i] as string
    if (w.startsWith(':')) {
      if (g === '') return undefined
      try {
        params[w.slice(1)] = decodeURIComponent(g)
      } catch {
        return undefined
      }
    } else if (w !== g) {
      return undefined
    }
  }
  return params
}

async function answer (service: Service, req: IncomingMessage): Promise<Answer> {
  const url = new URL(req.url ?? '/', 'http://upstream')
  if (url.pathname !== BASE_PATH && !url.pathname.startsWith(BASE_PATH + '/')) return { status: 404, body: service.error(404, 'NotFound') }
  const path = url.pathname.slice(BASE_PATH.length).replace(/\/+$/, '')
  const method = req.method === 'HEAD' ? 'GET' : req.method
  let pathMatched = false
  for (const [routeMethod, pattern, handler] of service.routes) {
    const params = matchPattern(pattern, path)
    if (params === undefined) continue
    pathMatched = true
    if (routeMethod !== method) continue
    let body: Json | undefined
    try {
      body = await readBody(req)
    } catch (err) {
      if (err instanceof BadBody) return { status: 400, body: service.error(400, err.message) }
      throw err
    }
    return handler({ params, query: url.searchParams, body, baseUrl: `http://${req.headers.host ?? 'localhost'}${BASE_PATH}` })
  }
  return pathMatched
    ? { status: 405, body: service.error(405, 'MethodNotAllowed') }
    : { status: 404, body: service.error(404, 'NotFound') }
}

export interface Running {
  server: Server
  origin: string
  close: () => Promise<void>
}

export async function serve (service: Service, host: string): Promise<Running> {
  let inFlight = 0
  let onIdle: (() => void) | undefined
  const server = createServer((req, res) => {
    inFlight++
    res.once('close', () => {
      if (--inFlight === 0) onIdle?.()
    })
    answer(service, req).then(({ status = 200, body }) => {
      const text = JSON.stringify(body)
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
      res.end(text)
    }, (err: unknown) => {
      res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' })
      res.end(JSON.stringify(service.error(500, err instanceof Error ? err.message : 'InternalError')))
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  const hostInUrl = host.includes(':') ? `[${host}]` : host
  return {
    server,
    origin: `http://${hostInUrl}:${port}${BASE_PATH}`,
    close: async () => {
      const closed = new Promise<void>((resolve) => { server.close(() => { resolve() }) })
      // Answers still being sent (the gateway may be finishing requests) get a
      // moment to complete; keep-alive connections left after that are cut.
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          onIdle = resolve
          setTimeout(resolve, 1000).unref()
        })
      }
      server.closeAllConnections()
      await closed
    }
  }
}
