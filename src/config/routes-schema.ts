import { Type, type Static } from '@sinclair/typebox'
import { DURATION_PATTERN, RATE_PATTERN, SIZE_PATTERN } from './units.js'

// The one source of truth for routes.yaml (docs/contract.md section 3). The loader
// validates a file against it, and the types below are derived from it.

const Duration = Type.String({ pattern: DURATION_PATTERN, description: 'a duration like 250ms, 10s, 1m, 1h' })
const Rate = Type.String({ pattern: RATE_PATTERN, description: 'a rate like 600/1m' })
const Size = Type.Union([
  Type.Integer({ minimum: 1 }),
  Type.String({ pattern: SIZE_PATTERN })
], { description: 'a size like 512kb or 10mb, or a number of bytes' })
const Auth = Type.Union([Type.Literal('apiKey'), Type.Literal('none')], { description: 'apiKey or none' })
const UpstreamErrors = Type.Union([Type.Literal('normalize'), Type.Literal('passthrough')], {
  description: 'normalize or passthrough'
})

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE'] as const
/**
 * What an integration without `methods` accepts. TRACE echoes the request,
 * credentials included, back to whoever can read the answer: only an
 * integration that lists it gets it.
 */
export const DEFAULT_METHODS: ReadonlySet<string> = new Set(HTTP_METHODS.filter((m) => m !== 'TRACE'))
/** The Allow header for a method no integration can be given (PROPFIND, PURGE). */
export const DEFAULT_ALLOW = [...DEFAULT_METHODS].join(', ')
const Method = Type.Union(HTTP_METHODS.map((m) => Type.Literal(m)), { description: HTTP_METHODS.join(', ') })

/** `off` or `false` turns the breaker off; a mapping (may be empty) sets it up, missing fields from `defaults`. */
const CircuitBreaker = Type.Union([
  Type.Literal('off'),
  Type.Literal(false),
  Type.Object({
    failures: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'an integer from 1 to 1000' })),
    openFor: Type.Optional(Duration)
  }, { additionalProperties: false })
], { description: 'off, false, or a mapping { failures: 1..1000, openFor: <duration> }' })

/**
 * Browser apps (docs/contract.md section 8); origins, patterns and the rest are
 * checked further and compiled in src/proxy/cors.ts. `false` turns off a
 * `cors:` of defaults for one integration.
 */
const Cors = Type.Union([
  Type.Literal(false),
  Type.Object({
    origins: Type.Array(Type.String(), {
      minItems: 1,
      description: 'a list of one or more origins: "https://host[:port]", "https://*.domain" (any subdomain) or "*" (any origin)'
    }),
    credentials: Type.Optional(Type.Boolean({ description: 'true or false' })),
    maxAge: Type.Optional(Duration),
    headers: Type.Optional(Type.Array(Type.String({ pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$", description: 'a header name like x-custom' })))
  }, { additionalProperties: false })
], { description: 'false, or a mapping { origins: [...], credentials: true|false, maxAge: <duration>, headers: [...] }' })

const shared = {
  timeout: Type.Optional(Duration),
  /**
   * Longest silence between two chunks of an answer once its headers arrived (and between WebSocket messages); default:
   * timeout.
   */
  idleTimeout: Type.Optional(Duration),
  connectTimeout: Type.Optional(Duration),
  rateLimit: Type.Optional(Rate),
  auth: Type.Optional(Auth),
  bodyLimit: Type.Optional(Size),
  upstreamErrors: Type.Optional(UpstreamErrors),
  retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 5, description: 'an integer from 0 to 5' })),
  circuitBreaker: Type.Optional(CircuitBreaker),
  cors: Type.Optional(Cors)
}

export const DefaultsSchema = Type.Object(shared, { additionalProperties: false })

const ParameterSchema = Type.Object({
  name: Type.String({ minLength: 1 }),
  in: Type.Union([Type.Literal('path'), Type.Literal('query')], { description: 'path or query' }),
  required: Type.Optional(Type.Boolean()),
  description: Type.Optional(Type.String()),
  schema: Type.Optional(Type.Object({
    type: Type.Union(['string', 'integer', 'number', 'boolean'].map((t) => Type.Literal(t)), {
      description: 'string, integer, number or boolean'
    }),
    enum: Type.Optional(Type.Array(Type.Union([Type.String(), Type.Number(), Type.Boolean()]), { minItems: 1 })),
    default: Type.Optional(Type.Union([Type.String(), Type.Number(), Type.Boolean()])),
    format: Type.Optional(Type.String())
  }, { additionalProperties: false }))
}, { additionalProperties: false })

const ResponseSchema = Type.Object({
  description: Type.String(),
  example: Type.Optional(Type.Unknown())
}, { additionalProperties: false })

/** One operation of an integration, documented in /doc (docs/contract.md section 7). */
export const OperationSchema = Type.Object({
  method: Method,
  path: Type.String({ pattern: '^/', description: 'a path starting with / (relative to the prefix), e.g. /kamar/{id}' }),
  summary: Type.String({ minLength: 1 }),
  description: Type.Optional(Type.String()),
  parameters: Type.Optional(Type.Array(ParameterSchema)),
  requestBody: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'a JSON schema object' })),
  responses: Type.Optional(Type.Record(Type.String({ pattern: '^[1-5][0-9][0-9]$' }), ResponseSchema))
}, { additionalProperties: false })

/**
 * One upstream origin, or several (docs/contract.md section 14): requests are
 * spread over them by weight (src/proxy/balancer.ts). Same scheme and base
 * path for all, checked by the loader.
 */
const UpstreamUrl = Type.String({ minLength: 1, description: 'an http or https origin, optionally with a base path' })
const Upstream = Type.Union([
  UpstreamUrl,
  Type.Array(Type.Union([
    UpstreamUrl,
    Type.Object({
      url: UpstreamUrl,
      weight: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'an integer from 1 to 100' }))
    }, { additionalProperties: false })
  ], { description: 'a URL, or a mapping { url: <URL>, weight: 1..100 }' }), { minItems: 1, maxItems: 64 })
], { description: 'a URL, or a list of URLs (or { url, weight } mappings) with the same scheme and base path' })

/** Active probes of every target (src/proxy/health-checks.ts). */
const HealthCheck = Type.Object({
  path: Type.String({ pattern: '^/[^?#\\s]*(\\?[^#\\s]*)?$', description: 'a path on the target starting with /, e.g. /health' }),
  interval: Duration,
  timeout: Type.Optional(Duration),
  healthy: Type.Optional(Type.Integer({ minimum: 1, maximum: 10, description: 'an integer from 1 to 10' })),
  unhealthy: Type.Optional(Type.Integer({ minimum: 1, maximum: 10, description: 'an integer from 1 to 10' }))
}, { additionalProperties: false, description: 'a mapping { path: /health, interval: 10s, timeout: 2s, healthy: 2, unhealthy: 3 }' })

export const IntegrationSchema = Type.Object({
  upstream: Upstream,
  healthCheck: Type.Optional(HealthCheck),
  prefix: Type.Optional(Type.String({ minLength: 1 })),
  rewritePrefix: Type.Optional(Type.String()),
  methods: Type.Optional(Type.Array(Method, { minItems: 1, uniqueItems: true })),
  description: Type.Optional(Type.String()),
  apiKeyQuery: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]+$' })),
  /**
   * A form field of an x-www-form-urlencoded body that may carry the API key, as the old API manager read it
   * (docs/contract.md section 10).
   */
  apiKeyForm: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]+$', description: 'a form field name like X-API-KEY' })),
  /** Accepts WebSocket upgrades (docs/contract.md section 9). */
  websocket: Type.Optional(Type.Boolean({ description: 'true or false' })),
  operations: Type.Optional(Type.Array(OperationSchema)),
  plugins: Type.Optional(Type.Array(Type.Record(Type.String({ minLength: 1 }), Type.Unknown(), {
    minProperties: 1,
    maxProperties: 1,
    description: 'a mapping of one plugin name (or path) to its options, like `- static-headers: { set: { x-a: b } }`'
  }))),
  openapi: Type.Optional(Type.String({
    minLength: 1, description: 'a path (relative to the routes file) or http(s) URL of an OpenAPI 3.x file'
  })),
  ...shared
}, { additionalProperties: false })

export const RoutesFileSchema = Type.Object({
  defaults: Type.Optional(DefaultsSchema),
  integrations: Type.Record(Type.String(), IntegrationSchema)
}, { additionalProperties: false })

export type RoutesFile = Static<typeof RoutesFileSchema>
export type IntegrationEntry = Static<typeof IntegrationSchema>
export type OperationEntry = Static<typeof OperationSchema>

export const DEFAULTS = {
  timeout: '30s',
  connectTimeout: '5s',
  rateLimit: '600/1m',
  auth: 'apiKey',
  bodyLimit: '10mb',
  upstreamErrors: 'normalize',
  retries: 2,
  circuitBreaker: { failures: 5, openFor: '10s' }
} as const

/** What a `healthCheck:` leaves out. */
export const HEALTH_CHECK_DEFAULTS = { timeout: '2s', healthy: 2, unhealthy: 3 } as const

/** Paths the gateway answers itself; no integration may take them. */
export const RESERVED_PREFIXES = ['/healthz', '/readyz', '/metrics', '/doc', '/admin', '/oauth2']
