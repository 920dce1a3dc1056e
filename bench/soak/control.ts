// The soak's own requests to the gateway, beside the load: an admin reading
// the dashboard, OAuth2 tokens, /metrics, readiness probes. Each one has an
// access line too, so they are counted.
import { setTimeout as sleep } from 'node:timers/promises'
import type { Pool } from 'undici'
import { SESSION_COOKIE } from '../../src/admin/sessions.js'
import { answerCode, errorName } from './counts.js'
import type { Key } from './credentials.js'
import { ADMIN_EMAIL, ADMIN_PASSWORD } from './settings.js'

interface Answer { status: number, body: string, headers: Record<string, string | string[] | undefined> }

/** The soak's own requests to the gateway (everything but the load): each one that reached it has an access line. */
export const own = { sent: 0, answered: 0 }

export async function request (pool: Pool, method: 'GET' | 'POST', path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  own.sent++
  const res = await pool.request({
    method, path, headers, body: body ?? null, headersTimeout: 10_000, bodyTimeout: 10_000
  })
  const text = await res.body.text()
  own.answered++
  return { status: res.statusCode, body: text, headers: res.headers }
}

/** Status counts of the soak's own requests, by what they were for. */
export class ControlCounts {
  readonly counts: Record<string, Record<string, number>> = {}

  add (what: string, outcome: string | number): void {
    const row = this.counts[what] ?? {}
    row[String(outcome)] = (row[String(outcome)] ?? 0) + 1
    this.counts[what] = row
  }
}

export async function fetchToken (pool: Pool, oauth: Key, control: ControlCounts): Promise<string | undefined> {
  try {
    const form = new URLSearchParams({ client_id: oauth.id, client_secret: oauth.key }).toString()
    const res = await request(pool, 'POST', '/oauth2/v1/accesstoken?grant_type=client_credentials',
      { 'content-type': 'application/x-www-form-urlencoded' }, form)
    control.add('oauth2 token', res.status === 200 ? 200 : `${res.status} ${answerCode(res.body) ?? ''}`.trim())
    if (res.status !== 200) return undefined
    return (JSON.parse(res.body) as { access_token?: string }).access_token
  } catch (err) {
    control.add('oauth2 token', `error ${errorName(err)}`)
    return undefined
  }
}

/** An admin signed in, reading the dashboard and the clients list every few seconds. */
export class AdminPoller {
  readonly #pool: Pool
  readonly #control: ControlCounts
  #cookie: string | undefined
  /** The session's CSRF token: every admin API request carries it, reads too. */
  #csrf = ''
  /** False while the admin user does not exist (Redis emptied): a failed login would count toward the lockout. */
  userExists = true
  /** performance.now() until which a login (scrypt: ~128 MiB for a quarter second) may show in the RSS. */
  loginUntil = 0
  logins = 0
  #ticks = 0

  constructor (pool: Pool, control: ControlCounts) {
    this.#pool = pool
    this.#control = control
  }

  async #login (): Promise<void> {
    this.loginUntil = Number.POSITIVE_INFINITY
    try {
      const res = await request(this.#pool, 'POST', '/admin/api/session', { 'content-type': 'application/json' },
        JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }))
      this.#control.add('admin login', res.status === 200 ? 200 : `${res.status} ${answerCode(res.body) ?? ''}`.trim())
      if (res.status !== 200) return
      const setCookie = res.headers['set-cookie']
      const cookies = Array.isArray(setCookie) ? setCookie : [setCookie ?? '']
      const value = cookies.map((c) => new RegExp(`^${SESSION_COOKIE}=([^;]+)`).exec(c)?.[1]).find((v) => v !== undefined)
      if (value !== undefined) {
        this.#cookie = `${SESSION_COOKIE}=${value}`
        this.#csrf = (JSON.parse(res.body) as { csrfToken?: string }).csrfToken ?? ''
        this.logins++
      }
    } catch (err) {
      this.#control.add('admin login', `error ${errorName(err)}`)
    } finally {
      this.loginUntil = performance.now() + 2000
    }
  }

  async tick (): Promise<void> {
    if (this.#cookie === undefined) {
      if (!this.userExists) return
      await this.#login()
      if (this.#cookie === undefined) return
    }
    this.#ticks++
    const paths = ['/admin/api/dashboard?range=1h', '/admin/api/clients?limit=50']
    // The day's dashboard once a minute: its summary is shared for a minute.
    if (this.#ticks % 12 === 1) paths.push('/admin/api/dashboard?range=24h')
    for (const path of paths) {
      const what = `GET ${path.split('?')[0] ?? path}${path.includes('24h') ? ' 24h' : ''}`
      try {
        const res = await request(this.#pool, 'GET', path, { cookie: this.#cookie ?? '', 'x-csrf-token': this.#csrf })
        this.#control.add(what, res.status === 200 ? 200 : `${res.status} ${answerCode(res.body) ?? ''}`.trim())
        if (res.status === 401) {
          this.#cookie = undefined
          return
        }
      } catch (err) {
        this.#control.add(what, `error ${errorName(err)}`)
      }
    }
  }
}

export function parseMetrics (text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    out.set(line.slice(0, space), Number(line.slice(space + 1)))
  }
  return out
}

export async function waitReady (pool: Pool, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    try {
      if ((await request(pool, 'GET', '/readyz')).status === 200) return true
    } catch { /* not yet */ }
    await sleep(200)
  }
  return false
}
