// The admin bench's gateway, whose first admin comes from its environment,
// and the admin's session: requests as a browser on the Clients page sends them.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Pool } from 'undici'
import { SESSION_COOKIE } from '../../src/admin/sessions.js'
import { startGateway, type StartedGateway } from '../gateway.js'
import { freePort } from '../processes.js'
import type { BenchRedis } from '../redis.js'
import { ADMIN_EMAIL, ADMIN_PASSWORD, GATEWAY_LOG_LEVEL, INTEGRATIONS, KEY_PEPPER } from './settings.js'

function writeRoutes (file: string, port: number): string {
  writeFileSync(file, [
    'defaults:',
    '  rateLimit: 1000000000/1s',
    'integrations:',
    ...INTEGRATIONS.flatMap(({ name, description }) => [
      `  ${name}:`,
      `    description: ${JSON.stringify(description)}`,
      // Nothing listens there: the bench never calls an integration.
      `    upstream: http://127.0.0.1:${port}/${name}/api/v1`
    ]),
    ''
  ].join('\n'))
  return file
}

const ADMIN_ENV = { GERBANG_ADMIN_EMAIL: ADMIN_EMAIL, GERBANG_ADMIN_PASSWORD: ADMIN_PASSWORD }

export async function startAdminGateway (dir: string, redis: BenchRedis): Promise<StartedGateway> {
  // startGateway passes the bench's environment on: the admin's email and password go that way.
  Object.assign(process.env, ADMIN_ENV)
  try {
    return await startGateway({
      routesFile: writeRoutes(join(dir, 'routes.yaml'), await freePort()),
      logFile: join(dir, 'gateway.log'),
      logLevel: GATEWAY_LOG_LEVEL,
      redisUrl: redis.url,
      keyPepper: KEY_PEPPER,
      waitForStore: true
    })
  } finally {
    for (const name of Object.keys(ADMIN_ENV)) Reflect.deleteProperty(process.env, name)
  }
}

const BROWSER_HEADERS = {
  accept: '*/*',
  'accept-encoding': 'gzip, deflate, br',
  'user-agent': 'gerbang-bench-admin'
}

/** Signs in: the session cookie, and the CSRF token every admin API request carries. */
export async function login (pool: Pool): Promise<{ cookie: string, csrf: string }> {
  const res = await pool.request({
    path: '/admin/api/session',
    method: 'POST',
    headers: { ...BROWSER_HEADERS, 'content-type': 'application/json' },
    body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD })
  })
  const text = await res.body.text()
  if (res.statusCode !== 200) throw new Error(`POST /admin/api/session answered ${res.statusCode}: ${text.slice(0, 300)}`)
  const setCookie = res.headers['set-cookie']
  const cookies = Array.isArray(setCookie) ? setCookie : [setCookie ?? '']
  const value = cookies.map((c) => new RegExp(`^${SESSION_COOKIE}=([^;]+)`).exec(c)?.[1]).find((v) => v !== undefined)
  if (value === undefined) throw new Error(`POST /admin/api/session set no ${SESSION_COOKIE} cookie: ${JSON.stringify(setCookie)}`)
  return { cookie: `${SESSION_COOKIE}=${value}`, csrf: (JSON.parse(text) as { csrfToken: string }).csrfToken }
}

export interface Answer { status: number, ms: number, bytes: number, body: string }

export async function get (pool: Pool, path: string, cookie: string, csrf: string): Promise<Answer> {
  const t0 = performance.now()
  const res = await pool.request({ path, method: 'GET', headers: { ...BROWSER_HEADERS, cookie, 'x-csrf-token': csrf } })
  const body = await res.body.text()
  return { status: res.statusCode, ms: performance.now() - t0, bytes: Buffer.byteLength(body), body }
}
