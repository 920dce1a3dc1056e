// autocannon ships no types and @types/autocannon is not a dependency; only
// what bench/run.ts uses of its programmatic API is declared here.
declare module 'autocannon' {
  namespace autocannon {
    interface Options {
      url: string
      method?: string
      connections?: number
      pipelining?: number
      /** Seconds. */
      duration?: number
      /** Seconds a request may take before it counts as a timeout. */
      timeout?: number
      headers?: Record<string, string>
    }

    interface Histogram {
      average: number
      mean: number
      stddev: number
      min: number
      max: number
      total: number
      p50: number
      p90: number
      p97_5: number
      p99: number
      p99_9: number
    }

    interface Result {
      duration: number
      errors: number
      timeouts: number
      non2xx: number
      resets: number
      '2xx': number
      statusCodeStats: Record<string, { count: number }>
      /** Milliseconds. */
      latency: Histogram & { totalCount: number }
      /** Per-second samples; total is the number of completed requests. */
      requests: Histogram & { sent: number }
      throughput: Histogram
    }
  }

  function autocannon (options: autocannon.Options): Promise<autocannon.Result>
  export = autocannon
}
