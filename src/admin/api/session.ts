import { Type } from '@sinclair/typebox'
import { GerbangError } from '../../errors.js'
import { audit } from '../../store/audit.js'
import type { AdminApi, AdminDeps } from './deps.js'
import { isHttps, sessionCookie, SESSION_IDLE_MS, type AdminContext } from '../sessions.js'
import { adminOf } from './guard.js'
import { answers, LoginBody, SessionInfo } from './schemas.js'
import { publicUser } from './users.js'

function sessionInfo ({ user, permissions, session }: AdminContext): Record<string, unknown> {
  return { user: publicUser(user), permissions: [...permissions].sort(), csrfToken: session.csrfToken }
}

/** Remembers keys for a while: `first` is true the first time a key is seen in LOCKOUT_MEMORY_MS. */
class Seen {
  readonly #until = new Map<string, number>()
  first (key: string): boolean {
    const now = Date.now()
    if ((this.#until.get(key) ?? 0) > now) return false
    if (this.#until.size > 10_000) for (const [k, until] of this.#until) if (until <= now) this.#until.delete(k)
    this.#until.set(key, now + LOCKOUT_MEMORY_MS)
    return true
  }
}
const LOCKOUT_MEMORY_MS = 15 * 60_000

/**
 * Sign in (POST), who am I (GET), sign out (DELETE). Failed sign-ins and lockouts go to the audit log with the address.
 */
export async function sessionRoutes (app: AdminApi, { sessions, store }: AdminDeps): Promise<void> {
  const lockouts = new Seen()
  app.post('/session', {
    config: { access: 'public' },
    schema: {
      summary: 'Sign in with email and password; sets the httpOnly session cookie',
      body: LoginBody,
      response: answers(200, SessionInfo, 400, 429)
    }
  }, async (request, reply) => {
    const { email, password } = request.body
    const result = await sessions.login(email.trim(), password, request.ip)
    if (result instanceof GerbangError) {
      const tried = email.trim().slice(0, 254)
      if (result.code === 'LOGIN_FAILED') {
        request.log.warn({ email }, 'admin login failed')
        await audit(store, tried, 'session.loginFailed', { type: 'session', id: tried }, { address: request.ip })
      } else if (result.code === 'RATE_LIMITED' && result.extras?.lockout === true && lockouts.first(`${tried.toLowerCase()}|${request.ip}`)) {
        // Once per account, address and lockout: a script hammering a locked door does not flood the log.
        await audit(store, tried, 'session.lockout', { type: 'session', id: tried }, { address: request.ip, seconds: Number(result.extras.retryAfter ?? 0) })
      }
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

  app.get('/status', {
    config: { access: 'session' },
    schema: {
      summary: 'Whether the store answers now; while it is down the console shows a banner and serves what needs no store',
      response: answers(200, Type.Object({ store: Type.Union([Type.Literal('up'), Type.Literal('down')]), kind: Type.String() }))
    }
  }, async () => ({ store: store.isAvailable() ? 'up' : 'down', kind: store.kind }))

  app.delete('/session', {
    config: { access: 'session' },
    schema: { summary: 'Sign out', response: answers(204, null, 403) }
  }, async (request, reply) => {
    await sessions.logout(adminOf(request).idHash)
    reply.header('set-cookie', sessionCookie('', isHttps(request), 0))
    return await reply.code(204).send()
  })
}
