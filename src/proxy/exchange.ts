import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Principal } from '../auth/principal.js'
import type { RouteTableHolder } from './route-tables.js'
import type { Route } from './route-table.js'

/** One request on its way to an integration: everything the forwarder needs of it, in one object. */
export interface Exchange {
  readonly request: FastifyRequest
  readonly reply: FastifyReply
  readonly route: Route
  readonly holder: RouteTableHolder
  readonly principal: Principal | undefined
  /** The upstream path with its query string, already checked to be safe. */
  readonly path: string
  /** Headers the gateway adds to the client's response (rate limits). */
  readonly extraHeaders: string[]
  /** The socket's peer is a trusted proxy, whose X-Forwarded-For chain goes on. */
  readonly peerTrusted: boolean
}
