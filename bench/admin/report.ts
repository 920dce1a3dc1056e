// bench/admin.ts's report: latency per case against the budget, the work per
// request, the store calls in-process, and bench/results/admin.json.
import { mkdirSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { dirname } from 'node:path'
import { fmt, machine, table } from '../output.js'
import { topCommands, type CaseRecord, type RunRecord } from './cases.js'
import {
  BUDGET_MS, CLIENTS, CONCURRENCY, GATEWAY_LOG_LEVEL, PAGE_SIZE, RESULTS_FILE, RUNS, STORE_RUNS, STORE_WARMUP, WARMUP
} from './settings.js'
import type { StoreRecord } from './store-timings.js'

export interface Results {
  records: CaseRecord[]
  breakdown: StoreRecord[]
  createMs: number
  trafficMs: number
  keys: number
  usedMb: number
  gatewayRssMb: number | null
  logLines: number | null
  adminNote: string | undefined
  redisVersion: string
  loadBefore: number[]
}

export function sumCodes (a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a }
  for (const [code, n] of Object.entries(b)) out[code] = (out[code] ?? 0) + n
  return out
}

export function report (r: Results): number {
  const out: string[] = ['']
  const runsOf = (c: CaseRecord): Array<[string, RunRecord]> => [['seq', c.sequential], [`×${CONCURRENCY}`, c.concurrent]]
  out.push('latency of GET answers, ms, from request to last body byte as the bench sees it (undici, keep-alive); ' +
    `${RUNS} sequential (seq), then ${RUNS} with ${CONCURRENCY} at once (×${CONCURRENCY}); budget: p99 ≤ ${BUDGET_MS} ms for the gated cases:`)
  out.push(table(['case', 'run', 'n', 'p50', 'p95', 'p99', 'max', 'mean', 'non-200', 'verdict'],
    r.records.flatMap((c) => runsOf(c).map(([run, rec]) => [run === 'seq' ? c.label : '', run, String(rec.stats.n),
      fmt(rec.stats.p50, 1), fmt(rec.stats.p95, 1), fmt(rec.stats.p99, 1), fmt(rec.stats.max, 1),
      fmt(rec.stats.mean, 1), String(rec.non200),
      !c.gated ? '(ref)' : c.problem !== undefined || rec.non200 > 0 ? 'WRONG' : rec.stats.p99 > BUDGET_MS ? 'FAIL' : 'PASS']))))

  out.push('', 'work per request, sequential runs: CPU of the gateway and of redis-server (/proc, 10 ms ticks: ±50 µs here), ' +
    'and the commands that took Redis the most time (INFO commandstats: calls and µs per request; a script\'s time includes the commands it calls):')
  out.push(table(['case', 'gw cpu µs', 'redis cpu µs', 'redis calls', 'most Redis time', 'bytes', 'note'],
    r.records.map((c) => [c.label, fmt(c.sequential.gatewayCpuUsPerReq), fmt(c.sequential.redisCpuUsPerReq),
      fmt(c.sequential.redis?.reduce((a, w) => a + w.callsPerReq, 0), 1), topCommands(c.sequential.redis, 2), String(c.bytes), c.note ?? ''])))

  out.push('', `store calls in-process (this process → the same Redis), ${STORE_RUNS} runs after ${STORE_WARMUP} sequential warm-up (the dashboard: 10 after 2), ms:`)
  out.push(table(['call', 'at once', 'p50', 'p95', 'p99', 'max', 'errors'], r.breakdown.map((b) => [b.label, String(b.parallel),
    fmt(b.stats.p50, 2), fmt(b.stats.p95, 2), fmt(b.stats.p99, 2), fmt(b.stats.max, 2), String(b.errors)])))

  out.push('', `store: ${CLIENTS.toLocaleString('en')} clients through RedisStore.createClient in ${fmt(r.createMs / 1000, 2)} s, ` +
    `traffic counters in ${fmt(r.trafficMs / 1000, 2)} s; Redis ${r.keys.toLocaleString('en')} keys, ${r.usedMb} MB; gateway RSS ${fmt(r.gatewayRssMb, 1)} MB after the runs; ` +
    `load average ${r.loadBefore.map((l) => l.toFixed(2)).join(' ')} before, ${loadavg().map((l) => l.toFixed(2)).join(' ')} after`)
  if (r.adminNote !== undefined) out.push(`note: ${r.adminNote}`)

  const failures: string[] = []
  const warnings: string[] = []
  for (const c of r.records) {
    if (c.problem !== undefined) failures.push(`${c.label}: ${c.problem}`)
    const non200 = c.sequential.non200 + c.concurrent.non200
    if (non200 > 0) {
      const line = `${c.label}: ${non200} answers not 200 ${JSON.stringify(sumCodes(c.sequential.statusCodes, c.concurrent.statusCodes))}, ` +
        `the first: ${c.sequential.firstError ?? c.concurrent.firstError ?? ''}`
      if (c.gated) failures.push(line)
      else warnings.push(line)
    }
    if (!c.gated) continue
    for (const [run, rec] of [['sequential', c.sequential], [`${CONCURRENCY} at once`, c.concurrent]] as const) {
      if (rec.stats.p99 > BUDGET_MS) failures.push(`${c.label} (${run}): p99 ${rec.stats.p99} ms is over ${BUDGET_MS} ms`)
    }
  }
  for (const b of r.breakdown) if (b.errors > 0) warnings.push(`in-process ${b.label} (${b.parallel} at once): ${b.errors} calls failed`)
  const gatedP99 = Math.max(...r.records.filter((c) => c.gated).flatMap((c) =>
    [c.sequential.stats.p99, c.concurrent.stats.p99]))

  mkdirSync(dirname(RESULTS_FILE), { recursive: true })
  writeFileSync(RESULTS_FILE, JSON.stringify({
    ...machine(r.redisVersion),
    loadavg: { before: r.loadBefore, after: loadavg() },
    settings: {
      clients: CLIENTS,
      warmup: WARMUP,
      runs: RUNS,
      concurrency: CONCURRENCY,
      pageSize: PAGE_SIZE,
      budgetMs: BUDGET_MS,
      gatewayLogLevel: GATEWAY_LOG_LEVEL
    },
    store: { createMs: Math.round(r.createMs), trafficMs: Math.round(r.trafficMs), keys: r.keys, usedMb: r.usedMb },
    gatewayRssMb: r.gatewayRssMb,
    gatewayLogLines: r.logLines,
    cases: r.records,
    breakdown: r.breakdown,
    gatedP99Ms: gatedP99,
    failures,
    warnings
  }, null, 2) + '\n')
  out.push('', `results written to ${RESULTS_FILE}`)
  if (warnings.length > 0) out.push('', 'warnings (reference cases, not gated):', ...warnings.map((w) => '  ' + w))
  if (failures.length > 0) out.push('', 'FAILED:', ...failures.map((f) => '  ' + f))
  out.push('', `${failures.length === 0 ? 'PASS' : 'FAIL'}: admin-p99-max: ${fmt(gatedP99, 1)} ms (budget ${BUDGET_MS} ms)`)
  process.stdout.write(out.join('\n') + '\n')
  return failures.length > 0 ? 1 : 0
}
