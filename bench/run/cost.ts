// What a variant costs against its base (gateway+headers against gateway, …):
// the best runs, each round's back-to-back pair, their median, the verdict.
import { ROUNDS } from '../load-settings.js'
import { fmt, ratio } from '../output.js'
import type { RunRecord } from './measure.js'
import { baseOf, type TargetName } from './targets.js'

export interface Ratios {
  reqPerSec: number
  latencyMean: number
  p99: number
  cpuPerReq: number | null
}

export function ratios (a: RunRecord | undefined, b: RunRecord | undefined): Ratios | null {
  if (a === undefined || b === undefined) return null
  return {
    reqPerSec: ratio(a.reqPerSec, b.reqPerSec),
    latencyMean: ratio(a.latencyMeanMs, b.latencyMeanMs),
    p99: ratio(a.p99Ms, b.p99Ms),
    cpuPerReq: a.cpuUsPerReq.target !== null && b.cpuUsPerReq.target !== null
      ? ratio(a.cpuUsPerReq.target, b.cpuUsPerReq.target)
      : null
  }
}

/** (a − b) / b in per cent, 0.1 steps; null when either is missing. */
function pctChange (a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined || b === 0) return null
  return Math.round((a / b - 1) * 1000) / 10
}

function median (values: number[]): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1
    ? sorted[mid] as number
    : Math.round(((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2 * 10) / 10
}

/** What a variant of the gateway costs against its base: gateway+headers (the plugin), gateway+cors. */
export interface VariantCost {
  limitPct: number
  /** Throughput lost, best run against best run: (1 − req/s ratio) × 100. */
  reqPerSecPct: number
  /** CPU per request added, the same two runs: (cpu µs/req ratio − 1) × 100. */
  cpuPerReqPct: number | null
  /**
   * The same two figures within each round where both ran (back to back), and
   * their medians: how steady the verdict is. originCpuPerReqPct: the origin's
   * CPU per request, the same work for both, so a change there is the
   * machine's speed changing between the two runs, not the variant.
   */
  perRound: Array<{
    round: number, reqPerSecPct: number | null, cpuPerReqPct: number | null, originCpuPerReqPct: number | null
  }>
  /**
   * The verdict's figure: the median of the per-round changes. Each round runs
   * the two back to back, so the machine's slow drifts (±30% between rounds
   * on a shared 2-core VM) cancel; a best-vs-best comparison does not.
   */
  medianReqPerSecPct: number | null
  medianCpuPerReqPct: number | null
  ok: boolean
}

export type HeadersCost = VariantCost & { plugin: string }
export type CorsCost = VariantCost & { cors: string, origin: string, base: TargetName }

export function variantCost (
  runs: RunRecord[], gateway: RunRecord, headers: RunRecord, variant: TargetName, limitPct: number
): VariantCost {
  const neg = (v: number | null): number | null => v === null ? null : -v
  const perRound: VariantCost['perRound'] = []
  const base = baseOf(variant)
  for (let round = 1; round <= ROUNDS; round++) {
    const g = runs.find((r) => r.round === round && r.target === base)
    const h = runs.find((r) => r.round === round && r.target === variant)
    if (g === undefined || h === undefined) continue
    perRound.push({
      round,
      reqPerSecPct: neg(pctChange(h.reqPerSec, g.reqPerSec)),
      cpuPerReqPct: pctChange(h.cpuUsPerReq.target, g.cpuUsPerReq.target),
      originCpuPerReqPct: pctChange(h.cpuUsPerReq.origin, g.cpuUsPerReq.origin)
    })
  }
  const present = (values: Array<number | null>): number[] => values.filter((v): v is number => v !== null)
  const reqPerSecPct = neg(pctChange(headers.reqPerSec, gateway.reqPerSec)) ?? Number.NaN
  return {
    limitPct,
    reqPerSecPct,
    cpuPerReqPct: pctChange(headers.cpuUsPerReq.target, gateway.cpuUsPerReq.target),
    perRound,
    medianReqPerSecPct: median(present(perRound.map((r) => r.reqPerSecPct))),
    medianCpuPerReqPct: median(present(perRound.map((r) => r.cpuPerReqPct))),
    ok: (median(present(perRound.map((r) => r.reqPerSecPct))) ?? reqPerSecPct) <= limitPct
  }
}

/** The lines of one variant's cost in the summary: best runs, each round, their median. */
export function costLines (title: string, variant: RunRecord, gateway: RunRecord, cost: VariantCost): string[] {
  const out = [`${title} (change in req/s, + is faster; in cpu µs/req, + is more work):`,
    `  best runs: req/s ${fmt(variant.reqPerSec)} vs ${fmt(gateway.reqPerSec)} → ${signedPct(-cost.reqPerSecPct)}; ` +
    `cpu µs/req ${fmt(variant.cpuUsPerReq.target)} vs ${fmt(gateway.cpuUsPerReq.target)} → ${signedPct(cost.cpuPerReqPct)}`]
  for (const r of cost.perRound) {
    out.push(`  round ${r.round} (back to back): req/s ${signedPct(r.reqPerSecPct === null ? null : -r.reqPerSecPct)}, cpu µs/req ${signedPct(r.cpuPerReqPct)}` +
      ` (origin µs/req ${signedPct(r.originCpuPerReqPct)}: same work, so the machine's speed)`)
  }
  if (cost.perRound.length > 1) {
    out.push(`  median of the rounds: req/s ${signedPct(cost.medianReqPerSecPct === null ? null : -cost.medianReqPerSecPct)}, cpu µs/req ${signedPct(cost.medianCpuPerReqPct)}`)
  }
  return out
}

/** The verdict line of one variant's cost. */
export function verdictLine (what: string, cost: VariantCost): string {
  const paired = cost.medianReqPerSecPct ?? cost.reqPerSecPct
  return `${what} cost: ${paired.toFixed(1)}% median of ${cost.perRound.length} back-to-back rounds ` +
    `(best runs: ${cost.reqPerSecPct.toFixed(1)}%; limit ${cost.limitPct}%) → ${cost.ok ? 'ok' : 'OVER THE LIMIT'}`
}

/** A signed per cent for the summary: +1.5%, -0.3%. */
function signedPct (value: number | null): string {
  return value === null ? '-' : `${value > 0 ? '+' : ''}${value.toFixed(1)}%`
}
