import { randomUUID } from 'node:crypto'
import pino from 'pino'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyBaseLogger } from 'fastify'
import type { RoutesConfig } from './config/routes-loader.js'
import { GerbangError, type ErrorCode } from './errors.js'
import { compileTrustProxy, TRUST_NOBODY } from './http/client-address.js'
import { gatewayServer } from './http/http-server.js'
import { DEFAULT_ALLOW, HTTP_METHODS } from './config/routes-schema.js'
import { pathOnly, sendProblem } from './http/problem.js'
import { AccessLog } from './http/access-log.js'
import { LazyRequestLogger } from './http/lazy-logger.js'
import { lazySchemaCompilers, lazySchemasOf } from './http/lazy-schemas.js'
import { decorateRequestFacts } from './http/request-facts.js'
import { healthPlugin } from './ops/health.js'
import { GatewayMetrics, metricsPlugin } from './ops/metrics.js'
import { pressurePlugin, type PressureOptions } from './ops/pressure.js'
import { proxyPlugin } from './proxy/index.js'
import { RouteTables, type RoutesDiff } from './proxy/route-tables.js'
import { installTracing } from './ops/tracing.js'
import type { Tracing } from './ops/trace-context.js'
import type { UpstreamConnectOptions } from './proxy/route-table.js'
import { PluginInstances } from './upstream-plugins/chain.js'
import { TargetHealthRegistry } from './proxy/balancer.js'
import { HealthChecks, type ProbeCoordination } from './proxy/health-checks.js'
import { Authenticator, type AuthenticatorOptions } from './auth/authenticator.js'
import { ClientInputError, ClientService } from './auth/clients.js'
import { oauth2Plugin } from './auth/oauth2.js'
import { ephemeralPepper, SecretHasher } from './auth/secrets.js'
import { MemoryStore } from './store/memory-store.js'
import { RateLimiter } from './limits/rate-limiter.js'
import { StoreConflictError, StoreUnavailableError, type Store } from './store/types.js'
import { saneRequestId } from './proxy/headers.js'
import { DocsHolder, docsPlugin } from './docs/index.js'
import type { DocServer } from './docs/servers.js'
import { adminPlugin } from './admin/index.js'
import { separateAdminListener, sharedAdminListener } from './admin/listener.js'
import { ownBodyDeadline } from './http/body-deadline.js'
import { TrafficRecorder } from './analytics/traffic-recorder.js'
import { WebSocketRelay } from './proxy/websocket.js'

export interface AppOptions {
  routes: RoutesConfig
  /** Where clients, keys and tokens live; the app owns it and closes it. Default: a new embedded MemoryStore. */
  store?: Store
  /** Hashes keys and tokens; default: one with a random pepper, fit only for the embedded store. */
  hasher?: SecretHasher
  /** Tuning for the credential cache (tests shorten its times). */
  authCache?: AuthenticatorOptions
  /** Lifetime of OAuth2 access tokens; default SATUSEHAT's 14399 s. */
  tokenTtlMs?: number
  /** A pino logger; omitted, the app logs nothing (tests) but still counts traffic and metrics. */
  logger?: FastifyBaseLogger
  /** Extra socket options for upstream connections (CA bundle, DNS lookup). */
  upstreamConnect?: UpstreamConnectOptions
  /** How often traffic counts for the admin dashboard go to the store; default 5 s. */
  trafficFlushMs?: number
  /** GERBANG_METRICS_TOKEN: when set, GET /metrics needs `Authorization: Bearer <token>`. */
  metricsToken?: string | undefined
  /** GERBANG_DOC_SERVERS: the Production and Development servers /doc offers (src/docs/portal.ts). */
  docServers?: DocServer[]
  /** When to shed load with 503 OVERLOADED (src/ops/pressure.ts). */
  pressure?: PressureOptions
  /** How long a client may take to send its request headers before 408; default HEADERS_TIMEOUT_MS. */
  headersTimeoutMs?: number
  /**
   * GERBANG_TRUST_PROXY: the proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (comma-separated CIDRs).
   */
  trustProxy?: string | undefined
  /**
   * GERBANG_ADMIN_PORT is set: /admin is served only on `app.adminListener` (src/admin/listener.ts), not on the main
   * port.
   */
  adminListener?: boolean
  /** W3C trace context, and OTLP export when configured (src/ops/tracing.ts); default: trace context only. */
  tracing?: Tracing
  /**
   * With --workers: whether this process probes upstream targets, and how verdicts travel; default: it probes alone.
   */
  probes?: ProbeCoordination
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The live routing table, swapped whole on reload (src/proxy/route-tables.ts). */
    routeTable: RouteTables
    /** Active probes of upstream targets (healthCheck:). */
    healthChecks: HealthChecks
    store: Store
    clients: ClientService
    authenticator: Authenticator
    /** The /doc document, cached; `rebuild(routes)` on reload. */
    docs: DocsHolder
    /** Per-minute traffic counts for the admin dashboard. */
    traffic: TrafficRecorder
    /** Prometheus metrics of this app (GET /metrics), in a registry of its own. */
    metrics: GatewayMetrics
    /** routeTable.apply: swaps in a routing table built from `routes` (already validated). */
    applyRoutes: (routes: RoutesConfig) => RoutesDiff
  }
}

const KNOWN_METHODS: ReadonlySet<string> = new Set(HTTP_METHODS)

/** Builds the gateway: the same function serves `gerbang start`, the demo and the tests. */
export async function buildApp (options: AppOptions): Promise<FastifyInstance> {
  const store = options.store ?? new MemoryStore()
  const traffic = new TrafficRecorder(store, {
    ...(options.trafficFlushMs !== undefined ? { flushIntervalMs: options.trafficFlushMs } : {}),
    ...(options.logger !== undefined ? { logger: options.logger } : {})
  })
  const metrics = new GatewayMetrics()
  const trust = compileTrustProxy(options.trustProxy)
  // Without trusted proxies Fastify reads the socket's peer directly, the cheapest way.
  const trustProxy = trust === TRUST_NOBODY ? false : trust
  const compilersFactory = lazySchemaCompilers()
  const app = Fastify({
    // A silent logger rather than none: without one Fastify skips the
    // response-finished callback that counts traffic and metrics.
    loggerInstance: options.logger ?? pino({ level: 'silent' }),
    serverFactory: (handler) => gatewayServer(handler, options.headersTimeoutMs, options.adminListener !== true),
    trustProxy,
    logController: new AccessLog(traffic, metrics),
    childLoggerFactory: (logger, bindings, options) => new LazyRequestLogger(logger, bindings, options),
    requestIdHeader: false,
    // Each route's validators and serializers are compiled on its first request (src/http/lazy-schemas.ts).
    schemaController: { compilersFactory },
    genReqId: (req) => saneRequestId(req.headers['x-request-id']) ?? randomUUID(),
    // Our own 503 (problem+json, Connection: close) is sent while closing.
    return503OnClosing: false,
    // URLs the router cannot percent-decode (`/yankes/%zz`) get our problem
    // document too, not Fastify's own JSON.
    frameworkErrors: (error, request, reply) => {
      sendProblem(request, reply, new GerbangError('BAD_REQUEST', error.code === 'FST_ERR_BAD_URL'
        ? 'the path has an invalid percent-encoding'
        : 'the request could not be routed'))
    }
  })

  lazySchemasOf(app, compilersFactory)

  const holder = new RouteTables(options.routes, {
    upstreamConnect: options.upstreamConnect,
    pluginInstances: new PluginInstances(app.log),
    targetHealth: new TargetHealthRegistry(),
    logger: app.log
  })
  const healthChecks = new HealthChecks({
    ...(options.probes ?? { probing: true }),
    logger: app.log,
    ...(options.upstreamConnect !== undefined ? { upstreamConnect: options.upstreamConnect } : {})
  })
  healthChecks.apply(holder.table)
  app.decorate('healthChecks', healthChecks)
  const hasher = options.hasher ?? new SecretHasher(ephemeralPepper())
  const authenticator = new Authenticator(store, hasher, { ...options.authCache, logger: app.log })
  const limiter = new RateLimiter(store, { logger: app.log })
  await authenticator.start()
  app.decorate('routeTable', holder)
  app.decorate('store', store)
  const clients = new ClientService(store, hasher)
  app.decorate('clients', clients)
  app.decorate('traffic', traffic)
  app.decorate('metrics', metrics)
  app.decorate('authenticator', authenticator)
  const docs = new DocsHolder(options.routes, options.docServers)
  app.decorate('docs', docs)
  // WebSocket upgrades on the gateway's own server (not the admin listener's).
  const webSockets = new WebSocketRelay({
    authenticator, metrics, logger: app.log, upstreamConnect: options.upstreamConnect
  })
  webSockets.listen(app.server)
  metrics.readWebSocketsFrom(() => webSockets.openCounts())
  holder.onApplied((routes, table) => {
    healthChecks.apply(table)
    docs.rebuild(routes)
    // Sockets of an integration removed, or no longer taking WebSocket, are closed.
    webSockets.routesChanged(routes.integrations)
  })
  app.decorate('applyRoutes', (routes: RoutesConfig): RoutesDiff => holder.apply(routes))
  decorateRequestFacts(app)
  const tracing = installTracing(app, options.tracing)

  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('x-request-id', request.id)
    return payload
  })

  app.setNotFoundHandler((request, reply) => {
    // A method no integration can be given is the method's fault, not the path's.
    if (!KNOWN_METHODS.has(request.raw.method ?? '')) {
      sendProblem(request, reply, new GerbangError('METHOD_NOT_ALLOWED', `Gerbang does not forward ${request.raw.method ?? ''} requests`,
        undefined, { allow: DEFAULT_ALLOW }))
      return
    }
    sendProblem(request, reply, new GerbangError('ROUTE_NOT_FOUND', `no integration serves ${pathOnly(request.raw.url ?? '')}`))
  })

  app.setErrorHandler((error: FastifyError | GerbangError, request, reply) => {
    if (error instanceof GerbangError) {
      sendProblem(request, reply, error)
      return
    }
    if (error instanceof StoreUnavailableError) {
      request.log.warn({ err: error }, 'store unavailable')
      sendProblem(request, reply, new GerbangError('STORE_UNAVAILABLE', 'the store is unavailable; try again shortly'))
      return
    }
    // The domain's own refusals, whichever route met them: their messages are written for the caller.
    if (error instanceof StoreConflictError || error instanceof ClientInputError) {
      sendProblem(request, reply, new GerbangError(error instanceof StoreConflictError ? 'CONFLICT' : 'BAD_REQUEST', error.message))
      return
    }
    const status = error.statusCode ?? 500
    if (status >= 500) request.log.error({ err: error }, 'unhandled error')
    sendProblem(request, reply, new GerbangError(codeForStatus(status), status >= 500 ? 'an internal error occurred' : error.message))
  })

  app.addHook('preClose', async () => { holder.closing = true })
  // Once the drain has begun, open WebSockets are closed with 1001 (Node's server.close waits for them).
  app.addHook('preClose', async () => { webSockets.closeAll() })
  app.addHook('onClose', async () => {
    healthChecks.close()
    await holder.close()
    limiter.close()
    await traffic.close()
    await authenticator.close()
    await store.close()
  })
  // Here: after the onClose above (the admin listener drains first), before any route.
  if (options.adminListener === true) {
    separateAdminListener(app, (handler) => gatewayServer(handler, options.headersTimeoutMs))
  } else sharedAdminListener(app)
  // Bodies for /oauth2 and /admin must arrive within 10 s; proxied ones stream untimed.
  ownBodyDeadline(app)

  await app.register(pressurePlugin, options.pressure ?? {})
  await app.register(healthPlugin, { holder, store })
  await app.register(metricsPlugin, { metrics, holder, store, token: options.metricsToken })
  await app.register(oauth2Plugin,
    { store, hasher, ...(options.tokenTtlMs !== undefined ? { tokenTtlMs: options.tokenTtlMs } : {}) })
  await app.register(docsPlugin, { docs })
  await app.register(adminPlugin, { store, clients, holder, ownOrigin: options.adminListener === true })
  await app.register(proxyPlugin, { holder, authenticator, limiter, trustProxy: trust, tracing, webSockets })
  return app
}

function codeForStatus (status: number): ErrorCode {
  switch (status) {
    case 404: return 'ROUTE_NOT_FOUND'
    case 405: return 'METHOD_NOT_ALLOWED'
    case 413: return 'PAYLOAD_TOO_LARGE'
    case 415: return 'UNSUPPORTED_MEDIA_TYPE'
    case 431: return 'HEADERS_TOO_LARGE'
    default: return status >= 500 ? 'INTERNAL_ERROR' : 'BAD_REQUEST'
  }
}
