// Stage 5 of the routes pipeline (src/config/routes-loader.ts): a checked
// integration compiled for the proxy, every default merged in and every unit
// parsed, with what /doc shows of it.
import { DEFAULT_METHODS, DEFAULTS, HEALTH_CHECK_DEFAULTS, type IntegrationEntry, type RoutesFile } from './routes-schema.js'
import { inlineOperations, openapiOperations } from './operations.js'
import { parseDuration, parseRate, parseSize, type Rate } from './units.js'
import { CorsPolicy } from '../proxy/cors.js'
import { expandMethods, type CheckedIntegration, type CheckedUpstreams } from './routes-check.js'
import type { CircuitBreakerSettings, HealthCheckSettings, Integration, ParseRoutesOptions, UpstreamTarget } from './routes-types.js'

/**
 * The integration the proxy runs, or what is wrong with its `openapi:`
 * document (the one problem found only here).
 */
export function compileIntegration (
  checked: CheckedIntegration, defaults: NonNullable<RoutesFile['defaults']>, options: ParseRoutesOptions
): Integration | { openapiProblem: string } {
  const { name, entry, upstream, prefix, rewritePrefix, plugins } = checked
  const integration = compile(name, entry, defaults, upstream, prefix, rewritePrefix)
  integration.plugins = plugins
  if (entry.operations !== undefined) {
    integration.docs = inlineOperations(entry.operations)
  } else if (entry.openapi !== undefined) {
    const docs = openapiOperations(entry.openapi, options.baseDir ?? process.cwd(), name, rewritePrefix,
      integration.methods, options.fetched)
    if (typeof docs === 'string') return { openapiProblem: docs }
    integration.docs = docs
  }
  return integration
}

function compile (
  name: string, entry: IntegrationEntry, defaults: NonNullable<RoutesFile['defaults']>,
  upstream: CheckedUpstreams, prefix: string, rewritePrefix: string
): Integration {
  const pick = <K extends keyof typeof DEFAULTS>(key: K): NonNullable<IntegrationEntry[K]> | typeof DEFAULTS[K] =>
    (entry[key] ?? defaults[key] ?? DEFAULTS[key]) as NonNullable<IntegrationEntry[K]> | typeof DEFAULTS[K]
  const bodyLimit = pick('bodyLimit')
  return {
    name,
    origin: (upstream.targets[0] as UpstreamTarget).origin,
    targets: upstream.targets,
    healthCheck: healthCheckSettings(entry.healthCheck),
    upstreamPathPrefix: upstream.basePath + rewritePrefix,
    prefix,
    rewritePrefix,
    methods: entry.methods === undefined ? null : new Set(expandMethods(entry.methods)),
    timeoutMs: parseDuration(pick('timeout')) as number,
    // The integration's own idleTimeout, else defaults', else its timeout.
    idleTimeoutMs: parseDuration(entry.idleTimeout ?? defaults.idleTimeout ?? pick('timeout')) as number,
    connectTimeoutMs: parseDuration(pick('connectTimeout')) as number,
    rateLimit: parseRate(pick('rateLimit')) as Rate,
    auth: pick('auth'),
    bodyLimit: typeof bodyLimit === 'number' ? bodyLimit : parseSize(bodyLimit) as number,
    upstreamErrors: pick('upstreamErrors'),
    retries: pick('retries'),
    circuitBreaker: breakerSettings(entry.circuitBreaker, defaults.circuitBreaker),
    description: entry.description ?? '',
    apiKeyQuery: entry.apiKeyQuery,
    apiKeyForm: entry.apiKeyForm,
    websocket: entry.websocket === true,
    docs: null,
    plugins: [],
    cors: corsPolicy(entry, defaults)
  }
}

/** The integration's `cors:` (false: none), else defaults', compiled for the methods it accepts. */
function corsPolicy (entry: IntegrationEntry, defaults: NonNullable<RoutesFile['defaults']>): CorsPolicy | null {
  const cors = entry.cors ?? defaults.cors
  if (cors === undefined || cors === false) return null
  return new CorsPolicy(cors, entry.methods === undefined ? DEFAULT_METHODS : expandMethods(entry.methods),
    parseDuration)
}

type BreakerEntry = IntegrationEntry['circuitBreaker']

/**
 * The integration's breaker: `off`/`false` in the integration (or in defaults,
 * when the integration says nothing) turns it off; otherwise each field comes
 * from the integration, else defaults, else the built-in default.
 */
function breakerSettings (entry: BreakerEntry, defaults: BreakerEntry): CircuitBreakerSettings | null {
  if (entry === 'off' || entry === false || (entry === undefined && (defaults === 'off' || defaults === false))) return null
  const own = typeof entry === 'object' ? entry : {}
  const shared = typeof defaults === 'object' ? defaults : {}
  return {
    failures: own.failures ?? shared.failures ?? DEFAULTS.circuitBreaker.failures,
    openForMs: parseDuration(own.openFor ?? shared.openFor ?? DEFAULTS.circuitBreaker.openFor) as number
  }
}

function healthCheckSettings (entry: IntegrationEntry['healthCheck']): HealthCheckSettings | null {
  if (entry === undefined) return null
  const intervalMs = parseDuration(entry.interval) as number
  return {
    path: entry.path,
    intervalMs,
    // Unless given, a probe waits 2 s, or the interval when it is shorter.
    timeoutMs: entry.timeout === undefined
      ? Math.min(parseDuration(HEALTH_CHECK_DEFAULTS.timeout) as number, intervalMs)
      : parseDuration(entry.timeout) as number,
    healthy: entry.healthy ?? HEALTH_CHECK_DEFAULTS.healthy,
    unhealthy: entry.unhealthy ?? HEALTH_CHECK_DEFAULTS.unhealthy
  }
}
