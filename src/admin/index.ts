import type { FastifyInstance } from 'fastify'
import type { ClientService } from '../auth/clients.js'
import { GerbangError } from '../errors.js'
import { sendProblem } from '../http/problem.js'
import type { RouteTableHolder } from '../proxy/route-tables.js'
import type { Store } from '../store/types.js'
import type { AdminDeps } from './api/deps.js'
import { adminApiPlugin } from './api/index.js'
import { fromAnotherSite, SessionManager } from './sessions.js'
import { adminUiPlugin } from './ui-pages.js'

export interface AdminOptions {
  store: Store
  clients: ClientService
  holder: RouteTableHolder
  /**
   * The admin UI has an origin of its own (GERBANG_ADMIN_PORT): no proxied
   * page can run script beside it, so its pages may carry the CSRF token
   * to any request for them, not only to top-level navigations.
   */
  ownOrigin?: boolean
}

/** /admin: the admin UI's pages and assets, and the JSON API under /admin/api. */
export async function adminPlugin (app: FastifyInstance, options: AdminOptions): Promise<void> {
  const sessions = new SessionManager(options.store)
  const deps: AdminDeps = { store: options.store, clients: options.clients, holder: options.holder, sessions }

  // Marks every admin route, for the admin listener (src/admin/listener.ts).
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, adminRoute: true }
  })

  // Nothing under /admin is for another site: no subresource, no fetch, no
  // frame. Only a top-level navigation (a link, a bookmark) may come from one.
  app.addHook('onRequest', async (request, reply) => {
    if (!fromAnotherSite(request)) return
    sendProblem(request, reply, new GerbangError('CSRF_INVALID', 'requests from other sites are refused'))
    return reply
  })

  await app.register(async (api) => { await adminApiPlugin(api, deps) }, { prefix: '/admin/api' })
  await app.register(adminUiPlugin, { prefix: '/admin', sessions, ownOrigin: options.ownOrigin === true })
}
