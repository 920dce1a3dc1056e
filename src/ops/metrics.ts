import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client'
import { GerbangError } from '../errors.js'
import { sendProblem } from '../http/problem.js'
import type { RouteTableHolder } from '../proxy/route-tables.js'
import type { BreakerState } from '../proxy/circuit-breaker.js'
import type { Route } from '../proxy/route-table.js'
import type { Store } from '../store/types.js'
import { clusterScraper } from './cluster-metrics.js'

// GET /metrics: Prometheus text for this instance: this process, or with
// --workers the sum over every worker (src/ops/cluster-metrics.ts).
//
// Counting happens in the access log's requestCompleted, once per request, so
// it is the hot path: one Map lookup by integration, then array slots and
// plain number additions. prom-client's own label children hash their labels
// into a string on every inc() and observe() (about 2 µs a request for a
// counter and two histograms, measured); here that work is done only when
// Prometheus scrapes, in the metrics' collect() callbacks. Everything else
// (breakers, store, reloads) is read from the app at scrape time too.
//
// One Registry per app, never prom-client's global one: tests build many apps
// in one process, and each must count only its own requests.

/** Methods with a label of their own; any other is counted as OTHER, so the label set stays bounded. */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'OTHER'] as const
const OTHER_METHOD = METHODS.length - 1
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const

/** Seconds; gateway responses and upstream answers alike (the default timeout is 30 s). */
const DURATION_BUCKETS: readonly number[] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

/** The integration label of the gateway's own answers (/healthz, /metrics, /doc, /admin, /oauth2, 404s). */
const NO_INTEGRATION = ''

/** Distinct upstream error codes kept per integration; any further code is counted as `other`. */
const MAX_ERROR_CODES = 32

/** `http_500` … `http_599`, built once. */
const HTTP_CODES = Array.from({ length: 100 }, (_, i) => `http_${500 + i}`)

/** Breaker states, one gerbang_circuit_breaker_state series each. */
const BREAKER_STATES: readonly BreakerState[] = ['closed', 'half-open', 'open']

function methodIndex (method: string | undefined): number {
  switch (method) {
    case 'GET': return 0
    case 'HEAD': return 1
    case 'POST': return 2
    case 'PUT': return 3
    case 'PATCH': return 4
    case 'DELETE': return 5
    case 'OPTIONS': return 6
    default: return OTHER_METHOD
  }
}

function classIndex (status: number): number {
  if (status >= 500) return 4
  if (status >= 400) return 3
  if (status >= 300) return 2
  if (status >= 200) return 1
  return 0
}

/** One histogram's counts for one label set: per bucket (not cumulative), sum and count. */
class Buckets {
  readonly counts = new Float64Array(DURATION_BUCKETS.length)
  sum = 0
  count = 0

  observe (seconds: number): void {
    let i = 0
    while (i < DURATION_BUCKETS.length && seconds > (DURATION_BUCKETS[i] as number)) i++
    if (i < DURATION_BUCKETS.length) this.counts[i] = (this.counts[i] as number) + 1
    this.sum += seconds
    this.count++
  }
}

/** Everything counted for one integration (or for the gateway's own routes). */
class Series {
  readonly integration: string
  /** Indexed methodIndex × STATUS_CLASSES.length + classIndex. */
  readonly requests = new Float64Array(METHODS.length * STATUS_CLASSES.length)
  readonly duration = new Buckets()
  readonly upstreamDuration = new Buckets()
  readonly upstreamErrors = new Map<string, number>()
  rateLimited = 0
  credentialFailures = 0
  forbidden = 0

  constructor (integration: string) {
    this.integration = integration
  }

  upstreamError (code: string): void {
    const seen = this.upstreamErrors.get(code)
    if (seen !== undefined) this.upstreamErrors.set(code, seen + 1)
    else if (this.upstreamErrors.size < MAX_ERROR_CODES) this.upstreamErrors.set(code, 1)
    else this.upstreamErrors.set('other', (this.upstreamErrors.get('other') ?? 0) + 1)
  }
}

/** A value as prom-client's metric get() returns it. */
interface SampleValue {
  value: number
  labels: Record<string, string | number>
  metricName?: string
}

/**
 * A histogram whose buckets are counted elsewhere (Buckets) and read at
 * scrape time. prom-client's Histogram can only be filled one observe() at a
 * time, so this implements the part of its metric contract the Registry uses:
 * `get()` with the same values a Histogram returns (`_bucket` per bound,
 * cumulative, with `le`; `+Inf`; `_sum`; `_count`).
 */
class PrecountedHistogram {
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly name: string
  readonly help: string
  readonly #read: () => Iterable<[string, Buckets]>

  constructor (name: string, help: string, read: () => Iterable<[string, Buckets]>) {
    this.name = name
    this.help = help
    this.#read = read
  }

  async get (): Promise<{ name: string, help: string, type: string, aggregator: string, values: SampleValue[] }> {
    const values: SampleValue[] = []
    for (const [integration, buckets] of this.#read()) {
      if (buckets.count === 0) continue
      let cumulative = 0
      for (let i = 0; i < DURATION_BUCKETS.length; i++) {
        cumulative += buckets.counts[i] as number
        values.push({ metricName: `${this.name}_bucket`, labels: { integration, le: DURATION_BUCKETS[i] as number }, value: cumulative })
      }
      values.push({ metricName: `${this.name}_bucket`, labels: { integration, le: '+Inf' }, value: buckets.count })
      values.push({ metricName: `${this.name}_sum`, labels: { integration }, value: buckets.sum })
      values.push({ metricName: `${this.name}_count`, labels: { integration }, value: buckets.count })
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  /** Registry.resetMetrics() calls this; the counts belong to GatewayMetrics and are left alone. */
  reset (): void {}
}

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
  store: Store
}

/** Open WebSockets per integration (src/proxy/websocket.ts), read at scrape time. */
export type WebSocketCounts = () => Iterable<[string, number]>

/** This app's Prometheus metrics: counted per request by the access log, read by GET /metrics. */
export class GatewayMetrics {
  readonly registry = new Registry()
  readonly #series = new Map<string, Series>()
  #sources: MetricsSources | undefined
  #webSockets: WebSocketCounts | undefined

  constructor () {
    // registers: [] keeps each metric out of prom-client's global registry.
    const registers: Registry[] = []
    const register = (metric: Metric): void => { this.registry.registerMetric(metric) }
    const series = (): Iterable<Series> => this.#series.values()
    const routes = (): readonly Route[] => this.#sources?.holder.table.routes ?? []

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
            this.inc({ integration: s.integration, method, status_class: STATUS_CLASSES[i % STATUS_CLASSES.length] as string }, n)
          }
        }
      }
    }))
    register(new PrecountedHistogram('gerbang_request_duration_seconds',
      'Time from request received to response finished, by integration.',
      function * () { for (const s of series()) yield [s.integration, s.duration] }) as unknown as Metric)
    register(new PrecountedHistogram('gerbang_upstream_duration_seconds',
      'Time from dispatch to the upstream\'s response headers, for requests the upstream answered.',
      function * () { for (const s of series()) if (s.integration !== NO_INTEGRATION) yield [s.integration, s.upstreamDuration] }) as unknown as Metric)
    register(new Counter({
      name: 'gerbang_upstream_errors_total',
      help: 'Upstream failures: a connection or protocol error code (ECONNREFUSED, timeout, …) or an upstream 5xx answer (http_<status>).',
      labelNames: ['integration', 'code'] as const,
      registers,
      collect () {
        this.reset()
        for (const s of series()) for (const [code, n] of s.upstreamErrors) this.inc({ integration: s.integration, code }, n)
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
    const sources = (): MetricsSources | undefined => this.#sources
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
    const webSockets = (): WebSocketCounts | undefined => this.#webSockets
    register(new Gauge({
      name: 'gerbang_websockets_open',
      help: 'WebSocket connections open through the gateway, by integration (every integration with websocket: true, 0 included).',
      labelNames: ['integration'] as const,
      registers,
      // With --workers: the instance's sockets are every worker's.
      aggregator: 'sum',
      collect () {
        this.reset()
        for (const route of routes()) if (route.integration.websocket) this.set({ integration: route.integration.name }, 0)
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

  /** Where scrape-time values come from; set by metricsPlugin. */
  readFrom (sources: MetricsSources): void {
    this.#sources = sources
  }

  /** Where the open WebSockets are counted; set by buildApp. */
  readWebSocketsFrom (counts: WebSocketCounts): void {
    this.#webSockets = counts
  }

  /** An upstream failure outside any request's access line (a WebSocket that broke off mid-session). */
  upstreamError (integration: string, code: string): void {
    let s = this.#series.get(integration)
    if (s === undefined) {
      s = new Series(integration)
      this.#series.set(integration, s)
    }
    s.upstreamError(code)
  }

  /** Counts one finished request (AccessLog.requestCompleted); every request, the gateway's own included. */
  record (request: FastifyRequest, reply: FastifyReply): void {
    const integration = request.integration
    const key = integration ?? NO_INTEGRATION
    let s = this.#series.get(key)
    if (s === undefined) {
      s = new Series(key)
      this.#series.set(key, s)
    }
    const status = reply.statusCode
    const slot = methodIndex(request.raw.method) * STATUS_CLASSES.length + classIndex(status)
    s.requests[slot] = (s.requests[slot] as number) + 1
    s.duration.observe(reply.elapsedTime / 1000)
    if (integration === null) return

    if (request.upstreamMs >= 0) s.upstreamDuration.observe(request.upstreamMs / 1000)
    if (request.upstreamError !== null) s.upstreamError(request.upstreamError)
    else if (request.upstreamStatus >= 500 && request.upstreamStatus <= 599) s.upstreamError(HTTP_CODES[request.upstreamStatus - 500] as string)
    // The gateway's own refusals only: an upstream's 401, 403 or 429 passes
    // through with upstreamStatus set, and is counted in requests_total alone.
    if (request.upstreamStatus === 0) {
      if (status === 429) s.rateLimited++
      else if (status === 401) s.credentialFailures++
      else if (status === 403) s.forbidden++
    }
  }
}

export interface MetricsPluginOptions extends MetricsSources {
  metrics: GatewayMetrics
  /** GERBANG_METRICS_TOKEN: when set, /metrics needs `Authorization: Bearer <token>`. */
  token?: string | undefined
}

const WWW_AUTHENTICATE = 'Bearer realm="gerbang-metrics"'

const digest = (value: string): Buffer => createHash('sha256').update(value).digest()

/** GET /metrics in Prometheus text format, optionally behind a bearer token. */
export async function metricsPlugin (app: FastifyInstance, { metrics, holder, store, token }: MetricsPluginOptions): Promise<void> {
  metrics.readFrom({ holder, store })
  // In a `--workers` worker, a scrape reports the whole instance (src/ops/cluster-metrics.ts).
  const scrapeCluster = clusterScraper(metrics.registry)
  // Compared as SHA-256 digests: equal lengths for timingSafeEqual, and the
  // time taken says nothing about the token's length or content.
  const expected = token === undefined || token === '' ? undefined : digest(token)
  if (expected === undefined) {
    app.log.warn('GERBANG_METRICS_TOKEN is not set: /metrics answers anyone who can reach the gateway; ' +
      'set it, or keep /metrics reachable from the monitoring network only')
  }

  app.get('/metrics', async (request, reply) => {
    if (expected !== undefined) {
      const refusal = checkBearer(request.headers.authorization, expected)
      if (refusal !== undefined) {
        sendProblem(request, reply, refusal)
        return reply
      }
    }
    let body: string
    try {
      body = scrapeCluster === undefined ? await metrics.registry.metrics() : await scrapeCluster()
    } catch (err) {
      // One worker's counts alone would look like a counter reset to Prometheus.
      request.log.warn({ err }, 'could not collect the workers\' metrics')
      sendProblem(request, reply, new GerbangError('NOT_READY', 'the metrics of every worker could not be collected; retry', undefined, { 'retry-after': '1' }))
      return reply
    }
    reply.header('content-type', metrics.registry.contentType).header('cache-control', 'no-store')
    return body
  })
}

function checkBearer (authorization: string | undefined, expected: Buffer): GerbangError | undefined {
  const match = authorization === undefined ? null : /^Bearer +(\S+) *$/i.exec(authorization)
  if (match === null) {
    return new GerbangError('CREDENTIALS_MISSING', '/metrics needs Authorization: Bearer <GERBANG_METRICS_TOKEN>',
      undefined, { 'www-authenticate': WWW_AUTHENTICATE })
  }
  if (!timingSafeEqual(digest(match[1] as string), expected)) {
    return new GerbangError('CREDENTIALS_INVALID', 'the metrics token is not valid',
      undefined, { 'www-authenticate': `${WWW_AUTHENTICATE}, error="invalid_token"` })
  }
  return undefined
}
