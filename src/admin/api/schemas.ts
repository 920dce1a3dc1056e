import { Type, type TSchema } from '@sinclair/typebox'
import { PERMISSIONS } from '../../store/types.js'
import { ROLE_NAME_PATTERN } from '../rbac.js'

// JSON schemas of the admin API: Fastify validates requests with them and
// @fastify/swagger turns them into GET /admin/api/openapi.json (not the public /doc/json).

const Iso = Type.String({ format: 'date-time', description: 'ISO 8601, UTC' })
const Email = Type.String({ format: 'email', maxLength: 254 })
const Password = Type.String({ minLength: 12, maxLength: 1024, description: 'at least 12 characters' })
const Permission = Type.Union(PERMISSIONS.map((p) => Type.Literal(p)))
const RoleName = Type.String({ pattern: ROLE_NAME_PATTERN.source, description: 'a-z, 0-9 and -, 2 to 40 characters' })

export const Problem = Type.Object({
  type: Type.String(),
  title: Type.String(),
  status: Type.Integer(),
  code: Type.String(),
  detail: Type.String(),
  instance: Type.String(),
  requestId: Type.String(),
  timestamp: Type.String()
}, { additionalProperties: true, description: 'RFC 9457 problem document' })

export const PublicUser = Type.Object({
  email: Type.String(),
  name: Type.String(),
  role: Type.String(),
  createdAt: Iso,
  updatedAt: Type.Optional(Iso)
})

export const SessionInfo = Type.Object({
  user: PublicUser,
  permissions: Type.Array(Type.String()),
  csrfToken: Type.String({ description: 'send it back in x-csrf-token on every other admin API request, reads included' })
})

export const LoginBody = Type.Object({
  email: Type.String({ minLength: 1, maxLength: 254 }),
  password: Type.String({ minLength: 1, maxLength: 1024 })
}, { additionalProperties: false })

export const ClientView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  integrations: Type.Union([Type.Array(Type.String()), Type.Literal('*')]),
  rateLimit: Type.Optional(Type.String()),
  quota: Type.Optional(Type.String()),
  expiresAt: Type.Optional(Iso),
  allowedIps: Type.Optional(Type.Array(Type.String())),
  createdAt: Iso,
  revokedAt: Type.Optional(Iso),
  lastUsedAt: Type.Optional(Iso),
  legacy: Type.Optional(Type.Object({
    id: Type.String({ description: 'the row id in the old API manager\'s keys table' }),
    importedAt: Iso,
    rotatedAt: Type.Optional(Iso),
    oldKeyUntil: Type.Optional(Iso)
  }, { description: 'imported from the old API manager (gerbang import legacy); its old key works until rotated away' })),
  keyHint: Type.Optional(Type.String({ description: 'the last 4 characters of its newest key (gb_…joL8), to tell keys apart' })),
  status: Type.Union([Type.Literal('active'), Type.Literal('revoked'), Type.Literal('expired')]),
  requestsToday: Type.Integer({ description: 'requests since midnight, Asia/Jakarta' })
})

// Null first: Fastify's Ajv coerces types, and would turn a null into [''] for the array branch.
const Nullable = <T extends TSchema>(schema: T) => Type.Union([Type.Null(), schema])
export const ClientPatchBody = Type.Object({
  description: Type.Optional(Type.String({ maxLength: 500 })),
  integrations: Type.Optional(Type.Union([Type.Array(Type.String({ pattern: '^[a-z0-9-]+$' }), { maxItems: 500 }), Type.Literal('*')])),
  rateLimit: Type.Optional(Nullable(Type.String({ maxLength: 40, description: 'e.g. 100/1m; null: the integration\'s own limit' }))),
  quota: Type.Optional(Nullable(Type.String({ maxLength: 40, description: 'e.g. 10000/1d across all integrations; null: none' }))),
  expiresAt: Type.Optional(Nullable(Type.String({ maxLength: 40, description: 'ISO 8601; null: never' }))),
  allowedIps: Type.Optional(Nullable(Type.Array(Type.String({ maxLength: 50 }), { maxItems: 100, description: 'addresses or CIDRs; null or []: anywhere' })))
}, { additionalProperties: false, minProperties: 1 })

/** Answers by status class, for the dashboard and a client's traffic. */
export const StatusClasses = Type.Object({
  ok: Type.Integer({ description: 'answers below 400' }),
  clientErrors: Type.Integer({ description: '4xx answers, the callers\' own (credentials, grants, limits, bad requests)' }),
  serverErrors: Type.Integer({ description: '5xx answers' }),
  unauthorized: Type.Integer({ description: 'of the 4xx: 401' }),
  forbidden: Type.Integer({ description: 'of the 4xx: 403' }),
  rateLimited: Type.Integer({ description: 'of the 4xx: 429' })
})
export const Latency = Type.Object({
  p50: Type.Union([Type.Number(), Type.Null()], { description: 'ms: the upper bound of the latency bucket the median falls in; null without requests' }),
  p95: Type.Union([Type.Number(), Type.Null()], { description: 'ms, likewise; null also beyond 10 s' })
})
export const ClientList = Type.Object({
  items: Type.Array(ClientView),
  total: Type.Integer({ description: 'every client, whatever the search' }),
  hasMore: Type.Boolean()
})

export const ClientListQuery = Type.Object({
  search: Type.Optional(Type.String({ maxLength: 100 })),
  offset: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }),
  limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 })
}, { additionalProperties: false })

export const NewClientBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 100, description: 'the Client field' }),
  description: Type.Optional(Type.String({ maxLength: 500 })),
  integrations: Type.Union([Type.Array(Type.String({ pattern: '^[a-z0-9-]+$' }), { maxItems: 500 }), Type.Literal('*')]),
  rateLimit: Type.Optional(Type.String({ maxLength: 40, description: 'e.g. 100/1m' })),
  expiresAt: Type.Optional(Type.String({ maxLength: 40, description: 'ISO 8601' }))
}, { additionalProperties: false })

export const ClientWithKey = Type.Object({
  client: ClientView,
  key: Type.String({ description: 'shown this once; only its hash is stored' })
})

export const RotateBody = Type.Object({
  grace: Type.Optional(Type.String({ pattern: '^[0-9]+(ms|s|m|h|d)$', maxLength: 20, description: 'how long the old key keeps working, e.g. 1h; default 0 (it stops at once)' }))
}, { additionalProperties: false })

export const IdParams = Type.Object({ id: Type.String({ maxLength: 100 }) })
export const EmailParams = Type.Object({ email: Type.String({ maxLength: 254 }) })
export const NameParams = Type.Object({ name: Type.String({ maxLength: 40 }) })

export const NewUserBody = Type.Object({
  email: Email,
  name: Type.String({ minLength: 1, maxLength: 100 }),
  role: RoleName,
  password: Password
}, { additionalProperties: false })

export const UserPatchBody = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  role: Type.Optional(RoleName),
  password: Type.Optional(Password)
}, { additionalProperties: false, minProperties: 1 })

export const RoleView = Type.Object({
  name: Type.String(),
  description: Type.String(),
  permissions: Type.Array(Type.String()),
  builtIn: Type.Boolean()
})

export const NewRoleBody = Type.Object({
  name: RoleName,
  description: Type.String({ maxLength: 200, default: '' }),
  permissions: Type.Array(Permission, { uniqueItems: true })
}, { additionalProperties: false })

export const RolePutBody = Type.Object({
  description: Type.String({ maxLength: 200, default: '' }),
  permissions: Type.Array(Permission, { uniqueItems: true })
}, { additionalProperties: false })

export const AuditQuery = Type.Object({
  offset: Type.Integer({ minimum: 0, maximum: 100_000, default: 0 }),
  limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 })
}, { additionalProperties: false })

export const DashboardQuery = Type.Object({
  range: Type.Union([Type.Literal('1h'), Type.Literal('24h'), Type.Literal('7d')], { default: '1h' })
}, { additionalProperties: false })

/** The response map of a route: its success answer, and problem documents for the rest. */
export function answers (status: number, schema: TSchema | null, ...problems: number[]): Record<number, TSchema> {
  const map: Record<number, TSchema> = {}
  map[status] = schema ?? Type.Null({ description: 'no content' })
  for (const p of [401, ...problems]) map[p] = Problem
  return map
}
