// The summary of a bench/run.ts: every run, the best of each target, the
// ratios, what each variant costs and its verdict, and the results file.
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { loadSettings, ROUNDS } from '../load-settings.js'
import { fmt, machine, table } from '../output.js'
import {
  costLines, ratios, variantCost, verdictLine, type CorsCost, type HeadersCost, type Ratios, type VariantCost
} from './cost.js'
import type { AccessLogCheck, RunRecord } from './measure.js'
import { GATEWAY_LOG_LEVEL, PIN, PROFILE, RESULTS_FILE } from './settings.js'
import {
  baseOf, CORS_COST_LIMIT_PCT, CORS_ENTRY, CORS_ORIGIN, DISK_COST_LIMIT_PCT, HEADERS_COST_LIMIT_PCT, LABEL,
  LEGACY_COST_LIMIT_PCT, STATIC_HEADERS_PLUGIN, TARGETS, TARGETS_COST_LIMIT_PCT, type TargetName
} from './targets.js'

function runRow (r: RunRecord): string[] {
  return [
    `${r.round} ${LABEL[r.target]}`,
    fmt(r.reqPerSec),
    fmt(r.latencyMeanMs, 2),
    fmt(r.p50Ms),
    fmt(r.p99Ms),
    fmt(r.maxMs),
    String(r.load.non2xx + r.warmup.non2xx),
    String(r.load.errors + r.warmup.errors),
    `${fmt(r.rssBeforeMb, 1)} → ${fmt(r.rssAfterMb, 1)}`,
    fmt(r.cpuUsPerReq.target),
    fmt(r.cpuUsPerReq.origin),
    fmt(r.cpuUsPerReq.redis, 1),
    `${r.loadGeneratorCpuPct}%`
  ]
}

const RUN_HEADER = ['run', 'req/s', 'mean ms', 'p50 ms', 'p99 ms', 'max ms', 'non-2xx', 'errors', 'RSS MB', 'cpu µs/req', 'origin µs/req', 'redis µs/req', 'loadgen cpu']

function best (runs: RunRecord[], target: TargetName): RunRecord | undefined {
  const mine = runs.filter((r) => r.target === target)
  return mine.length === 0 ? undefined : mine.reduce((a, b) => b.reqPerSec > a.reqPerSec ? b : a)
}

/** Prints the summary and writes the results file; returns the exit code, 1 when a run failed. */
export function report (runs: RunRecord[], redisVersion: string | undefined): number {
  const bests = new Map<TargetName, RunRecord>()
  for (const target of TARGETS) {
    const b = best(runs, target)
    if (b !== undefined) bests.set(target, b)
  }
  const bare = bests.get('bare')
  const gateway = bests.get('gateway')
  const withHeaders = bests.get('gateway+headers')
  const keyed = bests.get('gateway+key')
  const plain = ratios(gateway, bare)
  const withKey = ratios(keyed, bare)
  const keyVsPlain = ratios(keyed, gateway)
  const headersVsPlain = ratios(withHeaders, gateway)
  const cost: HeadersCost | undefined = gateway !== undefined && withHeaders !== undefined
    ? { plugin: STATIC_HEADERS_PLUGIN, ...variantCost(runs, gateway, withHeaders, 'gateway+headers', HEADERS_COST_LIMIT_PCT) }
    : undefined
  const withCors = bests.get('gateway+cors')
  const corsBase = bests.get(baseOf('gateway+cors'))
  const corsVsPlain = ratios(withCors, corsBase)
  const corsCost: CorsCost | undefined = corsBase !== undefined && withCors !== undefined
    ? { cors: CORS_ENTRY, origin: CORS_ORIGIN, base: baseOf('gateway+cors'), ...variantCost(runs, corsBase, withCors, 'gateway+cors', CORS_COST_LIMIT_PCT) }
    : undefined
  const originVsPlain = ratios(bests.get('gateway+origin'), gateway)
  const withTwoTargets = bests.get('gateway+2targets')
  const twoTargetsVsPlain = ratios(withTwoTargets, gateway)
  const targetsCost: VariantCost | undefined = gateway !== undefined && withTwoTargets !== undefined
    ? variantCost(runs, gateway, withTwoTargets, 'gateway+2targets', TARGETS_COST_LIMIT_PCT)
    : undefined

  const withLegacyKey = bests.get('gateway+legacykey')
  const legacyVsKey = ratios(withLegacyKey, keyed)
  const legacyCost: VariantCost | undefined = keyed !== undefined && withLegacyKey !== undefined
    ? variantCost(runs, keyed, withLegacyKey, 'gateway+legacykey', LEGACY_COST_LIMIT_PCT)
    : undefined

  const onDisk = bests.get('gateway+diskkey')
  const diskVsKey = ratios(onDisk, keyed)
  const diskCost: VariantCost | undefined = keyed !== undefined && onDisk !== undefined
    ? variantCost(runs, keyed, onDisk, 'gateway+diskkey', DISK_COST_LIMIT_PCT)
    : undefined

  const out: string[] = []
  out.push('', 'every run:', table(RUN_HEADER, runs.map(runRow)))
  out.push('', `best of ${ROUNDS} (by req/s):`, table(RUN_HEADER, [...bests.values()].map(runRow)))
  // Only the ratios whose two targets ran.
  const columns = ([
    ['gateway / bare', plain],
    ['gateway+headers / gateway', headersVsPlain],
    ['gateway+origin / gateway', originVsPlain],
    [`gateway+cors / ${baseOf('gateway+cors')}`, corsVsPlain],
    ['gateway+2targets / gateway', twoTargetsVsPlain],
    ['gateway+key / bare', withKey],
    ['gateway+key / gateway', keyVsPlain],
    ['gateway+legacykey / gateway+key', legacyVsKey],
    ['gateway+diskkey / gateway+key', diskVsKey]
  ] as Array<[string, Ratios | null]>).filter((c): c is [string, Ratios] => c[1] !== null)
  if (columns.length > 0) {
    const ratioRow = (name: string, pick: (r: Ratios) => number | null): string[] =>
      [name, ...columns.map(([, r]) => fmt(pick(r), 2))]
    out.push('', table(['ratio', ...columns.map(([name]) => name)], [
      ratioRow('req/s', (r) => r.reqPerSec),
      ratioRow('mean latency', (r) => r.latencyMean),
      ratioRow('p99 latency', (r) => r.p99),
      ratioRow('cpu µs/req', (r) => r.cpuPerReq)
    ]))
  }
  if (cost !== undefined && gateway !== undefined && withHeaders !== undefined) {
    out.push('', ...costLines('static-headers plugin, gateway+headers against gateway', withHeaders, gateway, cost))
  }
  if (corsCost !== undefined && corsBase !== undefined && withCors !== undefined) {
    out.push('', ...costLines(`cors, gateway+cors against ${corsCost.base} (${corsCost.base === 'gateway+origin' ? 'the same load' : 'no Origin'})`,
      withCors, corsBase, corsCost))
  }
  if (targetsCost !== undefined && gateway !== undefined && withTwoTargets !== undefined) {
    out.push('', ...costLines('two upstream targets, gateway+2targets against gateway (one target)', withTwoTargets, gateway, targetsCost))
  }
  if (legacyCost !== undefined && keyed !== undefined && withLegacyKey !== undefined) {
    out.push('', ...costLines('an imported legacy key, gateway+legacykey against gateway+key (a gb_ key)', withLegacyKey, keyed, legacyCost))
  }
  if (diskCost !== undefined && keyed !== undefined && onDisk !== undefined) {
    out.push('', ...costLines('the embedded store on disk, gateway+diskkey against gateway+key (Redis)', onDisk, keyed, diskCost))
  }
  const logged = runs.filter((r) => r.accessLog !== undefined)
  if (logged.length > 0) out.push('', 'gateway access logs (one line per request expected):')
  for (const r of logged) {
    const a = r.accessLog as AccessLogCheck
    out.push(`  round ${r.round} ${LABEL[r.target]}: ${a.accessLines} access + ${a.failedLines} failed lines of ${a.lines}; ` +
      `expected ${a.expectedAtLeast}..${a.expectedAtMost} → ${a.ok ? 'ok' : 'MISMATCH'}`)
  }
  const profiled = runs.filter((r) => r.cpuProfileDir !== undefined)
  if (profiled.length > 0) {
    out.push('', 'CPU profiles (summarize with: node dist/bench/profile-top.js DIR):')
    for (const r of profiled) out.push(`  round ${r.round} ${LABEL[r.target]}: ${r.cpuProfileDir ?? ''}`)
  }

  const failures: string[] = []
  for (const r of runs) {
    const name = `round ${r.round} ${LABEL[r.target]}`
    const non2xx = r.load.non2xx + r.warmup.non2xx
    const errors = r.load.errors + r.warmup.errors + r.load.timeouts + r.warmup.timeouts
    if (non2xx > 0) {
      const codes: Record<string, number> = { ...r.warmup.statusCodes }
      for (const [code, count] of Object.entries(r.load.statusCodes)) codes[code] = (codes[code] ?? 0) + count
      failures.push(`${name}: ${non2xx} non-2xx answers, warm-up included (status counts: ${JSON.stringify(codes)})`)
    }
    if (errors > 0) failures.push(`${name}: ${errors} errors/timeouts`)
    if (r.accessLog !== undefined && !r.accessLog.ok) failures.push(`${name}: access log line count does not match the requests served`)
    if (r.load.completed === 0) failures.push(`${name}: no request completed`)
  }

  mkdirSync(dirname(RESULTS_FILE), { recursive: true })
  writeFileSync(RESULTS_FILE, JSON.stringify({
    ...machine(redisVersion),
    settings: {
      ...loadSettings(),
      targets: TARGETS,
      headersPlugin: STATIC_HEADERS_PLUGIN,
      corsEntry: CORS_ENTRY,
      corsOrigin: CORS_ORIGIN,
      gatewayLogLevel: GATEWAY_LOG_LEVEL,
      profiled: PROFILE,
      pinned: PIN
    },
    // The targets that ran (BENCH_TARGETS); a ratio is null when one of its two did not.
    best: Object.fromEntries(bests),
    // gateway / bare (as before), gateway+key / bare, gateway+key / gateway, gateway+headers / gateway, gateway+cors /
    // gateway+origin.
    ratio: plain,
    keyRatio: withKey,
    keyVsGatewayRatio: keyVsPlain,
    headersRatio: headersVsPlain,
    headersCost: cost ?? null,
    corsRatio: corsVsPlain,
    originRatio: originVsPlain,
    corsCost: corsCost ?? null,
    twoTargetsRatio: twoTargetsVsPlain,
    twoTargetsCost: targetsCost ?? null,
    legacyKeyRatio: legacyVsKey,
    legacyKeyCost: legacyCost ?? null,
    diskKeyRatio: diskVsKey,
    diskKeyCost: diskCost ?? null,
    runs,
    failures
  }, null, 2) + '\n')

  out.push('', `results written to ${RESULTS_FILE}`)
  if (failures.length > 0) out.push('', 'FAILED:', ...failures.map((f) => '  ' + f))
  out.push('')
  if (cost !== undefined) out.push(verdictLine('static-headers', cost))
  if (corsCost !== undefined) out.push(verdictLine('cors', corsCost))
  if (targetsCost !== undefined) out.push(verdictLine('two targets', targetsCost))
  if (legacyCost !== undefined) out.push(verdictLine('legacy key', legacyCost))
  if (diskCost !== undefined) out.push(verdictLine('disk store', diskCost))
  out.push(`ratio: ${fmt(plain?.reqPerSec, 2)} key-ratio: ${fmt(withKey?.reqPerSec, 2)} headers-ratio: ${fmt(headersVsPlain?.reqPerSec, 2)} ` +
    `cors-ratio: ${fmt(corsVsPlain?.reqPerSec, 2)}`)
  process.stdout.write(out.join('\n') + '\n')
  return failures.length > 0 ? 1 : 0
}
