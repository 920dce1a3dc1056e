import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import { SESSION_COOKIE } from '../admin/sessions.js'
import { bearerToken } from '../auth/bearer.js'

// Hop-by-hop headers (RFC 9110 section 7.6.1) describe one connection, never
// the next one. `expect` is answered by this server; undici refuses it anyway.
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer',
  'upgrade', 'proxy-authenticate', 'proxy-authorization', 'http2-settings'
])

// Never passed on from the client: what the gateway sets itself (its values
// replace the client's), the client's credentials for the gateway, and the
// headers upstream frameworks read as the client's address or the original
// URL, which only a proxy may say (docs/contract.md section 15). Every other
// `x-forwarded-*` name is dropped by its prefix. The client's traceparent is
// replaced by the gateway's own (src/ops/trace-context.ts); its tracestate goes on.
const NOT_FROM_CLIENT = new Set([
  'host', 'expect', 'x-request-id', 'x-api-key', 'x-client-id', 'x-client-name', 'traceparent',
  'forwarded', 'x-real-ip', 'x-original-url', 'x-rewrite-url', 'x-original-uri',
  'x-client-ip', 'true-client-ip', 'x-cluster-client-ip'
])

/**
 * A bearer token (Bearer or BearerToken) is the gateway's credential on authenticated routes; other schemes are the
 * upstream's business.
 */
function isBearer (value: string): boolean {
  return bearerToken(value) !== undefined
}

/**
 * Names a client must not send upstream. Names with `_` are dropped as
 * nginx does: CGI-style stacks (WSGI, PHP, Rack) read `x_client_id` as
 * `x-client-id`, so they would let a client speak for the gateway.
 */
function refusedFromClient (name: string): boolean {
  return NOT_FROM_CLIENT.has(name) || name.includes('_') || name.startsWith('x-forwarded-')
}

/** Tokens of a Connection header other than close/keep-alive: more headers to drop. */
function connectionTokens (value: string, into: Set<string> | undefined): Set<string> | undefined {
  // Nearly every client sends just one of these.
  if (value.length <= 10) {
    const lower = value.toLowerCase()
    if (lower === 'keep-alive' || lower === 'close') return into
  }
  let tokens = into
  for (const raw of value.split(',')) {
    const token = raw.trim().toLowerCase()
    if (token === '' || token === 'close' || token === 'keep-alive') continue
    tokens ??= new Set()
    tokens.add(token)
  }
  return tokens
}

/**
 * The headers sent upstream, as undici's flat [name, value, …] array, built in
 * one pass over the client's raw headers. Headers the client's Connection
 * names go first, and only from the client's own: the gateway's headers are
 * added after, so nothing the client sends can remove or replace them.
 * `proto` is how the client reached the gateway (a trusted proxy's word
 * included); the client's X-Forwarded-For chain is kept only when the peer
 * is a trusted proxy (GERBANG_TRUST_PROXY). `traceparent` is the gateway's
 * (the trace continued or started, its span as the parent), '' for none.
 */
export function upstreamRequestHeaders (req: IncomingMessage, requestId: string, proto: string, peerTrusted: boolean,
  traceparent: string, client?: { id: string, headerName: string }): string[] {
  const raw = req.rawHeaders
  let out: string[] = []
  let named: Set<string> | undefined
  let forwardedFor: string | undefined
  let host = ''
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase()
    const value = raw[i + 1] as string
    if (HOP_BY_HOP.has(name)) {
      if (name === 'connection') named = connectionTokens(value, named)
      continue
    }
    if (refusedFromClient(name) || (client !== undefined && name === 'authorization' && isBearer(value))) {
      if (name === 'x-forwarded-for') {
        if (peerTrusted) forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`
      } else if (name === 'host') {
        host = value
      }
      continue
    }
    out.push(name, value)
  }
  if (named !== undefined) out = dropNamed(out, named)
  const peer = req.socket.remoteAddress ?? ''
  out.push(
    'x-forwarded-for', forwardedFor === undefined ? peer : `${forwardedFor}, ${peer}`,
    'x-forwarded-proto', proto,
    'x-forwarded-host', host,
    'x-request-id', requestId
  )
  if (traceparent !== '') out.push('traceparent', traceparent)
  if (client !== undefined) out.push('x-client-id', client.id, 'x-client-name', client.headerName)
  return out
}

/** Whether a Set-Cookie value sets (or clears) the admin session cookie, whose name is case-folded to be safe. */
function setsAdminCookie (value: string): boolean {
  const eq = value.indexOf('=')
  return eq !== -1 && value.slice(0, eq).trim().toLowerCase() === SESSION_COOKIE
}

// Never passed on from an upstream: the gateway's own, and what would let a
// proxied page reach the admin UI on a shared origin: its own opener policy
// (an admin window it opens would stay scriptable from it) and a service
// worker scope wider than its script's directory.
const NOT_FROM_UPSTREAM = new Set(['x-request-id', 'x-content-type-options', 'cross-origin-opener-policy', 'service-worker-allowed'])

/**
 * The upstream's response headers as Node's flat [name, value, …] array for
 * writeHead: hop-by-hop headers and those its Connection names removed, the
 * admin session cookie never set or cleared by an upstream, no opener policy
 * or service-worker scope from it (NOT_FROM_UPSTREAM), then the
 * gateway's own: x-request-id, and nosniff so an upstream's text is never
 * run as script on the gateway's origin. With `gatewayCors` (the integration
 * has `cors:`), the upstream's Access-Control-* headers are dropped: the
 * gateway's own replace them (src/proxy/cors.ts).
 */
export function clientResponseHeaders (
  raw: ReadonlyArray<Buffer | string>, requestId: string, gatewayCors = false
): string[] {
  let out: string[] = []
  let named: Set<string> | undefined
  for (let i = 0; i < raw.length; i += 2) {
    const name = latin1(raw[i] as Buffer | string).toLowerCase()
    if (HOP_BY_HOP.has(name)) {
      if (name === 'connection') named = connectionTokens(latin1(raw[i + 1] as Buffer | string), named)
      continue
    }
    if (NOT_FROM_UPSTREAM.has(name) || (gatewayCors && name.startsWith('access-control-'))) continue
    const value = latin1(raw[i + 1] as Buffer | string)
    if (name === 'set-cookie' && setsAdminCookie(value)) continue
    out.push(name, value)
  }
  if (named !== undefined) out = dropNamed(out, named)
  out.push('x-request-id', requestId, 'x-content-type-options', 'nosniff')
  return out
}

// undici gives header lines as Buffers from HTTP/1.1, as strings otherwise.
function latin1 (line: Buffer | string): string {
  return typeof line === 'string' ? line : line.toString('latin1')
}

function dropNamed (headers: string[], named: Set<string>): string[] {
  const kept: string[] = []
  for (let i = 0; i < headers.length; i += 2) {
    if (!named.has(headers[i] as string)) kept.push(headers[i] as string, headers[i + 1] as string)
  }
  return kept
}

const SANE_REQUEST_ID = /^[A-Za-z0-9._-]{1,200}$/

/** The client's x-request-id when it is sane, else undefined. */
export function saneRequestId (value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' && SANE_REQUEST_ID.test(value) ? value : undefined
}

/** A parsed header object as header lines, for an undici that gave no raw ones. */
export function headerLines (parsed: IncomingHttpHeaders): string[] {
  const lines: string[] = []
  for (const name in parsed) {
    const value = parsed[name]
    if (Array.isArray(value)) for (const v of value) lines.push(name, v)
    else if (value !== undefined) lines.push(name, value)
  }
  return lines
}
