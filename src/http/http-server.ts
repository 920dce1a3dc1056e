import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { GerbangError, PROBLEM_CONTENT_TYPE, problemJson, type ErrorCode } from '../errors.js'
import { saneRequestId } from '../proxy/headers.js'
import { pathOnly } from './problem.js'

// The Node HTTP server under Fastify, and what is answered before Fastify
// sees a request: a header section that never ends (slowloris), requests
// Node's parser refuses, and Host headers no honest client sends. Each gets
// a problem document with a request id, like every other refusal.

/**
 * A client has this long to send its request line and headers. Node checks
 * every CONNECTIONS_CHECK_MS, so the 408 comes up to that much later.
 */
export const HEADERS_TIMEOUT_MS = 15_000
const CONNECTIONS_CHECK_MS = 1_000
/** Fastify's own default for idle keep-alive connections. */
const KEEP_ALIVE_TIMEOUT_MS = 72_000

// A name (letters, digits, `-`, and `_` as some internal names have) or an
// IPv4 address, or a bracketed IPv6 literal; then an optional port.
const HOST = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?|\[[0-9A-Fa-f:.]{2,45}\])(?::([0-9]{1,5}))?$/

/** Why the request's Host is refused, or undefined. */
function hostProblem (req: IncomingMessage, lastGood: string): string | undefined {
  const host = req.headers.host
  if (host === undefined) return req.httpVersionMinor === 0 ? undefined : 'the request has no Host header'
  // Node keeps the first of several Host headers; the raw list shows them all.
  const raw = req.rawHeaders
  let seen = 0
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string
    if (name.length === 4 && name.toLowerCase() === 'host') seen++
  }
  if (seen > 1) return 'the request has more than one Host header'
  if (host === lastGood) return undefined
  const match = HOST.exec(host)
  if (match === null || (match[1] !== undefined && Number(match[1]) > 65535)) return 'the Host header is not a valid host[:port]'
  return undefined
}

/**
 * On a port shared with /admin, a service worker registered from a proxied
 * page could control the admin UI. A worker's scope is at most its script's
 * directory (the proxy drops an upstream's Service-Worker-Allowed), so worker
 * scripts at the root (`/layanan`, `/sw.js`) or under /admin are refused.
 * Browsers mark worker script fetches with `Service-Worker: script`.
 */
function workerProblem (req: IncomingMessage): string | undefined {
  if (req.headers['service-worker'] !== 'script') return undefined
  const path = pathOnly(req.url ?? '/')
  if (path.lastIndexOf('/') > 0 && path !== '/admin' && !path.startsWith('/admin/')) return undefined
  return 'a service worker here could control the admin UI, which shares this port; ' +
    'worker scripts must sit below an integration\'s prefix (or set GERBANG_ADMIN_PORT)'
}

/**
 * Fastify's serverFactory: a Node HTTP server with Gerbang's timeouts whose
 * requests reach Fastify only with one valid Host (and, when /admin shares
 * the port, no service worker script that could cover it).
 */
export function gatewayServer (
  handler: RequestListener, headersTimeoutMs = HEADERS_TIMEOUT_MS, sharesAdmin = false
): Server {
  let lastGoodHost = ''
  const server = createServer({
    headersTimeout: headersTimeoutMs,
    connectionsCheckingInterval: Math.min(CONNECTIONS_CHECK_MS, headersTimeoutMs),
    // Checked below, so the refusal is a problem document rather than Node's bare 400.
    requireHostHeader: false
  }, (req: IncomingMessage, res: ServerResponse) => {
    const problem = hostProblem(req, lastGoodHost) ?? (sharesAdmin ? workerProblem(req) : undefined)
    if (problem === undefined) {
      lastGoodHost = req.headers.host ?? lastGoodHost
      handler(req, res)
      return
    }
    const requestId = saneRequestId(req.headers['x-request-id']) ?? randomUUID()
    const body = problemJson(new GerbangError('BAD_REQUEST', problem), pathOnly(req.url ?? '/'), requestId)
    res.writeHead(400, {
      'content-type': PROBLEM_CONTENT_TYPE,
      'content-length': Buffer.byteLength(body),
      'x-request-id': requestId,
      connection: 'close'
    })
    res.end(body)
  })
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS
  server.on('clientError', answerClientError)
  return server
}

const CLIENT_ERRORS: Record<string, { code: ErrorCode, detail: string, reason: string }> = {
  HPE_HEADER_OVERFLOW: { code: 'HEADERS_TOO_LARGE', detail: 'the request headers are too large', reason: 'Request Header Fields Too Large' },
  ERR_HTTP_REQUEST_TIMEOUT: {
    code: 'REQUEST_TIMEOUT', detail: 'the request headers did not arrive in time', reason: 'Request Timeout'
  }
}
const NOT_HTTP = { code: 'BAD_REQUEST' as const, detail: 'the request is not valid HTTP', reason: 'Bad Request' }

/**
 * Requests Node's HTTP parser rejects (oversized headers, malformed request
 * lines, headers that never end) never reach Fastify; they get a problem
 * document on the raw socket.
 */
function answerClientError (err: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy()
    return
  }
  const { code, detail, reason } = CLIENT_ERRORS[err.code ?? ''] ?? NOT_HTTP
  const requestId = randomUUID()
  const error = new GerbangError(code, detail)
  const body = problemJson(error, '/', requestId)
  socket.end(
    `HTTP/1.1 ${error.status} ${reason}\r\n` +
    `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
    `X-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`
  )
}
