// What GET /metrics counts per integration, in plain arrays and numbers:
// GatewayMetrics.record (src/ops/metrics.ts) fills a Series once per request,
// and the metrics' collect() callbacks (src/ops/metrics-definitions.ts) read
// them at scrape time. Label values are indexes here, names only at scrape.

/** Methods with a label of their own; any other is counted as OTHER, so the label set stays bounded. */
export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'OTHER'] as const
const OTHER_METHOD = METHODS.length - 1
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const

/** Seconds; gateway responses and upstream answers alike (the default timeout is 30 s). */
export const DURATION_BUCKETS: readonly number[] = [
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60
]

/** The integration label of the gateway's own answers (/healthz, /metrics, /doc, /admin, /oauth2, 404s). */
export const NO_INTEGRATION = ''

/** Distinct upstream error codes kept per integration; any further code is counted as `other`. */
const MAX_ERROR_CODES = 32

/** `http_500` … `http_599`, built once. */
export const HTTP_CODES = Array.from({ length: 100 }, (_, i) => `http_${500 + i}`)

export function methodIndex (method: string | undefined): number {
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

export function classIndex (status: number): number {
  if (status >= 500) return 4
  if (status >= 400) return 3
  if (status >= 300) return 2
  if (status >= 200) return 1
  return 0
}

/** One histogram's counts for one label set: per bucket (not cumulative), sum and count. */
export class Buckets {
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
export class Series {
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
