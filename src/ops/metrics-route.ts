import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import { GerbangError } from '../errors.js'
import { sendProblem } from '../http/problem.js'
import { clusterScraper } from './cluster-metrics.js'
import type { MetricsSources } from './metrics-definitions.js'

// GET /metrics: Prometheus text for this instance: this process, or with
// --workers the sum over every worker (src/ops/cluster-metrics.ts).

/** What the route needs of GatewayMetrics (src/ops/metrics.ts), which re-exports this plugin. */
export interface ScrapedMetrics {
  readonly registry: Registry
  readFrom: (sources: MetricsSources) => void
}

export interface MetricsPluginOptions extends MetricsSources {
  metrics: ScrapedMetrics
  /** GERBANG_METRICS_TOKEN: when set, /metrics needs `Authorization: Bearer <token>`. */
  token?: string | undefined
}

const WWW_AUTHENTICATE = 'Bearer realm="gerbang-metrics"'

const digest = (value: string): Buffer => createHash('sha256').update(value).digest()

/** GET /metrics in Prometheus text format, optionally behind a bearer token. */
export async function metricsPlugin (
  app: FastifyInstance, { metrics, holder, store, token }: MetricsPluginOptions
): Promise<void> {
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
