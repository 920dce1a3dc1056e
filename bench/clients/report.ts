// bench/clients.ts's report: creation, search, the CLI, key lookups,
// throughput with few and many clients, and bench/results/clients.json.
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { CONNECTIONS, DURATION_S, loadSettings, ROUNDS } from '../load-settings.js'
import { fmt, machine, ratio, table } from '../output.js'
import type { CliResults } from './cli.js'
import type { SearchRecord } from './search.js'
import {
  CLI_RUNS, GATEWAY_LOG_LEVEL, GENERATED, IN_FLIGHT, LIST_LIMIT, REAL_CLIENTS, RESOLVE_RUNS, RESULTS_FILE,
  SEARCH_BUDGET_MS, SEARCH_RUNS
} from './settings.js'
import { best, type ThroughputRecord } from './throughput.js'

export interface Results {
  creationMs: number
  memory: { keys: number, usedMb: number }
  searches: SearchRecord[]
  cli: CliResults
  before: ThroughputRecord[]
  after: ThroughputRecord[]
  resolveBefore: { medianUs: number, p99Us: number }
  resolveAfter: { medianUs: number, p99Us: number }
  redisVersion: string
}

export function report (r: Results): number {
  const total = (REAL_CLIENTS + GENERATED).toLocaleString('en')
  const out: string[] = ['']
  out.push(`creation: ${GENERATED.toLocaleString('en')} clients through RedisStore.createClient in ${fmt(r.creationMs / 1000, 2)} s ` +
    `(${fmt(GENERATED / (r.creationMs / 1000))} clients/s, ${IN_FLIGHT} in flight); Redis then held ` +
    `${r.memory.keys.toLocaleString('en')} keys, ${r.memory.usedMb} MB`)

  out.push('', `search among ${total} clients: store.listClients({ search }) in-process, ${SEARCH_RUNS} runs each (budget: median ≤ ${SEARCH_BUDGET_MS} ms):`)
  out.push(table(['fragment', 'kind', 'matches', 'returned', 'median ms', 'max ms', 'runs ms', 'count', `first ${LIST_LIMIT} by name`],
    r.searches.map((s) => [s.fragment, s.kind, String(s.matches), String(s.returned), fmt(s.medianMs, 1),
      fmt(s.maxMs, 1),
      s.runsMs.map((v) => fmt(v, 1)).join(' '), s.countOk ? 'ok' : 'WRONG', s.firstByNameOk ? 'ok' : 'WRONG'])))

  if (!r.cli.available) {
    out.push('', `CLI: skipped (${r.cli.note ?? ''})`)
  } else {
    out.push('', `CLI, end to end (spawn to exit): bin/gerbang.js keys list --search F --json, ${CLI_RUNS} runs each; ` +
      `node start-up alone (gerbang help): median ${fmt(r.cli.startupMs?.medianMs, 1)} ms`)
    out.push(table(['fragment', 'median ms', 'max ms', 'minus start-up ms', 'returned', 'check'],
      r.cli.searches.map((c) => [c.fragment, fmt(c.medianMs, 1), fmt(c.maxMs, 1),
        fmt(c.medianMs - (r.cli.startupMs?.medianMs ?? 0), 1), fmt(c.returned), c.ok ? 'ok' : c.problem ?? 'WRONG'])))
  }

  out.push('', `store.resolveKey (a gateway's cache miss), ${RESOLVE_RUNS} sequential: ` +
    `${REAL_CLIENTS} clients median ${r.resolveBefore.medianUs} µs / p99 ${r.resolveBefore.p99Us} µs; ` +
    `${total} clients median ${r.resolveAfter.medianUs} µs / p99 ${r.resolveAfter.p99Us} µs`)

  const before = best(r.before)
  const after = best(r.after)
  const tpRow = (t: ThroughputRecord): string[] => [`${t.clients.toLocaleString('en')} #${t.run}`, fmt(t.reqPerSec), fmt(t.latencyMeanMs, 2),
    fmt(t.p50Ms), fmt(t.p99Ms), fmt(t.maxMs), String(t.load.non2xx + t.warmup.non2xx),
    String(t.load.errors + t.warmup.errors + t.load.timeouts + t.warmup.timeouts),
    fmt(t.cpuUsPerReq.gateway), fmt(t.cpuUsPerReq.redis, 1), fmt(t.rssAfterMb, 1)]
  out.push('', `authenticated throughput: the gateway (auth: apiKey) with the key of one of the ${REAL_CLIENTS} real clients, ` +
    `${CONNECTIONS} connections, ${DURATION_S} s, a fresh gateway per run; ${REAL_CLIENTS} clients: a Redis holding only them, ` +
    `run 1 before the ${GENERATED.toLocaleString('en')} were created, then alternating with the Redis holding all ${total}:`)
  const tpHeader = ['clients in Redis, run', 'req/s', 'mean ms', 'p50 ms', 'p99 ms', 'max ms', 'non-2xx', 'errors', 'cpu µs/req', 'redis µs/req', 'RSS MB']
  const inOrder = [...r.before, ...r.after].sort((a, b) => a.run - b.run || a.clients - b.clients)
  out.push(table(tpHeader, inOrder.map(tpRow)))
  out.push('', `best of ${ROUNDS} (by req/s):`, table(tpHeader, [before, after].map(tpRow)))
  const tpRatio = ratio(after.reqPerSec, before.reqPerSec)
  const cpuRatio = after.cpuUsPerReq.gateway !== null && before.cpuUsPerReq.gateway !== null
    ? ratio(after.cpuUsPerReq.gateway, before.cpuUsPerReq.gateway)
    : null
  out.push(`${total} / ${REAL_CLIENTS} clients: req/s ${fmt(tpRatio, 2)}, p99 ${fmt(ratio(after.p99Ms, before.p99Ms), 2)}, ` +
    `cpu µs/req ${fmt(cpuRatio, 2)} (credentials are cached in the gateway process: equal within noise expected)`)

  const failures: string[] = []
  for (const s of r.searches) {
    if (s.medianMs > SEARCH_BUDGET_MS) failures.push(`search '${s.fragment}': median ${s.medianMs} ms is over the ${SEARCH_BUDGET_MS} ms budget`)
    if (!s.countOk) failures.push(`search '${s.fragment}': returned ${s.returned} clients (sorted by name expected), ${Math.min(LIST_LIMIT, s.matches)} expected`)
    if (!s.firstByNameOk) failures.push(`search '${s.fragment}': not the first ${LIST_LIMIT} matching names in order`)
  }
  for (const c of r.cli.searches) if (!c.ok) failures.push(`CLI search '${c.fragment}': ${c.problem ?? 'failed'}`)
  for (const t of [...r.before, ...r.after]) {
    const non2xx = t.load.non2xx + t.warmup.non2xx
    const errors = t.load.errors + t.warmup.errors + t.load.timeouts + t.warmup.timeouts
    if (non2xx > 0) failures.push(`throughput with ${t.clients} clients, run ${t.run}: ${non2xx} non-2xx answers (${JSON.stringify({ ...t.warmup.statusCodes, ...t.load.statusCodes })})`)
    if (errors > 0) failures.push(`throughput with ${t.clients} clients, run ${t.run}: ${errors} errors/timeouts`)
    if (t.load.completed === 0) failures.push(`throughput with ${t.clients} clients, run ${t.run}: no request completed`)
  }

  mkdirSync(dirname(RESULTS_FILE), { recursive: true })
  writeFileSync(RESULTS_FILE, JSON.stringify({
    ...machine(r.redisVersion),
    settings: {
      realClients: REAL_CLIENTS,
      generatedClients: GENERATED,
      inFlight: IN_FLIGHT,
      searchRuns: SEARCH_RUNS,
      searchBudgetMs: SEARCH_BUDGET_MS,
      cliRuns: CLI_RUNS,
      listLimit: LIST_LIMIT,
      ...loadSettings(),
      gatewayLogLevel: GATEWAY_LOG_LEVEL
    },
    creation: {
      ms: Math.round(r.creationMs), perSecond: Math.round(GENERATED / (r.creationMs / 1000)), redis: r.memory
    },
    searches: r.searches,
    cli: r.cli,
    resolveKey: { before: r.resolveBefore, after: r.resolveAfter },
    throughput: { best: { before, after }, ratio: tpRatio, cpuRatio, runs: { before: r.before, after: r.after } },
    failures
  }, null, 2) + '\n')
  out.push('', `results written to ${RESULTS_FILE}`)
  if (failures.length > 0) out.push('', 'FAILED:', ...failures.map((f) => '  ' + f))
  const worst = Math.max(...r.searches.map((s) => s.medianMs))
  out.push('', `search-median-max: ${fmt(worst, 1)} ms throughput-ratio: ${fmt(tpRatio, 2)}`)
  process.stdout.write(out.join('\n') + '\n')
  return failures.length > 0 ? 1 : 0
}
