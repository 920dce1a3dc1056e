// The environment, read and checked once at start (CONTRACT.md section 2).

export interface GatewayEnv {
  port: number
  host: string
  routesFile: string
  logLevel: string
  /** How long SIGTERM waits for in-flight requests before giving up. */
  shutdownTimeoutMs: number
  redisUrl: string | undefined
  /** Secret mixed into key and token hashes; required with REDIS_URL. */
  keyPepper: string | undefined
}

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])

export function readEnv (env: NodeJS.ProcessEnv = process.env): GatewayEnv {
  const port = Number(env.PORT ?? 8080)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, not '${env.PORT ?? ''}'`)
  const logLevel = env.LOG_LEVEL ?? 'info'
  if (!LOG_LEVELS.has(logLevel)) throw new Error(`LOG_LEVEL must be one of ${[...LOG_LEVELS].join(', ')}, not '${logLevel}'`)
  const shutdownTimeoutMs = Number(env.GERBANG_SHUTDOWN_TIMEOUT_MS ?? 25_000)
  if (!Number.isInteger(shutdownTimeoutMs) || shutdownTimeoutMs < 0) throw new Error('GERBANG_SHUTDOWN_TIMEOUT_MS must be a whole number of milliseconds')
  return {
    port,
    host: env.HOST ?? '0.0.0.0',
    routesFile: env.GERBANG_ROUTES ?? './routes.yaml',
    logLevel,
    shutdownTimeoutMs,
    redisUrl: env.REDIS_URL === '' ? undefined : env.REDIS_URL,
    keyPepper: env.GERBANG_KEY_PEPPER === '' ? undefined : env.GERBANG_KEY_PEPPER
  }
}
