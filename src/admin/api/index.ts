import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { GerbangError } from '../../errors.js'
import { sendProblem } from '../../http/problem.js'
import { auditRoutes } from './audit.js'
import { clientRoutes } from './clients.js'
import { dashboardRoutes } from './dashboard.js'
import type { AdminDeps } from './deps.js'
import { guard } from './guard.js'
import { keyRequestRoutes } from './key-requests.js'
import { roleRoutes } from './roles.js'
import { routesConfigRoutes } from './routes-config.js'
import { sessionRoutes } from './session.js'
import { userRoutes } from './users.js'

// Answers are data for the admin UI's fetch(): never cached, never a document
// another page could frame, open or sniff (a sandboxed one if opened at all).
const API_HEADERS = {
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'; sandbox",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin'
}

/**
 * /admin/api/*: the JSON API the admin UI is built on. Every route checks,
 * before its handler runs: the session, the CSRF token (on every request,
 * reads too), and the route's permission.
 */
export async function adminApiPlugin (plain: FastifyInstance, deps: AdminDeps): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>()
  app.decorateRequest('admin', null)

  app.addHook('onRoute', (route) => {
    if (route.config?.access === undefined) throw new Error(`admin route ${route.method.toString()} ${route.url} does not declare its access`)
    // Every admin route is documented in the admin API's own document (GET /admin/api/openapi.json).
    route.schema = { ...route.schema, tags: ['Admin API'] }
  })

  app.addHook('onRequest', async (_request, reply) => {
    reply.headers(API_HEADERS)
  })

  app.addHook('preHandler', async (request) => {
    await guard(request, deps.sessions)
  })

  await app.register(sessionRoutes, deps)
  await app.register(dashboardRoutes, deps)
  await app.register(clientRoutes, deps)
  await app.register(keyRequestRoutes, deps)
  await app.register(userRoutes, deps)
  await app.register(roleRoutes, deps)
  await app.register(routesConfigRoutes, deps)
  await app.register(auditRoutes, deps)

  app.setNotFoundHandler((request, reply) => {
    sendProblem(request, reply, new GerbangError('NOT_FOUND', `the admin API has no ${request.method} ${request.url.split('?')[0] ?? ''}`))
  })
}
