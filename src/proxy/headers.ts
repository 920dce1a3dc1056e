import type { IncomingMessage } from 'node:http'

// Hop-by-hop headers (RFC 9110 section 7.6.1) describe one connection, never
// the next one. `expect` is answered by this server; undici refuses it anyway.
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer',
  'upgrade', 'proxy-authenticate', 'proxy-authorization', 'http2-settings'
])

// Set by the gateway itself, so a client's own values are replaced, and the
// client's credentials for the gateway, which never go upstream.
const SET_BY_GATEWAY = new Set([
  'host', 'expect', 'x-request-id', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host',
  'x-forwarded-port', 'x-api-key', 'x-client-id', 'x-client-name'
])

/** A bearer token is the gateway's credential on authenticated routes; other schemes are the upstream's business. */
function isBearer (value: string): boolean {
  return value.length > 7 && value.slice(0, 7).toLowerCase() === 'bearer '
}

/** Tokens of a Connection header other than close/keep-alive: more headers to drop. */
function connectionTokens (value: string): Set<string> | undefined {
  // Nearly every client sends just one of these.
  if (value.length <= 10) {
    const lower = value.toLowerCase()
    if (lower === 'keep-alive' || lower === 'close') return undefined
  }
  let tokens: Set<string> | undefined
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
 * one pass over the client's raw headers.
 */
export function upstreamRequestHeaders (req: IncomingMessage, requestId: string, forwardedProto: string,
  client?: { id: string, headerName: string }): string[] {
  const raw = req.rawHeaders
  const out: string[] = []
  let named: Set<string> | undefined
  let forwardedFor: string | undefined
  let host = ''
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase()
    const value = raw[i + 1] as string
    if (HOP_BY_HOP.has(name)) {
      if (name === 'connection') named = connectionTokens(value)
      continue
    }
    if (SET_BY_GATEWAY.has(name) || (client !== undefined && name === 'authorization' && isBearer(value))) {
      if (name === 'x-forwarded-for') forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`
      else if (name === 'host') host = value
      continue
    }
    out.push(name, value)
  }
  const peer = req.socket.remoteAddress ?? ''
  out.push(
    'x-forwarded-for', forwardedFor === undefined ? peer : `${forwardedFor}, ${peer}`,
    'x-forwarded-proto', forwardedProto,
    'x-forwarded-host', host,
    'x-request-id', requestId
  )
  if (client !== undefined) out.push('x-client-id', client.id, 'x-client-name', client.headerName)
  return named === undefined ? out : dropNamed(out, named)
}

/**
 * The upstream's response headers as Node's flat [name, value, …] array for
 * writeHead, with hop-by-hop headers removed and our x-request-id set.
 */
export function clientResponseHeaders (raw: Buffer[], requestId: string): string[] {
  const out: string[] = []
  let named: Set<string> | undefined
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as Buffer).toString('latin1').toLowerCase()
    if (HOP_BY_HOP.has(name)) {
      if (name === 'connection') named = connectionTokens((raw[i + 1] as Buffer).toString('latin1'))
      continue
    }
    if (name === 'x-request-id') continue
    out.push(name, (raw[i + 1] as Buffer).toString('latin1'))
  }
  out.push('x-request-id', requestId)
  return named === undefined ? out : dropNamed(out, named)
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
