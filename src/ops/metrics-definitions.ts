import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client'
import type { BreakerState } from '../proxy/circuit-breaker.js'
import type { Route } from '../proxy/route-table.js'
import type { RouteTableHolder } from '../proxy/route-tables.js'
import type { StoreStatus } from '../store/types.js'
import { METHODS, NO_INTEGRATION, STATUS_CLASSES, type Series } from './metrics-series.js'
import { PrecountedHistogram } from './precounted-histogram.js'

// Every metric GET /metrics reports, with its name, help and labels, and how
// its value is read at scrape time: from the per-request Series that
// GatewayMetrics (src/ops/metrics.ts) fills, or from the app (breakers,
// targets, store, reloads, WebSockets). Nothing here runs per request.

/** Breaker states, one gerbang_circuit_breaker_state series each. */
const BREAKER_STATES: readonly BreakerState[] = ['closed', 'half-open', 'open']

/** Node's process and runtime metrics, made once per process and shared by every app's registry. */
let processMetrics: Metric[] | undefined
function defaultMetrics (): Metric[] {
  if (processMetrics === undefined) {
    // Its own registry: collectDefaultMetrics starts a GC observer and an
    // event-loop-delay monitor per call, which must not pile up per app.
    const registry = new Registry()
    collectDefaultMetrics({ register: registry })
    // getMetricsAsArray() is typed loosely; these are prom-client's own metric objects.
    processMetrics = registry.getMetricsAsArray() as unknown as Metric[]
  }
  return processMetrics
}

/** What the app reads at scrape time. */
export interface MetricsSources {
  holder: RouteTableHolder
  store: StoreStatus
}

/** Open WebSockets per integration (src/proxy/websocket.ts), read at scrape time. */
export type WebSocketCounts = () => Iterable<[string, number]>

/** Where the metrics' collect() callbacks read from; GatewayMetrics passes its own. */
export interface MetricReaders {
  series: () => Iterable<Series>
  sources: () => MetricsSources | undefined
  webSockets: () => WebSocketCounts | undefined
}

/** Registers every gateway metric and Node's process metrics in `registry`. */
export function defineMetrics (registry: Registry, read: MetricReaders): void {
  // registers: [] keeps each metric out of prom-client's global registry.
  const registers: Registry[] = []
  const register = (metric: Metric): void => { registry.registerMetric(metric) }
  const { series, sources, webSockets } = read
  const routes = (): readonly Route[] => sources()?.holder.table.routes ?? []

  register(new Counter({
    name: 'gerbang_requests_total',
    help: 'Requests answered, by integration ("" for the gateway\'s own routes and 404s), method and status class.',
    labelNames: ['integration', 'method', 'status_class'] as const,
    registers,
    collect () {
      this.reset()
      for (const s of series()) {
        for (let i = 0; i < s.requests.length; i++) {
          const n = s.requests[i] as number
          if (n === 0) continue
          const method = METHODS[Math.floor(i / STATUS_CLASSES.length)] as string
          this.inc({
            integration: s.integration, method, status_class: STATUS_CLASSES[i % STATUS_CLASSES.length] as string
          }, n)
        }
      }
    }
  }))
  register(new PrecountedHistogram('gerbang_request_duration_seconds',
    'Time from request received to response finished, by integration.',
    function * () { for (const s of series()) yield [s.integration, s.duration] }) as unknown as Metric)
  register(new PrecountedHistogram('gerbang_upstream_duration_seconds',
    'Time from dispatch to the upstream\'s response headers, for requests the upstream answered.',
    function * () {
      for (const s of series()) if (s.integration !== NO_INTEGRATION) yield [s.integration, s.upstreamDuration]
    }) as unknown as Metric)
  register(new Counter({
    name: 'gerbang_upstream_errors_total',
    help: 'Upstream failures: a connection or protocol error code (ECONNREFUSED, timeout, …) or an upstream 5xx answer (http_<status>).',
    labelNames: ['integration', 'code'] as const,
    registers,
    collect () {
      this.reset()
      for (const s of series()) {
        for (const [code, n] of s.upstreamErrors) this.inc({ integration: s.integration, code }, n)
      }
    }
  }))
  register(new Counter({
    name: 'gerbang_rate_limited_total',
    help: 'Requests the gateway refused with 429 RATE_LIMITED.',
    labelNames: ['integration'] as const,
    registers,
    collect () {
      this.reset()
      for (const s of series()) if (s.rateLimited > 0) this.inc({ integration: s.integration }, s.rateLimited)
    }
  }))
  register(new Counter({
    name: 'gerbang_auth_failures_total',
    help: 'Requests the gateway refused: 401 (reason="credentials": missing, unknown, revoked or expired) or 403 (reason="forbidden").',
    labelNames: ['integration', 'reason'] as const,
    registers,
    collect () {
      this.reset()
      for (const s of series()) {
        if (s.credentialFailures > 0) this.inc({ integration: s.integration, reason: 'credentials' }, s.credentialFailures)
        if (s.forbidden > 0) this.inc({ integration: s.integration, reason: 'forbidden' }, s.forbidden)
      }
    }
  }))
  register(new Gauge({
    name: 'gerbang_circuit_breaker_state',
    help: 'Each integration\'s circuit breaker: 1 on the series of its current state (closed, half-open, open), 0 on the others.',
    labelNames: ['integration', 'state'] as const,
    registers,
    // With --workers: a state is reported when any worker is in it.
    aggregator: 'max',
    collect () {
      this.reset()
      for (const route of routes()) {
        for (const state of BREAKER_STATES) {
          this.set({ integration: route.integration.name, state }, route.breaker.state === state ? 1 : 0)
        }
      }
    }
  }))
  register(new Gauge({
    name: 'gerbang_upstream_target_up',
    help: 'Each upstream target of each integration: 1 while it takes requests, 0 while its health check fails or it is out after connection failures.',
    labelNames: ['integration', 'target'] as const,
    registers,
    // With --workers: up only when every worker sends it requests.
    aggregator: 'min',
    collect () {
      this.reset()
      const now = performance.now()
      for (const route of routes()) {
        for (const { origin, health } of route.balancer.targets) {
          this.set({ integration: route.integration.name, target: origin }, health.up(now) ? 1 : 0)
        }
      }
    }
  }))
  register(new Counter({
    name: 'gerbang_circuit_breaker_opens_total',
    help: 'Times each integration\'s circuit breaker opened (a routes reload starts a new breaker, from 0).',
    labelNames: ['integration'] as const,
    registers,
    collect () {
      this.reset()
      for (const route of routes()) this.inc({ integration: route.integration.name }, route.breaker.opens)
    }
  }))
  register(new Gauge({
    name: 'gerbang_store_up',
    help: '1 while the store (Redis or the embedded one) answers, else 0.',
    registers,
    // With --workers: up only when every worker reaches the store.
    aggregator: 'min',
    collect () { this.set(sources()?.store.isAvailable() === true ? 1 : 0) }
  }))
  register(new Gauge({
    name: 'gerbang_store_info',
    help: 'The kind of store this gateway uses (redis or memory); always 1.',
    labelNames: ['kind'] as const,
    registers,
    aggregator: 'max',
    collect () {
      this.reset()
      const store = sources()?.store
      if (store !== undefined) this.set({ kind: store.kind }, 1)
    }
  }))
  register(new Counter({
    name: 'gerbang_routes_reloads_total',
    help: 'Routes reloads since start: applied (result="ok") and refused because the file was invalid (result="failed").',
    labelNames: ['result'] as const,
    registers,
    collect () {
      this.reset()
      const reloads = sources()?.holder.reloads
      this.inc({ result: 'ok' }, reloads?.ok ?? 0)
      this.inc({ result: 'failed' }, reloads?.failed ?? 0)
    }
  }))
  register(new Gauge({
    name: 'gerbang_routes_last_reload_success',
    help: '1 when the last routes load (start or reload) was applied, 0 when it was refused.',
    registers,
    aggregator: 'min',
    collect () { this.set(sources()?.holder.lastReload.ok === false ? 0 : 1) }
  }))
  register(new Gauge({
    name: 'gerbang_routes_last_reload_timestamp_seconds',
    help: 'When routes were last loaded or a reload was refused, in Unix seconds.',
    registers,
    aggregator: 'max',
    collect () {
      const at = sources()?.holder.lastReload.at
      this.set(at === undefined ? 0 : Date.parse(at) / 1000)
    }
  }))
  register(new Gauge({
    name: 'gerbang_websockets_open',
    help: 'WebSocket connections open through the gateway, by integration (every integration with websocket: true, 0 included).',
    labelNames: ['integration'] as const,
    registers,
    // With --workers: the instance's sockets are every worker's.
    aggregator: 'sum',
    collect () {
      this.reset()
      for (const route of routes()) {
        if (route.integration.websocket) this.set({ integration: route.integration.name }, 0)
      }
      for (const [integration, open] of webSockets()?.() ?? []) this.set({ integration }, open)
    }
  }))
  register(new Gauge({
    name: 'gerbang_integrations',
    help: 'Integrations in the routes being served.',
    registers,
    aggregator: 'max',
    collect () { this.set(routes().length) }
  }))
  for (const metric of defaultMetrics()) register(metric)
}
