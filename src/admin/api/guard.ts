import type { FastifyRequest } from 'fastify'
import { GerbangError } from '../../errors.js'
import type { Permission } from '../../store/types.js'
import { hasCsrfToken, isCrossSite, type AdminContext, type SessionManager } from '../sessions.js'

// The check every admin API route passes before its handler runs, and the
// signed-in admin it leaves on the request. The route modules read the admin
// from here, not from the plugin that registers them (./index.ts), which
// imports them.

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

/** The signed-in admin of a route whose access is not `public`. */
export function adminOf (request: FastifyRequest): AdminContext {
  if (request.admin === null) throw new GerbangError('SESSION_REQUIRED', 'sign in first')
  return request.admin
}

/** The session, the CSRF token (on every request, reads too) and the route's permission; sets request.admin. */
export async function guard (request: FastifyRequest, sessions: SessionManager): Promise<void> {
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
