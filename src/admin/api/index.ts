import type { FastifyInstance, FastifyRequest } from 'fastify'
import { GerbangError } from '../../errors.js'
import { sendProblem } from '../../http/problem.js'
import type { Permission } from '../../store/types.js'
import { hasCsrfToken, isCrossSite, type AdminContext, type SessionManager } from '../sessions.js'
import type { AdminDeps } from '../index.js'
import { auditRoutes } from './audit.js'
import { clientRoutes } from './clients.js'
import { dashboardRoutes } from './dashboard.js'
import { keyRequestRoutes } from './key-requests.js'
import { roleRoutes } from './roles.js'
import { routesConfigRoutes } from './routes-config.js'
import { sessionRoutes } from './session.js'
import { userRoutes } from './users.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * What an admin API route needs: a permission, `session` (any signed-in
     * admin) or `public` (the login itself). Every route must say.
     */
    access?: Permission | 'session' | 'public'
  }
  interface FastifyRequest {
    /** The signed-in admin; set on every admin API route except `public` ones. */
    admin: AdminContext | null
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])
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

/** The signed-in admin of a route whose access is not `public`. */
export function adminOf (request: FastifyRequest): AdminContext {
  if (request.admin === null) throw new GerbangError('SESSION_REQUIRED', 'sign in first')
  return request.admin
}

/**
 * /admin/api/*: the JSON API the admin UI is built on. Every route checks,
 * before its handler runs: the session, the CSRF token (on every request,
 * reads too), and the route's permission.
 */
export async function adminApiPlugin (app: FastifyInstance, deps: AdminDeps): Promise<void> {
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

async function guard (request: FastifyRequest, sessions: SessionManager): Promise<void> {
  const access = request.routeOptions.config.access
  const changes = !SAFE_METHODS.has(request.method)
  if (changes && isCrossSite(request)) throw new GerbangError('CSRF_INVALID', 'requests from other sites are refused')
  if (access === 'public') return
  const admin = await sessions.resolve(request.headers.cookie)
  if (admin === undefined) throw new GerbangError('SESSION_REQUIRED', 'sign in first: the session is missing or has ended')
  // Reads too: where the admin UI shares its origin with proxied pages, a
  // script on any of them sends this session cookie along with its fetch()
  // and could otherwise read everything the admin may see.
  if (!hasCsrfToken(request, admin.session)) {
    throw new GerbangError('CSRF_INVALID', 'the x-csrf-token header is missing or wrong; the token comes with the sign-in answer (POST /admin/api/session)')
  }
  if (access !== 'session' && access !== undefined && !admin.permissions.has(access)) {
    throw new GerbangError('PERMISSION_DENIED', `this needs the ${access} permission, which the role ${admin.user.role} does not have`)
  }
  request.admin = admin
}
