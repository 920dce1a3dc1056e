import type { FastifyReply, FastifyRequest } from 'fastify'
import { GerbangError } from '../errors.js'

// Browser apps (docs/contract.md section 8): `cors:` on an integration, or in
// `defaults`. Everything an answer needs is worked out once per integration
// when routes.yaml is loaded (the header arrays of each listed origin, one
// regular expression for the subdomain patterns), so a request without Origin
// costs a property read, and one with an Origin a Map lookup (and, for a
// pattern origin seen for the first time, one regular expression test).
//
// Origins, as `routes check` accepts them:
//   https://dashboard.bantenprov.go.id   exact: scheme, host, optional port;
//                                         lower-cased, punycoded and without
//                                         the scheme's default port, as a
//                                         browser writes Origin
//   https://*.bantenprov.go.id           any subdomain, one label or more
//                                         (app.…, sirs.dinkes.…), never the
//                                         domain itself; same scheme and port
//   "*"                                   any origin, alone, without credentials

/** What routes.yaml says under `cors:` once the schema has checked its shape. */
export interface CorsEntry {
  origins: string[]
  credentials?: boolean
  maxAge?: string
  headers?: string[]
}

/** A problem in a `cors:` entry, at a path below it (['origins', '2']). */
export interface CorsProblem {
  segments: string[]
  message: string
}

export const DEFAULT_CORS_MAX_AGE_S = 600
/** Browsers cap the preflight cache lower (Chromium: 2 h; Firefox: 24 h); more is a mistake. */
const MAX_AGE_LIMIT_S = 86_400

/** Request headers a browser app may always send: the gateway's own. */
export const CORS_GATEWAY_HEADERS: readonly string[] = [
  'x-api-key', 'authorization', 'content-type', 'x-request-id', 'idempotency-key', 'traceparent', 'tracestate'
]

/** Response headers a browser app may always read: the request id and the rate-limit fields. */
export const CORS_EXPOSED_HEADERS = 'x-request-id, RateLimit, RateLimit-Policy, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset'

/**
 * What the answers to a request from one allowed origin carry, as flat
 * [name, value, …] arrays ready to push onto writeHead's or set on a reply.
 */
export interface CorsGrant {
  readonly actual: readonly string[]
  readonly preflight: readonly string[]
}

/**
 * Every answer of an integration with cors varies by Origin, the ones to
 * requests without it (or from the gateway's own origin) included, so a
 * cache never hands one origin's answer to another (Fetch standard, "CORS
 * protocol and HTTP caches").
 */
export const VARY_ORIGIN: readonly string[] = ['vary', 'Origin']

// Pattern origins matched once are remembered, up to this many per integration.
const MATCHED_CACHE_LIMIT = 1000
/** Longer than any real origin: not worth a regular expression test. */
const MAX_ORIGIN_LENGTH = 300

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/
const IPV4 = /^[0-9]+(?:\.[0-9]+){0,3}$/
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//

type ParsedOrigin =
  | { kind: 'any' }
  | { kind: 'exact', origin: string }
  | { kind: 'pattern', origin: string, source: string }

const DEFAULT_PORT: Record<string, string> = { http: '80', https: '443' }

function escapeRegExp (text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** One entry of `origins:`, normalised, or what is wrong with it. */
function parseOrigin (text: string): ParsedOrigin | string {
  if (text === '*') return { kind: 'any' }
  const example = 'e.g. https://dashboard.bantenprov.go.id or https://*.bantenprov.go.id'
  const scheme = SCHEME.exec(text)
  const given = scheme?.[1]?.toLowerCase()
  if (scheme === null || (given !== 'https' && given !== 'http')) {
    return `origin '${text}' must start with https:// or http://` +
      (given === undefined ? '' : `, not ${given}://`) + ` (an origin is scheme://host[:port], ${example})`
  }
  const rest = text.slice(scheme[0].length)
  const end = rest.search(/[/?#]/)
  const authority = end === -1 ? rest : rest.slice(0, end)
  const tail = end === -1 ? '' : rest.slice(end)
  if (tail === '/') return `origin '${text}' must have no trailing slash: write ${given}://${authority}`
  if (tail !== '') return `origin '${text}' has a path, query or fragment; an origin has no path: write ${given}://${authority}`
  if (authority.includes('@')) return `origin '${text}' must not carry a user name or password`
  if (authority.includes('*')) return parsePattern(text, given, authority)
  let url: URL
  try {
    url = new URL(`${given}://${authority}`)
  } catch {
    return `origin '${text}' does not have a valid host[:port]`
  }
  const host = url.hostname
  if (host === '' || (!host.startsWith('[') && !IPV4.test(host) && !host.split('.').every((l) => LABEL.test(l)))) {
    return `origin '${text}' does not have a valid host name (letters, digits and '-' in dot-separated labels)`
  }
  return { kind: 'exact', origin: url.origin }
}

function parsePattern (text: string, scheme: string, authority: string): ParsedOrigin | string {
  if (!authority.startsWith('*.') || authority.includes('*', 1)) {
    return `origin '${text}': a wildcard goes only at the very start of the host, alone in its label, as ` +
      `${scheme}://*.example.go.id (any subdomain of example.go.id)`
  }
  const colon = authority.lastIndexOf(':')
  let host = (colon === -1 ? authority : authority.slice(0, colon)).slice(2).toLowerCase()
  let port = colon === -1 ? '' : authority.slice(colon + 1)
  if (colon !== -1 && !/^[0-9]{1,5}$/.test(port)) return `origin '${text}' has a port that is not a number`
  if (port !== '' && Number(port) > 65535) return `origin '${text}' has a port over 65535`
  if (port !== '') port = String(Number(port))
  if (port === DEFAULT_PORT[scheme]) port = ''
  if (host.endsWith('.')) host = host.slice(0, -1)
  if (host.startsWith('[') || IPV4.test(host)) {
    return `origin '${text}': a wildcard pattern needs a domain name after *., not an IP address`
  }
  const labels = host.split('.')
  if (!labels.every((l) => LABEL.test(l))) {
    return `origin '${text}' does not have a valid host name after *. (letters, digits and '-' in dot-separated labels)`
  }
  if (labels.length < 2) {
    return `origin '${text}': a wildcard pattern needs at least two labels after *. (as *.example.go.id), never a whole top-level domain`
  }
  const origin = `${scheme}://*.${host}${port === '' ? '' : `:${port}`}`
  const source = `${escapeRegExp(`${scheme}://`)}(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+${escapeRegExp(host + (port === '' ? '' : `:${port}`))}`
  return { kind: 'pattern', origin, source }
}

/**
 * What `routes check` refuses in a `cors:` entry the schema accepted: bad
 * origins and patterns, "*" among others or with credentials, a maxAge over
 * a day. Each problem names its place under `cors`.
 */
export function checkCors (entry: CorsEntry, parseDurationMs: (text: string) => number | undefined): CorsProblem[] {
  const problems: CorsProblem[] = []
  entry.origins.forEach((text, i) => {
    const parsed = parseOrigin(text)
    const segments = ['origins', String(i)]
    if (typeof parsed === 'string') {
      problems.push({ segments, message: parsed })
    } else if (parsed.kind === 'any' && entry.origins.length > 1) {
      problems.push({ segments, message: '"*" allows every origin: list it alone, or list the origins without it' })
    } else if (parsed.kind === 'any' && entry.credentials === true) {
      problems.push({
        segments,
        message: '"*" (any origin) cannot go with credentials: true (browsers refuse that answer); list the origins instead'
      })
    }
  })
  if (entry.maxAge !== undefined && (parseDurationMs(entry.maxAge) ?? 0) > MAX_AGE_LIMIT_S * 1000) {
    problems.push({ segments: ['maxAge'], message: `maxAge must be at most 24 h (1d); browsers cap it lower anyway (Chromium: 2 h), got ${entry.maxAge}` })
  }
  return problems
}

/**
 * An integration's CORS, compiled: which origins it admits and the headers
 * of every answer to each. Serialises (JSON.stringify: the reload diff, the
 * admin API) as its settings.
 */
export class CorsPolicy {
  /** As configured, normalised: exact origins and patterns, or ['*']. */
  readonly origins: readonly string[]
  readonly credentials: boolean
  readonly maxAgeS: number
  /** The request headers allowed besides the gateway's own (CORS_GATEWAY_HEADERS), lower-cased. */
  readonly headers: readonly string[]
  /** origins: ["*"]: the one grant for every origin. */
  readonly #any: CorsGrant | undefined
  readonly #exact = new Map<string, CorsGrant>()
  readonly #patterns: RegExp | undefined
  /** Pattern origins already matched (bounded), so each is tested once. */
  readonly #matched = new Map<string, CorsGrant>()
  readonly #preflightTail: readonly string[]

  constructor (entry: CorsEntry, methods: Iterable<string>, parseDurationMs: (text: string) => number | undefined) {
    const origins: string[] = []
    const patterns: string[] = []
    let any = false
    for (const text of entry.origins) {
      const parsed = parseOrigin(text)
      if (typeof parsed === 'string') continue // refused by checkCors; never compiled into a loaded table
      if (parsed.kind === 'any') any = true
      if (parsed.kind === 'pattern') patterns.push(parsed.source)
      const origin = parsed.kind === 'any' ? '*' : parsed.origin
      if (!origins.includes(origin)) origins.push(origin)
    }
    this.origins = origins
    this.credentials = entry.credentials === true
    this.maxAgeS = entry.maxAge === undefined
      ? DEFAULT_CORS_MAX_AGE_S
      : Math.floor((parseDurationMs(entry.maxAge) ?? 0) / 1000)
    const extra: string[] = []
    for (const name of entry.headers ?? []) {
      const lower = name.toLowerCase()
      if (!CORS_GATEWAY_HEADERS.includes(lower) && !extra.includes(lower)) extra.push(lower)
    }
    this.headers = extra
    this.#preflightTail = [
      'access-control-allow-methods', [...methods].join(', '),
      'access-control-allow-headers', [...CORS_GATEWAY_HEADERS, ...extra].join(', '),
      'access-control-max-age', String(this.maxAgeS)
    ]
    // "*" never comes with credentials: checkCors refuses it.
    this.#any = any ? this.#grant('*') : undefined
    for (const origin of origins) if (origin !== '*' && !origin.includes('*')) this.#exact.set(origin, this.#grant(origin))
    this.#patterns = patterns.length === 0 ? undefined : new RegExp(`^(?:${patterns.join('|')})$`)
  }

  /** The headers for answers to `origin`, or undefined when it is not allowed. */
  grant (origin: string): CorsGrant | undefined {
    if (this.#any !== undefined) return this.#any
    const exact = this.#exact.get(origin)
    if (exact !== undefined || this.#patterns === undefined) return exact
    const matched = this.#matched.get(origin)
    if (matched !== undefined || origin.length > MAX_ORIGIN_LENGTH || !this.#patterns.test(origin)) return matched
    const grant = this.#grant(origin)
    if (this.#matched.size < MATCHED_CACHE_LIMIT) this.#matched.set(origin, grant)
    return grant
  }

  #grant (origin: string): CorsGrant {
    const common = ['access-control-allow-origin', origin, ...VARY_ORIGIN]
    if (this.credentials) common.push('access-control-allow-credentials', 'true')
    return {
      actual: [...common, 'access-control-expose-headers', CORS_EXPOSED_HEADERS],
      preflight: [...common, ...this.#preflightTail]
    }
  }

  toJSON (): { origins: readonly string[], credentials: boolean, maxAgeS: number, headers: readonly string[] } {
    return { origins: this.origins, credentials: this.credentials, maxAgeS: this.maxAgeS, headers: this.headers }
  }
}

/**
 * CORS for a request to an integration with `cors`, before its method, key
 * or limit is looked at. Sets `request.corsHeaders` for every answer that
 * follows and returns true to go on; answers a preflight from an allowed
 * origin itself (204) and returns false; returns the 403 to send for an
 * origin not allowed. No Origin (a server calling) goes on untouched, and so
 * does the gateway's own origin (a same-origin call, from /doc), which needs
 * no CORS headers.
 */
export function admitCors (
  policy: CorsPolicy, integration: string, request: FastifyRequest, reply: FastifyReply
): boolean | GerbangError {
  const origin = request.headers.origin
  if (origin === undefined) {
    request.corsHeaders = VARY_ORIGIN
    return true
  }
  const grant = policy.grant(origin)
  if (grant === undefined) {
    request.corsHeaders = VARY_ORIGIN
    if (sameOrigin(request, origin)) return true
    const shown = origin.length > 100 ? `${origin.slice(0, 100)}…` : origin
    return new GerbangError('CORS_ORIGIN_FORBIDDEN', `${integration} does not accept calls from browser apps on ${shown === '' ? 'an empty origin' : shown}`)
  }
  if (request.raw.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) {
    // A preflight: the browser asks before the real request; no key, no limit, nothing forwarded.
    reply.code(204)
    const headers = grant.preflight
    for (let i = 0; i < headers.length; i += 2) reply.header(headers[i] as string, headers[i + 1])
    reply.send()
    return false
  }
  request.corsHeaders = grant.actual
  return true
}

/** The Origin is the gateway's own, as the browser reached it (Host, and X-Forwarded-Host from a trusted proxy). */
function sameOrigin (request: FastifyRequest, origin: string): boolean {
  const host = request.host
  return host !== '' && origin.length === request.protocol.length + 3 + host.length && origin === `${request.protocol}://${host}`
}

/**
 * What corsHeadersBeforeRouting needs of the live route table (src/proxy/route-tables.ts), described here
 * rather than imported: the table's modules import this one's CorsPolicy.
 */
interface CorsRoutes {
  table: { match: (url: string) => { route: { integration: { cors: CorsPolicy | null } } } | undefined }
}

/**
 * For a problem sent before the proxy routed the request (shutting down,
 * overloaded, a URL that cannot be decoded): the CORS headers of the
 * integration its path belongs to, so a browser app can read that answer
 * too; null when there are none to add.
 */
export function corsHeadersBeforeRouting (request: FastifyRequest, origin: string): readonly string[] | null {
  const holder = (request.server as { routeTable?: CorsRoutes }).routeTable
  const policy = holder?.table.match(request.raw.url ?? '/')?.route.integration.cors
  if (policy === undefined || policy === null) return null
  return policy.grant(origin)?.actual ?? VARY_ORIGIN
}

/** Appends the request's CORS headers (when its integration has cors) to an answer's header array. */
export function pushCorsHeaders (out: string[], request: FastifyRequest): void {
  const cors = request.corsHeaders
  if (cors === null) return
  for (let i = 0; i < cors.length; i++) out.push(cors[i] as string)
}
