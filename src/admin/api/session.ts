import type { FastifyInstance, FastifyReply } from 'fastify'
import { GerbangError } from '../../errors.js'
import { audit } from '../../store/audit.js'
import type { AdminDeps } from '../index.js'
import { isHttps, sessionCookie, SESSION_IDLE_MS, type AdminContext } from '../sessions.js'
import { adminOf } from './index.js'
import { answers, LoginBody, SessionInfo, type LoginBodyT } from './schemas.js'
import { publicUser } from './users.js'

function sessionInfo ({ user, permissions, session }: AdminContext): Record<string, unknown> {
  return { user: publicUser(user), permissions: [...permissions].sort(), csrfToken: session.csrfToken }
}

/** Sign in (POST), who am I (GET), sign out (DELETE). */
export async function sessionRoutes (app: FastifyInstance, { sessions, store }: AdminDeps): Promise<void> {
  app.post('/session', {
    config: { access: 'public' },
    schema: {
      summary: 'Sign in with email and password; sets the httpOnly session cookie',
      body: LoginBody,
      response: answers(200, SessionInfo, 400, 429)
    }
  }, async (request, reply: FastifyReply) => {
    const { email, password } = request.body as LoginBodyT
    const result = await sessions.login(email.trim(), password, request.ip)
    if (result instanceof GerbangError) {
      if (result.code === 'LOGIN_FAILED') request.log.warn({ email }, 'admin login failed')
      throw result
    }
    const { user } = result.context
    await audit(store, user.email, 'session.login', { type: 'session', id: user.email, name: user.name })
    reply.header('set-cookie', sessionCookie(result.cookieValue, isHttps(request), SESSION_IDLE_MS))
    return sessionInfo(result.context)
  })

  app.get('/session', {
    config: { access: 'session' },
    schema: { summary: 'The signed-in admin and their permissions (this request, too, needs the x-csrf-token)', response: answers(200, SessionInfo) }
  }, async (request) => sessionInfo(adminOf(request)))

  app.delete('/session', {
    config: { access: 'session' },
    schema: { summary: 'Sign out', response: answers(204, null, 403) }
  }, async (request, reply) => {
    await sessions.logout(adminOf(request).idHash)
    reply.header('set-cookie', sessionCookie('', isHttps(request), 0))
    return await reply.code(204).send()
  })
}
