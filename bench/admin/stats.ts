// Latency figures of the admin bench, HTTP and in-process alike.
import { round1 } from '../output.js'

export interface Stats { n: number, mean: number, p50: number, p95: number, p99: number, max: number }

/** Nearest-rank percentiles, ms to 0.1. */
export function stats (values: number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (q: number): number => round1(sorted[Math.min(sorted.length - 1,
    Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN)
  return {
    n: sorted.length,
    mean: round1(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length)),
    p50: at(0.5),
    p95: at(0.95),
    p99: at(0.99),
    max: round1(sorted[sorted.length - 1] ?? Number.NaN)
  }
}
