import { Type, type Static } from '@sinclair/typebox'
import { DURATION_PATTERN, RATE_PATTERN, SIZE_PATTERN } from './units.js'

// The one source of truth for routes.yaml (CONTRACT.md section 3). The loader
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

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const
const Method = Type.Union(HTTP_METHODS.map((m) => Type.Literal(m)), { description: HTTP_METHODS.join(', ') })

const shared = {
  timeout: Type.Optional(Duration),
  connectTimeout: Type.Optional(Duration),
  rateLimit: Type.Optional(Rate),
  auth: Type.Optional(Auth),
  bodyLimit: Type.Optional(Size),
  upstreamErrors: Type.Optional(UpstreamErrors)
}

export const DefaultsSchema = Type.Object(shared, { additionalProperties: false })

export const IntegrationSchema = Type.Object({
  upstream: Type.String({ minLength: 1, description: 'an http or https origin, optionally with a base path' }),
  prefix: Type.Optional(Type.String({ minLength: 1 })),
  rewritePrefix: Type.Optional(Type.String()),
  methods: Type.Optional(Type.Array(Method, { minItems: 1, uniqueItems: true })),
  description: Type.Optional(Type.String()),
  apiKeyQuery: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]+$' })),
  ...shared
}, { additionalProperties: false })

export const RoutesFileSchema = Type.Object({
  defaults: Type.Optional(DefaultsSchema),
  integrations: Type.Record(Type.String(), IntegrationSchema)
}, { additionalProperties: false })

export type RoutesFile = Static<typeof RoutesFileSchema>
export type IntegrationEntry = Static<typeof IntegrationSchema>

export const DEFAULTS = {
  timeout: '30s',
  connectTimeout: '5s',
  rateLimit: '600/1m',
  auth: 'apiKey',
  bodyLimit: '10mb',
  upstreamErrors: 'normalize'
} as const

/** Paths the gateway answers itself; no integration may take them. */
export const RESERVED_PREFIXES = ['/healthz', '/readyz', '/metrics', '/doc', '/admin', '/oauth2']

export const INTEGRATION_NAME_PATTERN = /^[a-z0-9-]+$/
