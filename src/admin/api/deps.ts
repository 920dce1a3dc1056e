import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { ClientService } from '../../auth/clients.js'
import type { RouteTableHolder } from '../../proxy/route-tables.js'
import type { Store } from '../../store/types.js'
import type { SessionManager } from '../sessions.js'

// What the admin API's route modules are given. It lives apart from the
// plugins that build it (src/admin/index.ts) and use it (./index.ts), so that
// neither the route modules nor those plugins import each other in a circle.

/** What the admin API's routes work with. */
export interface AdminDeps {
  store: Store
  clients: ClientService
  holder: RouteTableHolder
  sessions: SessionManager
}

/**
 * The Fastify instance the admin API's routes are declared on: its route
 * schemas (./schemas.ts) type request.body, params, querystring and the
 * answers. Only the types come from TypeBox; Fastify's own Ajv still
 * validates, so the problem documents for bad requests are unchanged.
 */
export type AdminApi = FastifyInstance<
  RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider
>
