import type { FastifyReply, FastifyRequest } from 'fastify'
import { Registry } from 'prom-client'
import { defineMetrics, type MetricsSources, type WebSocketCounts } from './metrics-definitions.js'
import { classIndex, HTTP_CODES, methodIndex, NO_INTEGRATION, Series, STATUS_CLASSES } from './metrics-series.js'

// Prometheus metrics, one GatewayMetrics per app. Its modules:
// metrics-series.ts (what one integration counts), metrics-definitions.ts
// (every metric and its scrape-time read), precounted-histogram.ts, and
// metrics-route.ts (GET /metrics itself, re-exported here).
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

export { metricsPlugin, type MetricsPluginOptions } from './metrics-route.js'
export type { MetricsSources, WebSocketCounts } from './metrics-definitions.js'

/** This app's Prometheus metrics: counted per request by the access log, read by GET /metrics. */
export class GatewayMetrics {
  readonly registry = new Registry()
  readonly #series = new Map<string, Series>()
  #sources: MetricsSources | undefined
  #webSockets: WebSocketCounts | undefined

  constructor () {
    defineMetrics(this.registry, {
      series: () => this.#series.values(),
      sources: () => this.#sources,
      webSockets: () => this.#webSockets
    })
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
    else if (request.upstreamStatus >= 500 && request.upstreamStatus <= 599) {
      s.upstreamError(HTTP_CODES[request.upstreamStatus - 500] as string)
    }
    // The gateway's own refusals only: an upstream's 401, 403 or 429 passes
    // through with upstreamStatus set, and is counted in requests_total alone.
    if (request.upstreamStatus === 0) {
      if (status === 429) s.rateLimited++
      else if (status === 401) s.credentialFailures++
      else if (status === 403) s.forbidden++
    }
  }
}
