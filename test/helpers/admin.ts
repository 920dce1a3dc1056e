import { randomBytes, scryptSync } from 'node:crypto'
import type { TestContext } from 'node:test'
import type { Page } from 'playwright-core'
import type { AppOptions } from '../../src/app.js'
import { hashPassword } from '../../src/auth/passwords.js'
import { SecretHasher } from '../../src/auth/secrets.js'
import { RedisStore } from '../../src/store/redis-store.js'
import type { Store } from '../../src/store/types.js'
import { startEchoOrigin, type Origin } from './origin.js'
import { startGateway, type TestGateway } from './gateway.js'
import { startRedis, storeConnected } from './redis.js'

export const PASSWORD = 'rahasia-banten-2026'
export const PEPPER = 'admin-tests-pepper-0123456789'
export const USERS = {
  admin: 'admin@bantenprov.go.id',
  operator: 'operator@bantenprov.go.id',
  viewer: 'viewer@bantenprov.go.id'
} as const

/**
 * PASSWORD as the seeded users store it: an scrypt hash in the product's format
 * (src/auth/passwords.ts) but at N=2^10 instead of the product's 2^17, made
 * once per test process. verifyPassword reads N, r and p from the stored
 * string, so every sign-in still runs the product's own check, in a
 * millisecond rather than a second of CPU. Hashes the product makes (the
 * admin API, `gerbang users create`, GERBANG_ADMIN_PASSWORD) keep the real
 * parameters; a test about what is stored asks for real ones (`realHashes`).
 */
export const SEEDED_HASH = (() => {
  const N = 2 ** 10
  const salt = randomBytes(16)
  const key = scryptSync(PASSWORD.normalize('NFKC'), salt, 32, { N, r: 8, p: 1 })
  return ['scrypt', N, 8, 1, salt.toString('base64'), key.toString('base64')].join('$')
})()

export interface SeedOptions {
  /** Hash the seeded users' password with the product's hashPassword (a second of CPU each) instead of SEEDED_HASH. */
  realHashes?: boolean
}

export interface AdminGateway extends TestGateway {
  store: Store
  origin: Origin
}

/**
 * A gateway on Redis with two apiKey integrations in front of an echo
 * origin, and one user per built-in role (password PASSWORD, stored as
 * SEEDED_HASH unless `realHashes`). Traffic
 * counts reach the store every 100 ms.
 */
export async function startAdminGateway (
  t: TestContext, extra: Partial<AppOptions> = {}, { realHashes = false }: SeedOptions = {}
): Promise<AdminGateway> {
  // extra.store, when given, replaces Redis (a store the test can switch off).
  const store = extra.store ?? await (async () => {
    const redis = await startRedis(t)
    return new RedisStore({ url: redis.url, prefix: redis.prefix })
  })()
  const origin = await startEchoOrigin()
  t.after(origin.close)
  const yaml = [
    'integrations:',
    '  yankes:',
    `    upstream: ${origin.url}`,
    '    description: Layanan kesehatan',
    '  satu-data:',
    `    upstream: ${origin.url}`,
    '    description: Portal satu data',
    ''
  ].join('\n')
  const gw = await startGateway(t, yaml, {}, {
    hasher: new SecretHasher(PEPPER),
    trafficFlushMs: 100,
    authCache: { freshMs: 60_000 },
    ...extra,
    store
  })
  const passwordHash = realHashes ? await hashPassword(PASSWORD) : SEEDED_HASH
  // A RedisStore connects in the background and refuses commands until then.
  await storeConnected(store)
  for (const [role, email] of Object.entries(USERS)) {
    await store.createUser({ email, name: `Pak ${role[0]?.toUpperCase() ?? ''}${role.slice(1)}`, role, passwordHash, createdAt: new Date().toISOString() })
  }
  return { ...gw, store, origin }
}

export interface AdminSession {
  cookie: string
  csrf: string
  /** Calls the admin API with the session cookie and the CSRF token. */
  call: (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<Response>
}

/** POST /admin/api/session with an email and a password: the answer, whatever it is. */
export async function postLogin (
  url: string, email: string, password = PASSWORD, headers: Record<string, string> = {}
): Promise<Response> {
  return await fetch(`${url}/admin/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ email, password })
  })
}

/** Signs in through POST /admin/api/session. */
export async function login (url: string, email: string, password = PASSWORD): Promise<AdminSession> {
  const res = await postLogin(url, email, password)
  if (res.status !== 200) throw new Error(`login as ${email} answered ${res.status}: ${await res.text()}`)
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? ''
  const { csrfToken } = await res.json() as { csrfToken: string }
  return {
    cookie,
    csrf: csrfToken,
    call: async (method, path, body, headers = {}) => await fetch(`${url}/admin/api${path}`, {
      method,
      headers: {
        cookie,
        'x-csrf-token': csrfToken,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {})
    })
  }
}

/** Signs in to /admin in a browser page as the admin user (in `lang`, when given); resolves on the dashboard. */
export async function signInBrowser (page: Page, base: string, lang?: 'id' | 'en'): Promise<void> {
  await page.goto(`${base}/admin/login`)
  if (lang !== undefined) {
    await page.evaluate((l) => { localStorage.setItem('gerbang.lang', l) }, lang)
    await page.reload()
  }
  const form = page.locator('form.login-form')
  await form.waitFor()
  await form.locator('input[name="email"]').fill(USERS.admin)
  await form.locator('input[name="password"]').fill(PASSWORD)
  await form.locator('button[type="submit"]').click()
  await page.waitForURL(`${base}/admin`)
  await page.getByTestId('admin-name').waitFor()
}

/** The status of a request through the gateway with `key` in x-api-key (its body read and dropped). */
export async function keyedStatus (gw: AdminGateway, path: string, key: string): Promise<number> {
  const res = await fetch(`${gw.url}${path}`, { headers: { 'x-api-key': key } })
  await res.arrayBuffer()
  return res.status
}
