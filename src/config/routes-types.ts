// The shapes the routes pipeline produces (src/config/routes-loader.ts):
// problems with their lines, and integrations compiled for the proxy.
import type { Rate } from './units.js'
import type { IntegrationDocs } from './operations.js'
import type { PluginResolution } from '../upstream-plugins/registry.js'
import type { ConfiguredPlugin } from '../upstream-plugins/chain.js'
import type { CorsPolicy } from '../proxy/cors.js'

/** One problem in a routes file: where it is (YAML path and line) and what is wrong. */
export interface RoutesProblem {
  path: string
  line: number
  message: string
}

/** An integration with every default merged in and every unit parsed. */
export interface Integration {
  name: string
  /** The first target's origin, `http://host:port`, without a path (traces name it); every target is in `targets`. */
  origin: string
  /**
   * The upstream servers requests are spread over (src/proxy/balancer.ts): one, or several with the same scheme and
   * base path.
   */
  targets: readonly UpstreamTarget[]
  /** Active probes of every target; null: none (targets are judged by the requests alone). */
  healthCheck: HealthCheckSettings | null
  /** The upstream's base path joined with rewritePrefix, no trailing slash (may be ''). */
  upstreamPathPrefix: string
  prefix: string
  rewritePrefix: string
  /** Allowed methods, or null for all. */
  methods: ReadonlySet<string> | null
  timeoutMs: number
  /**
   * Longest silence between two chunks of an answer once its headers arrived, and between WebSocket messages (either
   * way); default timeoutMs.
   */
  idleTimeoutMs: number
  connectTimeoutMs: number
  rateLimit: Rate
  auth: 'apiKey' | 'none'
  bodyLimit: number
  upstreamErrors: 'normalize' | 'passthrough'
  /** Attempts after the first for a replayable request that failed to connect or was reset (0 to 5). */
  retries: number
  /** Consecutive upstream failures that open the breaker, and how long it stays open; null: no breaker. */
  circuitBreaker: CircuitBreakerSettings | null
  description: string
  apiKeyQuery: string | undefined
  /** A field of an x-www-form-urlencoded body (at most 1 MiB) that may carry the API key; removed before forwarding. */
  apiKeyForm: string | undefined
  /** Accepts WebSocket upgrades (src/proxy/websocket.ts). */
  websocket: boolean
  /** What /doc shows for it (inline `operations:` or its `openapi:` file); null: a catch-all. Not used by the proxy. */
  docs: IntegrationDocs | null
  /** Its plugins in routes.yaml order, options checked and defaults filled in; [] when none. */
  plugins: ConfiguredPlugin[]
  /** Browser apps (`cors:`, its own or defaults'), compiled for the proxy; null: none, answers as without CORS. */
  cors: CorsPolicy | null
}

export interface UpstreamTarget {
  /** `http://host:port`, no path: the base path is the integration's. */
  origin: string
  /** Its share of the requests against the other targets' (1 to 100). */
  weight: number
}

export interface HealthCheckSettings {
  /** Requested with GET on each target's origin (not under the base path). */
  path: string
  intervalMs: number
  timeoutMs: number
  /** Consecutive successes that bring a target back, and failures that take it out. */
  healthy: number
  unhealthy: number
}

export interface CircuitBreakerSettings {
  failures: number
  openForMs: number
}

export interface ParseRoutesOptions {
  /** Where relative `openapi:` paths are resolved; default the working directory. */
  baseDir?: string
  /** `openapi:` URLs already fetched (loadRoutesFile does it); the others are only linked. */
  fetched?: ReadonlyMap<string, string | Error>
  /** Plugins that are not built-in, already loaded from their files (loadRoutesFile does it). */
  plugins?: ReadonlyMap<string, PluginResolution>
}

export interface RoutesConfig {
  integrations: Integration[]
  /** The file it was read from and its text as written (`${VAR}` unexpanded), for the admin UI. */
  source?: { file: string, text: string }
}

export type RoutesLoadResult =
  | { ok: true, config: RoutesConfig }
  | { ok: false, problems: RoutesProblem[] }
