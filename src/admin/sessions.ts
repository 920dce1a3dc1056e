import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { decoyHash, verifyPassword } from '../auth/passwords.js'
import { GerbangError } from '../errors.js'
import {
  StoreUnavailableError, type LimitStore, type Permission, type RoleStore, type Session, type SessionStore, type User,
  type UserStore
} from '../store/types.js'
import { LoginGuard } from './login-guard.js'
import { permissionsOf } from './rbac.js'

// Admin sessions. The cookie holds 32 random bytes; the store keeps only
// their SHA-256 (a store dump cannot be replayed as cookies), the user's
// email, and the session's CSRF token, which every admin API request but the
// sign-in must carry in x-csrf-token, reads included. The UI gets the token
// from the sign-in answer, or from the admin page itself when the browser
// navigated to it (src/admin/ui-pages.ts): never from an answer a script on
// another page of the same origin could fetch and read.

export const SESSION_COOKIE = 'gerbang_session'
/** A session ends after this long without a request... */
export const SESSION_IDLE_MS = 2 * 60 * 60_000
/** ...and after this long whatever its activity. */
export const SESSION_MAX_MS = 12 * 60 * 60_000
const COOKIE_PATH = '/admin'
/** How many recently seen sessions a process remembers for a store outage. */
const RECENT_SESSIONS = 1000

/** Who is behind an admin request, and what they may do. */
export interface AdminContext {
  user: User
  permissions: ReadonlySet<Permission>
  session: Session
  idHash: string
}

export interface LoginResult {
  cookieValue: string
  context: AdminContext
}

function hashId (value: string): string {
  return createHash('sha256').update(value).digest('hex')
}

/** One cookie's value from a Cookie header; undefined when absent. */
export function readCookie (header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}

/**
 * The Set-Cookie value: httpOnly so scripts cannot read it, SameSite=Strict
 * so no other site's page sends it, Secure when the browser reached us over
 * HTTPS (directly or through a proxy that says so).
 */
export function sessionCookie (value: string, secure: boolean, maxAgeMs: number): string {
  return `${SESSION_COOKIE}=${value}; Path=${COOKIE_PATH}; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(maxAgeMs / 1000)}` +
    (secure ? '; Secure' : '')
}

export function isHttps (request: FastifyRequest): boolean {
  // request.protocol believes X-Forwarded-Proto from a trusted proxy only (GERBANG_TRUST_PROXY).
  return request.protocol === 'https'
}

export class SessionManager {
  readonly #store: SessionStore & UserStore & RoleStore & LimitStore
  readonly #guard: LoginGuard
  // Verified against when the email is unknown, so a wrong email and a wrong
  // password take the same time (a full scrypt with the current parameters).
  readonly #decoy = decoyHash()
  readonly #now: () => number

  /**
   * @param options.now the clock sessions are timed by (epoch ms): Date.now
   *   unless told; unit tests pass one they move by hand. The store's own idle
   *   expiry (the TTL given to saveSession and touchSession) keeps the store's clock.
   */
  constructor (store: SessionStore & UserStore & RoleStore & LimitStore, options: { now?: () => number } = {}) {
    this.#store = store
    this.#guard = new LoginGuard(store)
    this.#now = options.now ?? Date.now
  }

  async login (email: string, password: string, address: string): Promise<LoginResult | GerbangError> {
    const attempt = await this.#guard.begin(email, address)
    if (attempt instanceof GerbangError) return attempt
    const user = await this.#store.getUser(email)
    const stored = user?.passwordHash ?? this.#decoy
    const valid = await this.#guard.verify(async () => await verifyPassword(password, stored))
    if (valid === undefined) {
      return new GerbangError('RATE_LIMITED', 'too many logins at once; try again in a moment',
        { retryAfter: 1 }, { 'retry-after': '1' })
    }
    if (!valid || user === undefined) return new GerbangError('LOGIN_FAILED', 'the email or the password is wrong')
    await attempt.succeeded()

    const cookieValue = randomBytes(32).toString('base64url')
    const now = this.#now()
    const session: Session = {
      email: user.email,
      csrfToken: randomBytes(32).toString('base64url'),
      epoch: user.sessionEpoch ?? 0,
      createdAt: new Date(now).toISOString(),
      absoluteExpiry: now + SESSION_MAX_MS
    }
    const idHash = hashId(cookieValue)
    await this.#store.saveSession(idHash, session, SESSION_IDLE_MS)
    return { cookieValue, context: { user, session, idHash, permissions: await permissionsOf(this.#store, user.role) } }
  }

  /**
   * The signed-in admin behind a Cookie header, or undefined. A session ends
   * when it idles or ages out, its user is deleted, or the password changed.
   */
  async resolve (cookieHeader: string | undefined): Promise<AdminContext | undefined> {
    const value = readCookie(cookieHeader, SESSION_COOKIE)
    if (value === undefined || !/^[A-Za-z0-9_-]{43}$/.test(value)) return undefined
    const idHash = hashId(value)
    try {
      const context = await this.#resolve(idHash)
      this.#remember(idHash, context)
      return context
    } catch (err) {
      // The store is down: a session this process saw lately stays signed in,
      // so the console keeps its menu and serves what needs no store.
      const known = this.#recent.get(idHash)
      if (!(err instanceof StoreUnavailableError) || known === undefined) throw err
      const now = this.#now()
      if (now - known.seenAt > SESSION_IDLE_MS || known.context.session.absoluteExpiry < now) throw err
      return known.context
    }
  }

  /** Sessions resolved lately by this process, for the store's outages; bounded, oldest dropped first. */
  readonly #recent = new Map<string, { context: AdminContext, seenAt: number }>()

  #remember (idHash: string, context: AdminContext | undefined): void {
    this.#recent.delete(idHash)
    if (context === undefined) return
    this.#recent.set(idHash, { context, seenAt: this.#now() })
    if (this.#recent.size > RECENT_SESSIONS) this.#recent.delete(this.#recent.keys().next().value as string)
  }

  async #resolve (idHash: string): Promise<AdminContext | undefined> {
    const session = await this.#store.getSession(idHash)
    if (session === undefined) return undefined
    if (session.absoluteExpiry < this.#now()) {
      await this.#store.deleteSession(idHash)
      return undefined
    }
    const user = await this.#store.getUser(session.email)
    if (user === undefined || (user.sessionEpoch ?? 0) !== session.epoch) {
      await this.#store.deleteSession(idHash)
      return undefined
    }
    await this.#store.touchSession(idHash, Math.min(SESSION_IDLE_MS, session.absoluteExpiry - this.#now()))
    return { user, session, idHash, permissions: await permissionsOf(this.#store, user.role) }
  }

  async logout (idHash: string): Promise<void> {
    this.#recent.delete(idHash)
    await this.#store.deleteSession(idHash)
  }
}

/** Whether the request carries the session's CSRF token, compared in constant time. */
export function hasCsrfToken (request: FastifyRequest, session: Session): boolean {
  const sent = request.headers['x-csrf-token']
  if (typeof sent !== 'string') return false
  const a = Buffer.from(sent)
  const b = Buffer.from(session.csrfToken)
  return a.length === b.length && timingSafeEqual(a, b)
}

/**
 * A browser names the page a request came from in Origin; one from another
 * site is refused even before the CSRF token is looked at (login included,
 * which has no session yet).
 */
export function isCrossSite (request: FastifyRequest): boolean {
  const origin = request.headers.origin
  if (origin === undefined) return false
  try {
    return new URL(origin).host !== request.headers.host
  } catch {
    return true
  }
}

/**
 * Fetch metadata (Sec-Fetch-Site, set by the browser, never by a script) says
 * the request comes from another site's page, and it is not a top-level
 * navigation (a link or a bookmark, which may land on /admin from anywhere).
 * Browsers count other ports of the same host as the same site, so this is
 * what keeps a proxied page on the gateway's main port from using the admin
 * port's cookie. Requests without fetch metadata (older browsers, API
 * clients) are not refused here; the Origin check and the CSRF token apply.
 */
export function fromAnotherSite (request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site']
  if (site !== 'cross-site' && site !== 'same-site') return false
  return !(isTopLevelNavigation(request) && (request.method === 'GET' || request.method === 'HEAD'))
}

/** The browser is loading this as the document of a tab or window (not a frame, not a fetch()). */
export function isTopLevelNavigation (request: FastifyRequest): boolean {
  return request.headers['sec-fetch-mode'] === 'navigate' && request.headers['sec-fetch-dest'] === 'document'
}
