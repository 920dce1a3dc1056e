// The environment, read and checked once at start (docs/contract.md section 2).

import type { PressureOptions } from '../ops/pressure.js'
import { compileTrustProxy } from '../http/client-address.js'
import { parseDocServers, type DocServer } from '../docs/servers.js'

export interface GatewayEnv {
  port: number
  host: string
  /**
   * GERBANG_ADMIN_PORT: /admin and /admin/api are served on this port only
   * (and not on PORT), so no proxied page shares the admin UI's origin.
   * Unset: /admin shares PORT.
   */
  adminPort: number | undefined
  /** GERBANG_ADMIN_HOST: the admin listener's address; default HOST. */
  adminHost: string
  /** GERBANG_TRUST_PROXY: CIDRs of the proxies whose X-Forwarded-For/-Proto are believed; undefined: nobody's. */
  trustProxy: string | undefined
  routesFile: string
  logLevel: string
  /** How long SIGTERM waits for in-flight requests before giving up. */
  shutdownTimeoutMs: number
  redisUrl: string | undefined
  /** GERBANG_DATA_DIR: where the embedded store keeps its files when REDIS_URL is unset; default ./data. */
  dataDir: string
  /** Secret mixed into key and token hashes; required with REDIS_URL. */
  keyPepper: string | undefined
  /** When set, GET /metrics needs `Authorization: Bearer <this>`; unset, /metrics is open. */
  metricsToken: string | undefined
  /** When to shed load (GERBANG_MAX_EVENT_LOOP_DELAY_MS, GERBANG_MAX_HEAP_MB). */
  pressure: PressureOptions
  /** GERBANG_DOC_SERVERS: the Production and Development servers /doc offers; empty: the server the page came from. */
  docServers: DocServer[]
}

/** GERBANG_MAX_EVENT_LOOP_DELAY_MS and GERBANG_MAX_HEAP_MB: when to shed load (src/ops/pressure.ts). */
function pressureFromEnv (env: NodeJS.ProcessEnv): PressureOptions {
  const delay = env.GERBANG_MAX_EVENT_LOOP_DELAY_MS
  const heap = env.GERBANG_MAX_HEAP_MB
  const positive = (value: string, name: string): number => {
    const n = Number(value)
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a whole number above 0, not '${value}'`)
    return n
  }
  return {
    ...(delay !== undefined && delay !== '' ? { maxEventLoopDelayMs: positive(delay, 'GERBANG_MAX_EVENT_LOOP_DELAY_MS') } : {}),
    ...(heap !== undefined && heap !== '' ? { maxHeapUsedBytes: positive(heap, 'GERBANG_MAX_HEAP_MB') * 2 ** 20 } : {})
  }
}

/** GERBANG_ADMIN_PORT: unset or empty, none; 0 picks a free port (tests). */
function adminPortFrom (value: string | undefined, port: number): number | undefined {
  if (value === undefined || value === '') return undefined
  const n = Number(value)
  if (!/^[0-9]+$/.test(value) || n > 65535) throw new Error(`GERBANG_ADMIN_PORT must be a port number, not '${value}'`)
  if (n !== 0 && n === port) throw new Error(`GERBANG_ADMIN_PORT must differ from PORT (both are ${port}): the admin UI needs a port of its own`)
  return n
}

/** Where the embedded store lives when neither REDIS_URL nor GERBANG_DATA_DIR says otherwise. */
export const DEFAULT_DATA_DIR = './data'

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])

export function readEnv (env: NodeJS.ProcessEnv = process.env): GatewayEnv {
  const port = Number(env.PORT ?? 8080)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, not '${env.PORT ?? ''}'`)
  const logLevel = env.LOG_LEVEL ?? 'info'
  if (!LOG_LEVELS.has(logLevel)) throw new Error(`LOG_LEVEL must be one of ${[...LOG_LEVELS].join(', ')}, not '${logLevel}'`)
  const shutdownTimeoutMs = Number(env.GERBANG_SHUTDOWN_TIMEOUT_MS ?? 25_000)
  if (!Number.isInteger(shutdownTimeoutMs) || shutdownTimeoutMs < 0) throw new Error('GERBANG_SHUTDOWN_TIMEOUT_MS must be a whole number of milliseconds')
  const pressure = pressureFromEnv(env)
  const metricsToken = env.GERBANG_METRICS_TOKEN === '' ? undefined : env.GERBANG_METRICS_TOKEN
  // Its value is never part of a message: it is a secret.
  if (metricsToken !== undefined && !/^[\x21-\x7e]{16,}$/.test(metricsToken)) {
    throw new Error('GERBANG_METRICS_TOKEN must be at least 16 characters, printable ASCII without spaces')
  }
  const host = env.HOST ?? '0.0.0.0'
  const trustProxy = env.GERBANG_TRUST_PROXY === '' ? undefined : env.GERBANG_TRUST_PROXY
  compileTrustProxy(trustProxy) // throws, naming the entry that is not a CIDR
  const adminPort = adminPortFrom(env.GERBANG_ADMIN_PORT, port)
  const docServers = parseDocServers(env.GERBANG_DOC_SERVERS)
  return {
    port,
    host,
    adminPort,
    adminHost: env.GERBANG_ADMIN_HOST === undefined || env.GERBANG_ADMIN_HOST === '' ? host : env.GERBANG_ADMIN_HOST,
    trustProxy,
    routesFile: env.GERBANG_ROUTES ?? './routes.yaml',
    logLevel,
    shutdownTimeoutMs,
    redisUrl: env.REDIS_URL === '' ? undefined : env.REDIS_URL,
    dataDir: env.GERBANG_DATA_DIR === undefined || env.GERBANG_DATA_DIR === '' ? DEFAULT_DATA_DIR : env.GERBANG_DATA_DIR,
    keyPepper: env.GERBANG_KEY_PEPPER === '' ? undefined : env.GERBANG_KEY_PEPPER,
    metricsToken,
    pressure,
    docServers
  }
}
