import { flushCompileCache } from 'node:module'
import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import { buildApp } from './app.js'
import type { ProbeCoordination } from './proxy/health-checks.js'
import { formatProblem, loadRoutesFile } from './config/routes-loader.js'
import { createLogger } from './logging.js'
import { startGcGovernor } from './ops/gc-governor.js'
import { SecretHasher } from './auth/secrets.js'
import { redactUrl } from './cli/store-connection.js'
import { DEFAULT_DATA_DIR } from './config/env.js'
import { DiskStore, storeFiles } from './store/disk-store.js'
import { openRedisStore } from './store/index.js'
import { StoreUnavailableError, type Store } from './store/types.js'
import { ensureFirstAdmin } from './admin/first-admin.js'
import { RoutesWatcher } from './config/routes-watcher.js'
import type { PressureOptions } from './ops/pressure.js'
import type { DocServer } from './docs/servers.js'
import { tracingFromEnv } from './ops/tracing.js'

export interface StartOptions {
  routesFile: string
  port: number
  host: string
  /**
   * GERBANG_ADMIN_PORT: serve /admin on this port only (0: a free one); undefined: on `port`, beside the integrations.
   */
  adminPort?: number | undefined
  /** The admin listener's address; default `host`. */
  adminHost?: string
  /** GERBANG_TRUST_PROXY, already checked by readEnv. */
  trustProxy?: string | undefined
  logLevel: string
  shutdownTimeoutMs: number
  env?: NodeJS.ProcessEnv
  /** Runs after the gateway has stopped serving, before the process exits (the demo closes its upstreams here). */
  onStopped?: () => Promise<void>
  redisUrl: string | undefined
  /** GERBANG_DATA_DIR: the embedded store's directory when redisUrl is unset; default ./data. */
  dataDir?: string
  keyPepper: string | undefined
  /** GERBANG_METRICS_TOKEN, already checked by readEnv. */
  metricsToken?: string | undefined
  pressure?: PressureOptions
  /** GERBANG_DOC_SERVERS, already checked by readEnv. */
  docServers?: DocServer[]
  /**
   * Set in a `gerbang start --workers` worker (src/workers.ts): its ready line
   * reads "worker ready" with its id, since only the primary says "gerbang is
   * ready" (once every worker is), and onReady hears the address.
   */
  worker?: {
    id: number
    onReady: (address: string, adminAddress: string | undefined) => void
    /** Whether this worker probes upstream targets (the primary names one) and how verdicts reach the others. */
    probes?: ProbeCoordination
  }
}

/** The store and key hasher the environment asks for, or a reason to refuse to start. */
async function storeFor (
  options: StartOptions, logger: { info: (facts: object, msg: string) => void }
): Promise<{ store: Store, hasher: SecretHasher }> {
  if (options.redisUrl === undefined) {
    return diskStoreFor(options.dataDir ?? DEFAULT_DATA_DIR, options.keyPepper, logger)
  }
  if (options.keyPepper === undefined) {
    throw new StartupError('GERBANG_KEY_PEPPER is required with REDIS_URL: it is mixed into every key hash, ' +
      'and every gateway process and the gerbang keys command must share it')
  }
  let hasher: SecretHasher
  try {
    hasher = new SecretHasher(options.keyPepper)
  } catch (err) {
    throw new StartupError((err as Error).message)
  }
  try {
    const store = await openRedisStore(options.redisUrl)
    logger.info({ store: 'redis', url: redactUrl(options.redisUrl) }, 'using the store in Redis')
    return { store, hasher }
  } catch (err) {
    throw new StartupError((err as Error).message)
  }
}

/**
 * The embedded store on disk (docs/contract.md section 12), and its key
 * pepper: GERBANG_KEY_PEPPER or the store's own.
 */
function diskStoreFor (
  dataDir: string, keyPepper: string | undefined, logger: { info: (facts: object, msg: string) => void }
): { store: Store, hasher: SecretHasher } {
  let store: DiskStore
  try {
    store = new DiskStore({ dir: dataDir })
  } catch (err) {
    throw new StartupError(`the embedded store in ${storeFiles(dataDir).dir} (GERBANG_DATA_DIR) cannot be opened: ${(err as Error).message}`)
  }
  try {
    const hasher = new SecretHasher(store.keyPepper(keyPepper))
    logger.info({ store: 'disk', dataDir: store.files.dir, file: store.files.data },
      'REDIS_URL is not set: using the embedded store on disk in GERBANG_DATA_DIR')
    return { store, hasher }
  } catch (err) {
    store.close().catch(() => {})
    throw new StartupError((err as Error).message)
  }
}

export class StartupError extends Error {}

/**
 * Starts the gateway process: loads and checks the routes, listens, and on
 * SIGTERM or SIGINT stops accepting, lets in-flight requests finish (for at
 * most shutdownTimeoutMs) and exits 0.
 */
export async function startGateway (options: StartOptions): Promise<FastifyInstance> {
  const logger = createLogger(options.logLevel)
  const env = options.env ?? process.env
  const loaded = await loadRoutesFile(options.routesFile, env)
  if (!loaded.ok) {
    throw new StartupError(`${options.routesFile} is not valid; the gateway will not start:\n` +
      loaded.problems.map((p) => '  ' + formatProblem(options.routesFile, p)).join('\n'))
  }
  const { store, hasher } = await storeFor(options, logger)
  // W3C trace context always; OTLP export when the OTEL_* environment asks for it.
  const tracing = await tracingFromEnv(env, logger)
  let app: FastifyInstance
  try {
    app = await buildApp({
      routes: loaded.config,
      logger,
      store,
      hasher,
      metricsToken: options.metricsToken,
      ...(options.docServers !== undefined ? { docServers: options.docServers } : {}),
      adminListener: options.adminPort !== undefined,
      trustProxy: options.trustProxy,
      tracing,
      ...(options.pressure !== undefined ? { pressure: options.pressure } : {}),
      ...(options.worker?.probes !== undefined ? { probes: options.worker.probes } : {})
    })
  } catch (err) {
    await store.close()
    throw new StartupError(`the gateway will not start:\n  ${(err as Error).message.replaceAll('\n', '\n  ')}`)
  }
  try {
    await ensureFirstAdmin(store, env, logger)
  } catch (err) {
    if (err instanceof StoreUnavailableError) {
      logger.warn({ err }, 'could not check for a first admin user: the store is unavailable')
    } else {
      await app.close()
      throw new StartupError(`the gateway will not start: ${(err as Error).message}`)
    }
  }

  let address: string
  try {
    address = await app.listen({ port: options.port, host: options.host })
  } catch (err) {
    await app.close()
    throw new StartupError(`the gateway cannot listen on ${options.host}:${options.port}: ${(err as Error).message}`)
  }
  // GERBANG_ADMIN_PORT: /admin on a listener of its own (src/admin/listener.ts).
  let adminAddress: string | undefined
  if (options.adminPort !== undefined && app.adminListener !== null) {
    const adminHost = options.adminHost ?? options.host
    try {
      adminAddress = await app.adminListener.listen(options.adminPort, adminHost)
    } catch (err) {
      await app.close()
      throw new StartupError(`the admin UI cannot listen on ${adminHost}:${options.adminPort} (GERBANG_ADMIN_PORT): ${(err as Error).message}`)
    }
  }

  // Socket buffers of streamed bodies are collected before they pile up (src/ops/gc-governor.ts).
  const stopGcGovernor = startGcGovernor()
  // routes.yaml is watched, and SIGHUP reloads it too (not a reason to stop).
  const watcher = new RoutesWatcher(app.routeTable, { file: options.routesFile, env, logger })
  watcher.watch()
  const onHangup = (): void => { watcher.reload('SIGHUP').catch((err: unknown) => { logger.error({ err }, 'routes reload failed') }) }
  process.on('SIGHUP', onHangup)

  // Installed only once listening: close-with-grace also exits on 'beforeExit',
  // which must not turn a failed start into exit code 0.
  closeWithGrace({ delay: options.shutdownTimeoutMs, logger, skip: ['SIGHUP'] }, async ({ signal, err }) => {
    if (err !== undefined) logger.error({ err }, 'fatal error, shutting down')
    else logger.info({ signal }, 'shutting down: finishing in-flight requests')
    process.off('SIGHUP', onHangup)
    stopGcGovernor()
    watcher.close()
    await app.close()
    await options.onStopped?.()
    logger.info('stopped')
    logger.flush()
  })

  const ready = {
    address,
    ...(adminAddress !== undefined ? { adminAddress } : {}),
    routes: options.routesFile,
    integrations: loaded.config.integrations.map((i) => i.name)
  }
  if (options.worker === undefined) {
    logger.info(ready, 'gerbang is ready')
  } else {
    logger.info({ ...ready, worker: options.worker.id }, 'worker ready')
    options.worker.onReady(address, adminAddress)
  }
  // With NODE_COMPILE_CACHE set (npm test sets it), the code compiled to start is kept now, not at exit: a
  // gateway that is killed (as tests end theirs) would never write it, and every start would compile it again.
  flushCompileCache()
  return app
}
