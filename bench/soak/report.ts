// The soak's report: a row every ROW_S, the events, the RSS and what it did
// after each major GC, the traffic by kind, the gateway's log, the two
// verdicts, and bench/results/soak.json.
import { mkdirSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { dirname } from 'node:path'
import { fmt, grid, machine } from '../output.js'
import type { WorkDir } from '../work-dir.js'
import type { ControlCounts } from './control.js'
import { Counts, percentile } from './counts.js'
import { LEVEL_VALUES, type GatewayLog } from './gateway-log.js'
import { clock, rowFor, rssTrend, type Row, type Sample } from './samples.js'
import {
  CONNECTIONS, DURATION_S, EXPECTED_ERRORS, FLAP_DOWN_S, FLAP_EVERY_S, FLAP_FIRST_S, KNOWN_STDERR, MAX_IN_FLIGHT,
  MAX_RSS_GROWTH, RATE, REDIS_DOWN_AT_S, REDIS_DOWN_S, RESULTS_FILE, ROW_S, SAMPLE_S, WARMUP_S
} from './settings.js'
import { KINDS } from './traffic.js'
import type { UpstreamStats } from './upstreams.js'

export interface Results {
  samples: Sample[]
  events: Array<{ t: number, what: string }>
  byKind: Map<string, Counts>
  controlCounts: ControlCounts
  log: GatewayLog
  alive: boolean
  healthz: number | string
  idleRssMb: number | null
  shutdown: { exitCode: number | null, signal: string | null, ms: number }
  upstreamStats: UpstreamStats | undefined
  generator: { sent: number, dropped: number }
  own: { sent: number, answered: number }
  failures: string[]
  notes: string[]
  redisVersion: string | undefined
  workDir: WorkDir
}

function topCodes (codes: Record<string, number>, count: number): string {
  return Object.entries(codes).filter(([code]) => !code.startsWith('2')).sort((a, b) => b[1] - a[1]).slice(0, count)
    .map(([code, n]) => `${code} ×${n}`).join(', ')
}

export function report (r: Results): number {
  const out: string[] = ['']
  const rows: Row[] = []
  for (let end = ROW_S; end < DURATION_S + ROW_S; end += ROW_S) {
    const row = rowFor(r.samples, r.events, end - ROW_S, Math.min(end, DURATION_S))
    if (row !== undefined) rows.push(row)
  }
  out.push(`every ${ROW_S} s: RSS and heap used at the end of the window (* warm-up; ! an admin login was running, not counted); ` +
    'heap low: the lowest heap used of the window\'s samples; major GC: mark-compact collections in the window; ' +
    'lag: event-loop delay p99, ms, worst 5 s of the window; handles: active handles; req/s answered; p99: latency of every answer, ms; ' +
    'answers by status (4xx¬429: 4xx but 429; circuit 503: UPSTREAM_CIRCUIT_OPEN; store 503: STORE_UNAVAILABLE); ' +
    'broken: connections closed without a whole answer; dropped: not sent, the generator at its cap; cpu: gateway, % of one core; ' +
    'breakers not closed at some sample:')
  out.push(grid(['time', 'RSS MiB', 'heap MiB', 'heap low', 'major GC', 'lag', 'handles', 'req/s', 'p99', '2xx', '4xx¬429', '429', '5xx', 'circuit 503',
    'store 503', 'broken', 'dropped', 'cpu %', 'breakers', 'events'], rows.map((row) => row.cells), [18, 19]))
  out.push('', 'events (mm:ss from the start of the traffic):', ...r.events.map((e) => `  ${clock(e.t)}  ${e.what}`))

  // --- RSS
  const counted = r.samples.filter((s) => s.rssMb !== null && !s.duringLogin)
  const atWarmup = counted.filter((s) => s.t >= WARMUP_S)[0]
  const after = counted.filter((s) => atWarmup !== undefined && s.t > atWarmup.t && s.t <= DURATION_S)
  const maxAfter = after.reduce<Sample | undefined>((a, s) =>
    a === undefined || (s.rssMb ?? 0) > (a.rssMb ?? 0) ? s : a, undefined)
  const end = [...r.samples].reverse().find((s) => s.rssMb !== null && s.t <= DURATION_S)
  // RSS swings with the old generation between major collections (here
  // ~107 to ~130 MiB over two minutes), so one sample is no baseline: the
  // verdict compares the peak of the first window after the warm-up with
  // the peak of the last one, each at least one collection cycle long.
  const windowS = Math.max(120, DURATION_S / 5)
  const peak = (from: number, to: number): number | null => {
    const inside = after.filter((s) => s.t >= from && s.t <= to).map((s) => s.rssMb as number)
    return inside.length === 0 ? null : Math.max(...inside)
  }
  const base = atWarmup === undefined ? null : peak(atWarmup.t, atWarmup.t + windowS)
  const lastPeak = peak(DURATION_S - windowS, DURATION_S)
  const growth = base === null || lastPeak === null ? null : (lastPeak - base) / base
  const endGrowth = base === null || end?.rssMb == null ? null : (end.rssMb - base) / base
  const skippedLogin = r.samples.filter((s) => s.duringLogin && s.t > WARMUP_S)
  const rawMax = Math.max(...r.samples.filter((s) => s.t > WARMUP_S && s.rssMb !== null).map((s) => s.rssMb as number))
  const heap = (s: Sample | undefined): string => fmt(s?.heapUsedMb, 1)
  // Not a verdict: whether RSS keeps climbing (a leak) or moves around a level (GC, allocator).
  const trend = rssTrend(after)
  out.push('', `RSS: peak ${fmt(base, 1)} MiB in the first ${windowS} s after the warm-up (${clock(atWarmup?.t ?? 0)}), ` +
    `peak ${fmt(lastPeak, 1)} MiB in the last ${windowS} s, max after the warm-up ${fmt(maxAfter?.rssMb, 1)} MiB ` +
    `(${clock(maxAfter?.t ?? 0)}), ${fmt(end?.rssMb, 1)} MiB at the end (${clock(end?.t ?? 0)}), ${fmt(r.idleRssMb, 1)} MiB idle after the traffic; ` +
    `growth ${growth === null ? '-' : (growth * 100).toFixed(1) + ' %'} (peak to peak), ${endGrowth === null ? '-' : (endGrowth * 100).toFixed(1) + ' %'} (end vs first peak)`)
  out.push(`heap used: ${heap(atWarmup)} MiB at the end of the warm-up, ${heap(end)} MiB at the end` +
    (skippedLogin.length > 0 ? `; ${skippedLogin.length} sample(s) during an admin login left out of the max (with them: ${fmt(rawMax, 1)} MiB)` : ''))
  // RSS right after each major GC (the first sample that counts one more) and just before it: a leak raises the
  // first series; V8 letting garbage pile up in the old generation between collections only moves the second.
  const afterGc: Array<{ t: number, rssMb: number, heapUsedMb: number | null, beforeRssMb: number | null }> = []
  for (let i = 1; i < r.samples.length; i++) {
    const s = r.samples[i] as Sample
    const prev = r.samples[i - 1] as Sample
    if (s.t > WARMUP_S && s.t <= DURATION_S && s.rssMb !== null && s.majorGcs !== null && prev.majorGcs !== null &&
      s.majorGcs > prev.majorGcs) {
      afterGc.push({ t: s.t, rssMb: s.rssMb, heapUsedMb: s.heapUsedMb, beforeRssMb: prev.rssMb })
    }
  }
  if (afterGc.length > 0) {
    const first = afterGc[0] as typeof afterGc[number]
    const floorMax = Math.max(...afterGc.map((g) => g.rssMb))
    out.push('RSS / heap used right after each major GC after the warm-up (not a verdict): ' +
      afterGc.map((g) => `${clock(g.t)} ${fmt(g.rssMb, 1)}/${fmt(g.heapUsedMb, 1)}`).join(', ') +
      ` MiB; highest ${fmt(floorMax, 1)} MiB, ${((floorMax - first.rssMb) / first.rssMb * 100).toFixed(1)} % over the first; ` +
      `RSS just before them up to ${fmt(Math.max(...afterGc.map((g) => g.beforeRssMb ?? 0)), 1)} MiB`)
  }
  if (trend !== undefined) {
    out.push(`RSS trend after the warm-up: ${trend.slopeMbPerMin >= 0 ? '+' : ''}${trend.slopeMbPerMin.toFixed(2)} MiB/min (least squares over ${after.length} samples); ` +
      `mean ${trend.firstMinuteMb.toFixed(1)} MiB in its first minute, ${trend.lastMinuteMb.toFixed(1)} MiB in the last`)
  }

  // --- traffic
  const total = new Counts()
  for (const c of r.byKind.values()) total.merge(c)
  out.push('', `traffic: ${r.generator.sent} requests sent, ${total.responses} answered, ${total.errors} broken connections, ${r.generator.dropped} dropped by the generator:`)
  out.push(grid(['request', 'answers', '2xx', '4xx¬429', '429', '5xx', 'broken', 'p50 ms', 'p99 ms', 'other than 2xx, most first'],
    [...r.byKind.entries()].map(([name, c]) =>
      [name, String(c.responses), String(c.s2xx), String(c.s4xx), String(c.s429), String(c.s5xx),
        String(c.errors), fmt(percentile(c.latencies, 0.5), 1), fmt(percentile(c.latencies, 0.99), 0),
        topCodes(c.codes, 4)]), [9]))
  out.push('', 'the soak\'s own requests, by answer:')
  for (const [what, counts] of Object.entries(r.controlCounts.counts)) out.push(`  ${what}: ${JSON.stringify(counts)}`)
  if (r.upstreamStats !== undefined) {
    out.push(`upstreams served: ${JSON.stringify(r.upstreamStats.requests)}; flaky's failures: ${JSON.stringify(r.upstreamStats.flaky)}`)
  }

  // --- log
  const accessExpected = total.responses + r.own.answered
  out.push('', `gateway log: ${r.log.lines} lines, ${JSON.stringify(r.log.byLevel)}; ` +
    `${r.log.accessLines} access lines (+ ${r.log.failedAccessLines} 'request failed' or 'cut off') for ${accessExpected} answers ` +
    `(${total.responses} to the load, ${r.own.answered} to the soak's own requests) and ${total.errors} broken connections` +
    (r.log.nonJson > 0 ? `; ${r.log.nonJson} lines not JSON, e.g. ${JSON.stringify(r.log.nonJsonSamples[0])}` : ''))
  const logged = r.log.accessLines + r.log.failedAccessLines
  if (logged !== accessExpected) {
    r.notes.push(`${logged} access lines for ${accessExpected} answers and ${total.errors} broken connections: ` +
      (logged < accessExpected ? `${accessExpected - logged} answers have no access line` : `${logged - accessExpected} broken connections have one`))
  } else if (total.errors > 0) {
    r.notes.push(`every answer has its access line, the ${total.errors} broken connections (answers cut off after their headers) none`)
  }
  out.push(grid(['level', 'message', 'lines'], [...r.log.byMessage.entries()].sort((a, b) => (LEVEL_VALUES[b[0].split(' ')[0] ?? ''] ?? 0) -
    (LEVEL_VALUES[a[0].split(' ')[0] ?? ''] ?? 0) || b[1] - a[1]).map(([k, n]) => {
    const space = k.indexOf(' ')
    return [k.slice(0, space), k.slice(space + 1), String(n)]
  }), [1]))
  out.push(`gateway stderr: ${r.log.stderrLines} lines, ${r.log.stderrUnexpectedCount} not known`)
  out.push(`gateway stop (SIGTERM): exit code ${String(r.shutdown.exitCode)}${r.shutdown.signal !== null ? `, signal ${r.shutdown.signal}` : ''} after ${r.shutdown.ms} ms`)

  // --- verdicts
  const rssPass = growth !== null && growth <= MAX_RSS_GROWTH
  const errorProblems: string[] = []
  if (r.log.unexpectedCount > 0) errorProblems.push(`${r.log.unexpectedCount} error/fatal log lines not expected`)
  if (r.log.fatal > 0) errorProblems.push(`${r.log.fatal} fatal log lines`)
  if (r.log.stderrUnexpectedCount > 0) errorProblems.push(`${r.log.stderrUnexpectedCount} unknown lines on stderr`)
  if (!r.alive) errorProblems.push('the gateway was not running at the end')
  if (r.healthz !== 200) errorProblems.push(`/healthz answered ${String(r.healthz)} at the end`)
  const errorsPass = errorProblems.length === 0
  const failures = [...r.failures]
  if (!rssPass) failures.push(`RSS grew ${growth === null ? '(unknown)' : (growth * 100).toFixed(1) + ' %'} after the warm-up (limit ${MAX_RSS_GROWTH * 100} %)`)
  failures.push(...errorProblems)

  if (r.log.unexpected.length > 0) {
    out.push('', 'unexpected error/fatal log lines (first 20; t in s):')
    for (const u of r.log.unexpected) out.push(`  ${u.t.toFixed(1)} ${u.line}`)
  }
  if (r.log.stderrUnexpected.length > 0) {
    out.push('', 'unknown stderr lines (first 20):')
    for (const u of r.log.stderrUnexpected) out.push(`  ${u.t.toFixed(1)} ${u.line}`)
  }
  if (r.notes.length > 0) out.push('', ...r.notes.map((n) => `note: ${n}`))
  if (r.generator.dropped > 0) out.push(`note: the generator dropped ${r.generator.dropped} requests at its cap of ${MAX_IN_FLIGHT} in flight`)

  const passed = failures.length === 0
  if (!passed) r.workDir.keep = true
  mkdirSync(dirname(RESULTS_FILE), { recursive: true })
  writeFileSync(RESULTS_FILE, JSON.stringify({
    ...machine(r.redisVersion),
    loadavg: loadavg(),
    settings: {
      durationS: DURATION_S,
      warmupS: WARMUP_S,
      sampleS: SAMPLE_S,
      rate: RATE,
      connections: CONNECTIONS,
      maxInFlight: MAX_IN_FLIGHT,
      redisDownAtS: REDIS_DOWN_AT_S,
      redisDownS: REDIS_DOWN_S,
      flap: { firstS: FLAP_FIRST_S, everyS: FLAP_EVERY_S, downS: FLAP_DOWN_S },
      maxRssGrowth: MAX_RSS_GROWTH,
      mix: KINDS.map((k) => ({ name: k.name, weight: k.weight })),
      expectedErrors: EXPECTED_ERRORS,
      knownStderr: KNOWN_STDERR.map(String)
    },
    rss: {
      warmupEndMb: base,
      warmupEndAtS: atWarmup?.t,
      maxAfterWarmupMb: maxAfter?.rssMb,
      maxAfterWarmupAtS: maxAfter?.t,
      endMb: end?.rssMb,
      idleAfterMb: r.idleRssMb,
      growth,
      endGrowth,
      samplesLeftOutDuringLogin: skippedLogin.map((s) => s.t),
      trend,
      afterMajorGc: afterGc
    },
    verdicts: {
      rss: rssPass ? 'PASS' : 'FAIL',
      unhandledErrors: errorsPass ? 'PASS' : 'FAIL',
      problems: errorProblems
    },
    events: r.events,
    rows: rows.map((row) => row.cells),
    samples: r.samples.map((s) => ({ ...s, counts: s.counts.summary() })),
    byKind: Object.fromEntries([...r.byKind.entries()].map(([k, c]) => [k, c.summary()])),
    total: total.summary(),
    control: r.controlCounts.counts,
    upstreams: r.upstreamStats,
    log: {
      lines: r.log.lines,
      byLevel: r.log.byLevel,
      accessLines: r.log.accessLines,
      failedAccessLines: r.log.failedAccessLines,
      byMessage: Object.fromEntries(r.log.byMessage),
      expectedErrors: Object.fromEntries(r.log.expected),
      unexpected: r.log.unexpected,
      unexpectedCount: r.log.unexpectedCount,
      fatal: r.log.fatal,
      nonJson: r.log.nonJson,
      nonJsonSamples: r.log.nonJsonSamples,
      stderrLines: r.log.stderrLines,
      stderrUnexpected: r.log.stderrUnexpected
    },
    gateway: { aliveAtEnd: r.alive, healthzAtEnd: r.healthz, shutdown: r.shutdown },
    notes: r.notes,
    failures
  }, null, 2) + '\n')
  out.push('', `results written to ${RESULTS_FILE}` + (r.workDir.keep ? `; gateway warn/error lines and routes file kept in ${r.workDir.path}` : ''))
  if (failures.length > 0) out.push('', 'FAILED:', ...failures.map((f) => '  ' + f))
  out.push('',
    `${rssPass ? 'PASS' : 'FAIL'}: RSS growth after warm-up ${growth === null ? '-' : (growth * 100).toFixed(1) + ' %'} (limit ${MAX_RSS_GROWTH * 100} %): ` +
      `${fmt(base, 1)} → max ${fmt(maxAfter?.rssMb, 1)}, end ${fmt(end?.rssMb, 1)} MiB`,
    `${errorsPass ? 'PASS' : 'FAIL'}: unhandled errors: ${r.log.unexpectedCount} unexpected error lines, ${r.log.fatal} fatal, ` +
      `${r.log.stderrUnexpectedCount} unknown stderr lines, gateway ${r.alive ? 'alive' : 'gone'}, /healthz ${String(r.healthz)}`)
  process.stdout.write(out.join('\n') + '\n')
  return passed ? 0 : 1
}
