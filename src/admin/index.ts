import type { FastifyInstance } from 'fastify'
import type { ClientService } from '../auth/clients.js'
import type { RouteTableHolder } from '../proxy/index.js'
import type { Store } from '../store/types.js'
import { adminApiPlugin } from './api/index.js'
import { SessionManager } from './sessions.js'
import { adminUiPlugin } from './ui-pages.js'

/** What the admin API's routes work with. */
export interface AdminDeps {
  store: Store
  clients: ClientService
  holder: RouteTableHolder
  sessions: SessionManager
}

export interface AdminOptions {
  store: Store
  clients: ClientService
  holder: RouteTableHolder
}

/** /admin: the admin UI's pages and assets, and the JSON API under /admin/api. */
export async function adminPlugin (app: FastifyInstance, options: AdminOptions): Promise<void> {
  const deps: AdminDeps = { ...options, sessions: new SessionManager(options.store) }
  await app.register(async (api) => { await adminApiPlugin(api, deps) }, { prefix: '/admin/api' })
  await app.register(adminUiPlugin, { prefix: '/admin' })
}
