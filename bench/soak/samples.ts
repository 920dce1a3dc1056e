// A sample every SAMPLE_S, and what a window of them adds up to: a row of the
// report, the RSS trend.
import { fmt } from '../output.js'
import { Counts, percentile } from './counts.js'
import { WARMUP_S } from './settings.js'

export interface Sample {
  t: number
  rssMb: number | null
  heapUsedMb: number | null
  heapTotalMb: number | null
  externalMb: number | null
  lagP99Ms: number | null
  lagMaxMs: number | null
  handles: number | null
  /** Major (mark-compact) collections so far, from /metrics: heap growth that outlives them is kept, not garbage. */
  majorGcs: number | null
  /** Share of one core, since the last sample. */
  gatewayCpuPct: number | null
  loadgenCpuPct: number
  inFlight: number
  /** Breakers not closed, from /metrics: `flap:open`. */
  breakers: string[]
  storeUp: number | null
  /** An admin login (scrypt) was running at or shortly before this sample: its RSS is not counted. */
  duringLogin: boolean
  counts: Counts
}

export const mb = (bytes: number | undefined): number | null =>
  bytes === undefined || Number.isNaN(bytes) ? null : Math.round(bytes / 1048576 * 10) / 10
export const ms = (seconds: number | undefined): number | null =>
  seconds === undefined || Number.isNaN(seconds) ? null : Math.round(seconds * 10000) / 10
export const clock = (s: number): string => `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(Math.round(s % 60)).padStart(2, '0')}`

export interface Row {
  cells: string[]
  progress: string
}

export function rowFor (
  samples: Sample[], events: Array<{ t: number, what: string }>, from: number, to: number
): Row | undefined {
  const mine = samples.filter((s) => s.t > from && s.t <= to)
  const last = mine[mine.length - 1]
  if (last === undefined) return undefined
  const c = new Counts()
  for (const s of mine) c.merge(s.counts)
  const seconds = Math.max(1, last.t - from)
  const lagP99 = Math.max(...mine.map((s) => s.lagP99Ms ?? Number.NaN).filter((v) => !Number.isNaN(v)))
  const before = samples.filter((s) => s.t <= from && s.majorGcs !== null).pop()
  const gcs = last.majorGcs === null || before?.majorGcs == null ? null : last.majorGcs - before.majorGcs
  const heapLow = Math.min(...mine.map((s) => s.heapUsedMb ?? Number.NaN).filter((v) => !Number.isNaN(v)))
  const breakers = [...new Set(mine.flatMap((s) => s.breakers.map((b) => b.split(':')[0] ?? '')))].join(',')
  const happened = events.filter((e) => e.t > from && e.t <= to).length
  const warm = last.t <= WARMUP_S ? '*' : ''
  const rss = `${fmt(last.rssMb, 1)}${last.duringLogin ? '!' : ''}${warm}`
  const reqPerS = c.responses / seconds
  const cells = [
    clock(last.t), rss, fmt(last.heapUsedMb, 1), fmt(Number.isFinite(heapLow) ? heapLow : null, 1), fmt(gcs),
    fmt(Number.isFinite(lagP99) ? lagP99 : null, 1), fmt(last.handles),
    fmt(reqPerS), fmt(percentile(c.latencies, 0.99), 0), String(c.s2xx), String(c.s4xx), String(c.s429), String(c.s5xx),
    String(c.circuitOpen), String(c.storeUnavailable), String(c.errors), String(c.dropped), fmt(last.gatewayCpuPct),
    breakers === '' ? '-' : breakers, happened === 0 ? '' : `${happened} below`
  ]
  const progress = `RSS ${rss} MiB, heap ${fmt(last.heapUsedMb, 1)} MiB, ${fmt(reqPerS)} req/s, ` +
    `2xx ${c.s2xx} 4xx ${c.s4xx} 429 ${c.s429} 5xx ${c.s5xx} (circuit open ${c.circuitOpen}, store ${c.storeUnavailable}), broken ${c.errors}` +
    (c.dropped > 0 ? `, dropped ${c.dropped}` : '') + `, gateway cpu ${fmt(last.gatewayCpuPct)}%, load generator cpu ${last.loadgenCpuPct}%`
  return { cells, progress }
}

interface Trend { slopeMbPerMin: number, firstMinuteMb: number, lastMinuteMb: number }

export function rssTrend (samples: Sample[]): Trend | undefined {
  const points = samples.filter((s) => s.rssMb !== null).map((s) => [s.t / 60, s.rssMb as number] as const)
  if (points.length < 3) return undefined
  const n = points.length
  const mx = points.reduce((a, [x]) => a + x, 0) / n
  const my = points.reduce((a, [, y]) => a + y, 0) / n
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0)
  const sxy = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0)
  const first = points[0]?.[0] ?? 0
  const last = points[n - 1]?.[0] ?? 0
  const mean = (list: Array<readonly [number, number]>): number =>
    list.reduce((a, [, y]) => a + y, 0) / Math.max(1, list.length)
  return {
    slopeMbPerMin: sxx === 0 ? 0 : Math.round(sxy / sxx * 100) / 100,
    firstMinuteMb: Math.round(mean(points.filter(([x]) => x <= first + 1)) * 10) / 10,
    lastMinuteMb: Math.round(mean(points.filter(([x]) => x >= last - 1)) * 10) / 10
  }
}
