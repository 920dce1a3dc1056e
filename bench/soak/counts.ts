// Answers counted: by status class and by the codes that tell one 503 from
// another, with their latencies.

/** Answers counted over some time: by status class, with the codes that tell 503s apart. */
export class Counts {
  responses = 0
  s2xx = 0
  s3xx = 0
  s4xx = 0
  s429 = 0
  s5xx = 0
  circuitOpen = 0
  storeUnavailable = 0
  /** Requests that got no complete answer (the connection broke). */
  errors = 0
  dropped = 0
  readonly codes: Record<string, number> = {}
  readonly latencies: number[] = []

  add (status: number, code: string | undefined, ms: number): void {
    this.responses++
    if (status >= 500) this.s5xx++
    else if (status === 429) this.s429++
    else if (status >= 400) this.s4xx++
    else if (status >= 300) this.s3xx++
    else this.s2xx++
    if (code === 'UPSTREAM_CIRCUIT_OPEN') this.circuitOpen++
    if (code === 'STORE_UNAVAILABLE') this.storeUnavailable++
    const label = code === undefined ? String(status) : `${status} ${code}`
    this.codes[label] = (this.codes[label] ?? 0) + 1
    this.latencies.push(ms)
  }

  error (name: string): void {
    this.errors++
    const label = `error ${name}`
    this.codes[label] = (this.codes[label] ?? 0) + 1
  }

  merge (other: Counts): void {
    for (const k of ['responses', 's2xx', 's3xx', 's4xx', 's429', 's5xx', 'circuitOpen', 'storeUnavailable', 'errors', 'dropped'] as const) {
      this[k] += other[k]
    }
    for (const [code, n] of Object.entries(other.codes)) this.codes[code] = (this.codes[code] ?? 0) + n
    for (const ms of other.latencies) this.latencies.push(ms)
  }

  summary (): Record<string, unknown> {
    const { latencies, ...rest } = this
    return { ...rest, p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99) }
  }
}

export function percentile (values: number[], q: number): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  return Math.round((sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0) * 10) / 10
}

/** The `code` of a problem document, or the `error` of an OAuth2 error; undefined for anything else. */
export function answerCode (body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { code?: unknown, error?: unknown }
    if (typeof parsed.code === 'string') return parsed.code
    if (typeof parsed.error === 'string') return parsed.error
  } catch { /* not JSON */ }
  return undefined
}

export function errorName (err: unknown): string {
  const e = err as { code?: unknown, name?: unknown } | null
  if (e !== null && typeof e === 'object') {
    if (typeof e.code === 'string') return e.code
    if (typeof e.name === 'string') return e.name
  }
  return 'unknown'
}
