import { DURATION_BUCKETS, type Buckets } from './metrics-series.js'

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
export class PrecountedHistogram {
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
