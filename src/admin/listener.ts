import type { RequestListener, Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { FastifyInstance, onRequestHookHandler, RouteOptions } from 'fastify'
import { GerbangError } from '../errors.js'
import { pathOnly, sendProblem } from '../http/problem.js'

// GERBANG_ADMIN_PORT: the admin UI and its API on a listener of their own, so
// that no proxied page shares their origin (docs/contract.md section 15; docs/security-model.md
// says why). One Fastify app serves both listeners: the
// second is another Node server (built like the first, with its Host checks
// and timeouts) handing its requests to the same app, so the admin shares the
// store, sessions, metrics and error handling with no second copy of any of
// them. Which listener accepted a connection decides what it may reach: a
// route-level onRequest hook answers 404, as for any unknown path, when an
// admin route is asked for on the main port or any other route on the admin port.
// In a `--workers` cluster every worker listens on both ports, each shared.

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on every route of the admin plugin (src/admin/index.ts): with an admin listener, served only there. */
    adminRoute?: boolean
  }
  interface FastifyInstance {
    /** The admin UI's own listener (GERBANG_ADMIN_PORT); null when /admin shares the gateway's port. */
    adminListener: AdminListener | null
  }
}

export interface AdminListener {
  /** Starts listening; resolves with the address as http://host:port. */
  listen: (port: number, host: string) => Promise<string>
  readonly server: Server
}

function addressOf (server: Server): string {
  const { address, port, family } = server.address() as AddressInfo
  return `http://${family === 'IPv6' ? `[${address}]` : address}:${port}`
}

/**
 * Gives `app` a second listener for /admin (not yet listening: call
 * `app.adminListener.listen`). Call it in buildApp before any plugin is
 * registered (its hook must reach every route) and after the root onClose
 * hook that closes the store (onClose hooks run last-added first, so the
 * admin listener drains before the store goes).
 */
export function separateAdminListener (app: FastifyInstance, createServer: (handler: RequestListener) => Server): void {
  const server = createServer((req, res) => { app.routing(req, res) })
  const accepted = new WeakSet<Socket>()
  server.on('connection', (socket: Socket) => { accepted.add(socket) })
  let closing = false
  let closed: Promise<void> = Promise.resolve()

  app.decorate('adminListener', {
    server,
    listen: async (port: number, host: string): Promise<string> => {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen({ port, host }, () => {
          server.off('error', reject)
          resolve()
        })
      })
      return addressOf(server)
    }
  })

  // Per route, and synchronous: the check is one WeakSet lookup, and no
  // route runs a hook it does not need.
  const adminOnly: onRequestHookHandler = function (request, reply, done) {
    if (accepted.has(request.raw.socket)) {
      // While stopping, each admin answer ends its connection, as the main port's do.
      if (closing) reply.header('connection', 'close')
      done()
      return
    }
    sendProblem(request, reply, new GerbangError('ROUTE_NOT_FOUND', `no integration serves ${pathOnly(request.raw.url ?? '/')}`))
  }
  const mainOnly: onRequestHookHandler = function (request, reply, done) {
    if (!accepted.has(request.raw.socket)) {
      done()
      return
    }
    sendProblem(request, reply, new GerbangError('ROUTE_NOT_FOUND',
      `the admin port serves only the admin UI (/admin), not ${pathOnly(request.raw.url ?? '/')}`))
  }
  // By the route's pattern, prefix included: the admin plugin's own marker
  // (config.adminRoute) is set by a hook that runs after this one.
  app.addHook('onRoute', (route) => { addOnRequest(route, route.url === '/admin' || route.url.startsWith('/admin/') ? adminOnly : mainOnly) })

  app.addHook('preClose', async () => {
    closing = true
    if (!server.listening) return
    closed = new Promise<void>((resolve) => { server.close(() => { resolve() }) })
    server.closeIdleConnections()
  })
  app.addHook('onClose', async () => { await closed })
}

/**
 * For a gateway built without GERBANG_ADMIN_PORT: /admin shares the port, and
 * so the origin, with every proxied page. What can be refused for that
 * (service-worker scripts that could cover /admin) is refused before routing,
 * in src/http/http-server.ts. Call it where separateAdminListener would be.
 */
export function sharedAdminListener (app: FastifyInstance): void {
  app.decorate('adminListener', null)
}

/** Adds a route-level onRequest hook, after the route's own. */
function addOnRequest (route: RouteOptions, hook: onRequestHookHandler): void {
  const existing = route.onRequest === undefined
    ? []
    : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest]
  route.onRequest = [...existing, hook]
}
