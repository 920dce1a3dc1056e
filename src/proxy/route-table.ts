import type { LookupFunction } from 'node:net'
import { Pool } from 'undici'
import type { Integration, RoutesConfig } from '../config/routes-loader.js'
import { policy, type Policy } from '../limits/rate-limiter.js'
import { CircuitBreaker } from './circuit-breaker.js'
import { Balancer, Target, TargetHealthRegistry } from './balancer.js'
import { PluginInstances, type PluginChain } from '../upstream-plugins/chain.js'

/** An integration ready to serve: its config plus the connection pools to its upstream targets. */
export interface Route {
  readonly integration: Integration
  /** Picks the target (and so the keep-alive pool) of each request. */
  readonly balancer: Balancer
  /** Prefix length, to slice the rest of the path without searching again. */
  readonly prefixLength: number
  /** The integration's rate as the `default` policy, and the list of it alone (the common case, built once). */
  readonly policy: Policy
  readonly policies: readonly Policy[]
  /** The integration's circuit breaker, new with every table (always present; `enabled` is false when it is off). */
  readonly breaker: CircuitBreaker
  /** The integration's plugins, or null when it has none (the common, faster path). */
  readonly plugins: PluginChain | null
}

export interface UpstreamConnectOptions {
  /** DNS lookup for upstream host names (service discovery; tests answer it locally). */
  lookup?: LookupFunction
  /** Extra trusted CAs for https upstreams. */
  ca?: string | Buffer | Array<string | Buffer>
}

export interface RouteMatch {
  route: Route
  /** The request target after the prefix, query string included: '' or '/…' or '?…'. */
  rest: string
}

// Keep-alive sockets idle longer than this are closed; most upstream servers
// (Node's default is 5 s) close sooner, and undici honours their keep-alive hint.
const KEEP_ALIVE_TIMEOUT_MS = 30_000

/**
 * The routing table, built once per routes configuration. Lookup is a Map hit
 * on the first path segment plus a startsWith per candidate prefix, so the
 * cost does not grow with the number of integrations.
 */
export class RouteTable {
  readonly routes: readonly Route[]
  /** The configuration this table was built from. */
  readonly config: RoutesConfig
  readonly #byFirstSegment = new Map<string, Route[]>()

  /**
   * @param connectOptions extra socket options for every upstream connection:
   *   a trusted CA bundle, or a custom DNS `lookup` (service discovery, tests).
   * @param pluginInstances where integration plugins are built, and kept from one table to the next.
   *   Throws when a plugin's `create` fails, naming the integration and plugin.
   * @param health what is known of each target's health, kept from one table to the next.
   */
  constructor (config: RoutesConfig, connectOptions: UpstreamConnectOptions = {},
    pluginInstances = new PluginInstances(), health = new TargetHealthRegistry()) {
    this.config = config
    // Plugins first, before any pool exists, so a plugin that refuses to start leaves nothing open.
    const chains = new Map<string, PluginChain>()
    try {
      for (const { name, plugins } of config.integrations) {
        if (plugins.length > 0) chains.set(name, pluginInstances.chain(name, plugins))
      }
    } catch (err) {
      pluginInstances.rollback()
      throw err
    }
    pluginInstances.commit()
    const routes: Route[] = []
    for (const integration of config.integrations) {
      const plugins = chains.get(integration.name) ?? null
      // One pool per target: the integration's connect timeout, and keep-alive
      // connections reused across requests. Response deadlines, and the
      // idleTimeout between chunks of a streamed or buffered answer, are
      // enforced by the forwarder's own timer, so undici's coarse timers are
      // left off, but for a body the gateway only drains (an answer replaced
      // by a problem document): its bodyTimeout comes a second after idleTimeout.
      const balancer = new Balancer(integration.targets.map(({ origin, weight }) =>
        new Target(origin, weight, new Pool(origin, {
        // With several targets, undici's connect timeout is the one that fails a
        // request over to another target (src/proxy/upstream-attempts.ts); alone, the
        // forwarder's own deadline answers first.
          connect: {
            ...connectOptions, timeout: integration.connectTimeoutMs + (integration.targets.length > 1 ? 0 : 1000)
          },
          keepAliveTimeout: 4_000,
          keepAliveMaxTimeout: KEEP_ALIVE_TIMEOUT_MS,
          headersTimeout: 0,
          bodyTimeout: integration.idleTimeoutMs + 1000
        }), health.get(integration.name, origin))))
      const ratePolicy = policy('default', integration.rateLimit)
      const breaker = new CircuitBreaker(integration.name, integration.circuitBreaker, integration.timeoutMs)
      const route = {
        integration,
        balancer,
        prefixLength: integration.prefix.length,
        policy: ratePolicy,
        policies: [ratePolicy],
        breaker,
        plugins
      }
      routes.push(route)
      const first = firstSegment(integration.prefix)
      const list = this.#byFirstSegment.get(first) ?? []
      list.push(route)
      // Longest prefix first, so /api/yankes wins over /api.
      list.sort((a, b) => b.prefixLength - a.prefixLength)
      this.#byFirstSegment.set(first, list)
    }
    this.routes = routes
  }

  /** Finds the integration for a raw request target (`/yankes/kamar?rs=1`). */
  match (url: string): RouteMatch | undefined {
    const candidates = this.#byFirstSegment.get(firstSegment(url))
    if (candidates === undefined) return undefined
    for (const route of candidates) {
      const { prefix } = route.integration
      if (!url.startsWith(prefix)) continue
      const next = url.charCodeAt(route.prefixLength)
      // The prefix must end at a segment boundary: /yankes matches /yankes/x
      // and /yankes?x, never /yankesfoo.
      if (Number.isNaN(next) || next === 47 /* / */ || next === 63 /* ? */) {
        return { route, rest: url.slice(route.prefixLength) }
      }
    }
    return undefined
  }

  /** Closes every pool once its in-flight requests have finished. */
  async close (): Promise<void> {
    await Promise.all(this.routes.map(async (r) => { await r.balancer.close() }))
  }
}

function firstSegment (path: string): string {
  let end = 1
  while (end < path.length) {
    const c = path.charCodeAt(end)
    if (c === 47 /* / */ || c === 63 /* ? */) break
    end++
  }
  return path.slice(0, end)
}
