// Gateway vs. bare proxy, in one run: the same origin, the same route, the
// same load, each proxy in its own process. See bench/README.md.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, createReadStream, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createServer, type AddressInfo } from 'node:net'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'

// Compiled to dist/bench/run.js; the sibling scripts are compiled next to it.
const HERE = dirname(fileURLToPath(import.meta.url))
const REPO_ROOT = resolve(HERE, '../..')
const GERBANG_BIN = resolve(REPO_ROOT, 'bin/gerbang.js')
// The node flags of the bin's shebang, so the gateway runs as `npx gerbang start` runs it.
const GATEWAY_NODE_FLAGS = (readFileSync(GERBANG_BIN, 'utf8').split('\n', 1)[0] ?? '').split(' ').filter((a) => a.startsWith('--'))
const RESULTS_FILE = resolve(REPO_ROOT, 'bench/results/latest.json')

const DURATION_S = positiveInt('BENCH_DURATION', 10)
const CONNECTIONS = positiveInt('BENCH_CONNECTIONS', 50)
const ROUNDS = positiveInt('BENCH_ROUNDS', 2)
const WARMUP_S = 3
const PIPELINING = 1
const PATH = '/yankes/kamar?rs=1'
const PROFILE = process.env.BENCH_PROFILE === '1'
// info is what production runs; another level is only for telling the cost of logging apart.
const GATEWAY_LOG_LEVEL = process.env.BENCH_GATEWAY_LOG_LEVEL ?? 'info'
// A profile is useless if the work dir holding it is removed.
const KEEP_LOGS = process.env.BENCH_KEEP_LOGS === '1' || PROFILE
const READY_TIMEOUT_MS = 15_000
const STOP_TIMEOUT_MS = 10_000

type TargetName = 'bare' | 'gateway'
const LABEL: Record<TargetName, string> = { bare: 'bare proxy', gateway: 'gateway' }

interface Started {
  child: ChildProcess
  pid: number
  port: number
  exited: Promise<void>
  stderr: () => string
}

interface LoadSummary {
  completed: number
  sent: number
  non2xx: number
  errors: number
  timeouts: number
  statusCodes: Record<string, number>
}

interface AccessLogCheck {
  file: string
  lines: number
  accessLines: number
  failedLines: number
  /** Responses autocannon completed (warm-up included): every one must have its line. */
  expectedAtLeast: number
  /** Requests autocannon sent: those cut off at the end may or may not have one. */
  expectedAtMost: number
  ok: boolean
}

interface RunRecord {
  round: number
  target: TargetName
  reqPerSec: number
  latencyMeanMs: number
  p50Ms: number
  p90Ms: number
  p99Ms: number
  maxMs: number
  load: LoadSummary
  warmup: LoadSummary
  rssIdleMb: number | null
  rssBeforeMb: number | null
  rssAfterMb: number | null
  /** CPU time (user + system) each process spent per completed request during the measured run. */
  cpuUsPerReq: { target: number | null, origin: number | null, loadGenerator: number }
  /** Share of one core autocannon used: near 100 % means the load generator, not the target, was the limit. */
  loadGeneratorCpuPct: number
  accessLog?: AccessLogCheck
  cpuProfileDir?: string
}

// Every child ever started, so that no exit path (error, SIGINT) leaves one behind.
const children = new Set<ChildProcess>()
let workDir: string | undefined

function killAll (): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
}

function cleanUpWorkDir (): void {
  if (workDir !== undefined && !KEEP_LOGS) rmSync(workDir, { recursive: true, force: true })
}

process.on('exit', () => {
  killAll()
  cleanUpWorkDir()
})
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.once(signal, () => {
    process.stderr.write(`\nbench: ${signal}, stopping every process it started\n`)
    process.exit(code) // the 'exit' handler kills and cleans up
  })
}

function positiveInt (name: string, fallback: number): number {
  const text = process.env[name]
  if (text === undefined || text === '') return fallback
  const value = Number(text)
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive whole number, not '${text}'`)
  return value
}

function spawnNode (args: string[], env: NodeJS.ProcessEnv, stdout: 'pipe' | number, nodeFlags: string[] = []): Started {
  const child = spawn(process.execPath, [...nodeFlags, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', stdout, 'pipe']
  })
  children.add(child)
  if (child.pid === undefined) throw new Error(`could not start ${args.join(' ')}`)
  const exited = once(child, 'exit').then(() => { children.delete(child) }, () => { children.delete(child) })
  // Only the tail matters, for the error message when a process dies early.
  let stderr = ''
  child.stderr?.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-4000) })
  return { child, pid: child.pid, port: 0, exited, stderr: () => stderr }
}

/** Waits for the first JSON line a child prints on stdout (its port), failing if it exits or stalls first. */
async function firstJsonLine (started: Started, what: string): Promise<Record<string, unknown>> {
  const stdout = started.child.stdout
  if (stdout === null) throw new Error(`${what}: no stdout`)
  const lines = createInterface({ input: stdout })
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`${what} did not report its port within ${READY_TIMEOUT_MS} ms:\n${started.stderr()}`)) }, READY_TIMEOUT_MS)
      lines.on('line', (line) => {
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>
          clearTimeout(timer)
          resolve(parsed)
        } catch { /* not the port line */ }
      })
      started.exited.then(() => {
        clearTimeout(timer)
        reject(new Error(`${what} exited before it was ready:\n${started.stderr()}`))
      }, reject)
    })
  } finally {
    // Later output (none is expected) must still be read, or a full pipe would block the child.
    lines.close()
    stdout.resume()
  }
}

async function startOrigin (): Promise<Started> {
  const started = spawnNode([join(HERE, 'upstream.js')], {}, 'pipe')
  const info = await firstJsonLine(started, 'the origin')
  return { ...started, port: Number(info.port) }
}

function profileFlags (profileDir: string | undefined): string[] {
  return profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir]
}

async function startBare (originPort: number, profileDir: string | undefined): Promise<Started> {
  const started = spawnNode([join(HERE, 'bare-proxy.js'), `http://127.0.0.1:${originPort}`], {}, 'pipe', profileFlags(profileDir))
  const info = await firstJsonLine(started, 'the bare proxy')
  return { ...started, port: Number(info.port) }
}

function writeRoutesFile (dir: string, originPort: number): string {
  const file = join(dir, 'routes.yaml')
  writeFileSync(file, [
    'defaults:',
    '  auth: none',
    // Far above what one client can send here: if rate limiting lands, the
    // bench measures what checking a limit costs, not 429s.
    '  rateLimit: 1000000000/1s',
    'integrations:',
    '  yankes:',
    `    upstream: http://127.0.0.1:${originPort}/api/v1`,
    ''
  ].join('\n'))
  return file
}

const LOGS_INFO = GATEWAY_LOG_LEVEL === 'info' || GATEWAY_LOG_LEVEL === 'debug' || GATEWAY_LOG_LEVEL === 'trace'

/** A port free right now on 127.0.0.1, for when the gateway will not log the one it chose. */
async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

async function startGateway (routesFile: string, logFile: string, profileDir: string | undefined): Promise<Started> {
  // With logs at info the gateway picks its own port and logs it (no race);
  // otherwise the bench picks one and polls /healthz.
  const port = LOGS_INFO ? 0 : await freePort()
  // stdout goes straight to the file, as in production (to a file or a pipe
  // read by a log shipper), never through this process.
  const fd = openSync(logFile, 'w')
  let started: Started
  try {
    started = spawnNode(
      [GERBANG_BIN, 'start', '--routes', routesFile, '--port', String(port), '--host', '127.0.0.1'],
      { LOG_LEVEL: GATEWAY_LOG_LEVEL, GERBANG_SHUTDOWN_TIMEOUT_MS: '3000' },
      fd,
      [...GATEWAY_NODE_FLAGS, ...profileFlags(profileDir)]
    )
  } finally {
    closeSync(fd)
  }
  const deadline = Date.now() + READY_TIMEOUT_MS
  const hasExited = (): boolean => started.child.exitCode !== null || started.child.signalCode !== null
  while (Date.now() < deadline && !hasExited()) {
    if (port !== 0) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`)
        await res.arrayBuffer()
        if (res.ok) return { ...started, port }
      } catch { /* not listening yet */ }
    } else {
      for (const line of readFileSync(logFile, 'utf8').split('\n')) {
        if (!line.includes('gerbang is ready')) continue
        let address: string | undefined
        try {
          address = (JSON.parse(line) as { address?: string }).address
        } catch {
          break // a line still being written; read it again on the next poll
        }
        return { ...started, port: Number(new URL(address ?? '').port) }
      }
    }
    await sleep(50)
  }
  throw new Error(`the gateway ${hasExited() ? 'exited' : 'was not ready within ' + READY_TIMEOUT_MS + ' ms'}:\n` +
    started.stderr() + readFileSync(logFile, 'utf8').slice(-2000))
}

async function stop (started: Started): Promise<void> {
  const { child } = started
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  const timer = setTimeout(() => { child.kill('SIGKILL') }, STOP_TIMEOUT_MS)
  await started.exited
  clearTimeout(timer)
}

function rssMb (pid: number): number | null {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match === null ? null : Math.round(Number(match[1]) / 1024 * 10) / 10
  } catch {
    return null // not Linux, or the process is gone
  }
}

const CLOCK_TICKS_PER_S = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

/** User + system CPU time a process has used so far, in microseconds, from /proc. */
function cpuUs (pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name may hold spaces and parentheses; fields are counted after its closing ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S * 1e6
  } catch {
    return null
  }
}

async function load (port: number, seconds: number): Promise<autocannon.Result> {
  return await autocannon({
    url: `http://127.0.0.1:${port}${PATH}`,
    connections: CONNECTIONS,
    pipelining: PIPELINING,
    duration: seconds
  })
}

function summarize (result: autocannon.Result): LoadSummary {
  const statusCodes: Record<string, number> = {}
  for (const [code, { count }] of Object.entries(result.statusCodeStats)) statusCodes[code] = count
  return {
    completed: result.requests.total,
    sent: result.requests.sent,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes
  }
}

async function countAccessLines (file: string): Promise<{ lines: number, accessLines: number, failedLines: number }> {
  let lines = 0
  let accessLines = 0
  let failedLines = 0
  // A substring test, not JSON.parse: hundreds of thousands of lines, and pino
  // writes msg last and unescaped for these fixed messages.
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    if (line === '') continue
    lines++
    if (line.includes('"msg":"request"}')) accessLines++
    else if (line.includes('"msg":"request failed"}')) failedLines++
  }
  return { lines, accessLines, failedLines }
}

async function measure (target: TargetName, round: number, origin: Started, routesFile: string, dir: string): Promise<RunRecord> {
  const logFile = join(dir, `gateway-round${round}.log`)
  const profileDir = PROFILE ? join(dir, `cpu-profile-${target}-round${round}`) : undefined
  const started = target === 'bare' ? await startBare(origin.port, profileDir) : await startGateway(routesFile, logFile, profileDir)
  try {
    const rssIdleMb = rssMb(started.pid)
    const warm = await load(started.port, WARMUP_S)
    const rssBeforeMb = rssMb(started.pid)
    const targetCpu0 = cpuUs(started.pid)
    const originCpu0 = cpuUs(origin.pid)
    const selfCpu0 = process.cpuUsage()
    const wall0 = performance.now()
    const result = await load(started.port, DURATION_S)
    const wallUs = (performance.now() - wall0) * 1000
    const selfCpu = process.cpuUsage(selfCpu0)
    const targetCpu1 = cpuUs(started.pid)
    const originCpu1 = cpuUs(origin.pid)
    const rssAfterMb = rssMb(started.pid)
    const completed = Math.max(result.requests.total, 1)
    const perReq = (a: number | null, b: number | null): number | null =>
      a === null || b === null ? null : Math.round((b - a) / completed * 10) / 10
    const record: RunRecord = {
      round,
      target,
      reqPerSec: result.requests.mean,
      latencyMeanMs: result.latency.mean,
      p50Ms: result.latency.p50,
      p90Ms: result.latency.p90,
      p99Ms: result.latency.p99,
      maxMs: result.latency.max,
      load: summarize(result),
      warmup: summarize(warm),
      rssIdleMb,
      rssBeforeMb,
      rssAfterMb,
      cpuUsPerReq: {
        target: perReq(targetCpu0, targetCpu1),
        origin: perReq(originCpu0, originCpu1),
        loadGenerator: Math.round((selfCpu.user + selfCpu.system) / completed * 10) / 10
      },
      loadGeneratorCpuPct: Math.round((selfCpu.user + selfCpu.system) / wallUs * 100)
    }
    await stop(started)
    // Below info there are no access lines to count.
    if (target === 'gateway' && LOGS_INFO) {
      const counted = await countAccessLines(logFile)
      const expectedAtLeast = record.load.completed + record.warmup.completed
      const expectedAtMost = record.load.sent + record.warmup.sent
      const logged = counted.accessLines + counted.failedLines
      record.accessLog = {
        file: logFile,
        ...counted,
        expectedAtLeast,
        expectedAtMost,
        ok: logged >= expectedAtLeast && logged <= expectedAtMost
      }
    }
    if (profileDir !== undefined) record.cpuProfileDir = profileDir
    return record
  } finally {
    await stop(started)
  }
}

// ---------------------------------------------------------------------------
// Output

function fmt (value: number | null, digits = 0): string {
  return value === null ? '-' : value.toFixed(digits)
}

function table (header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)).join('  ')
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

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
    `${r.loadGeneratorCpuPct}%`
  ]
}

const RUN_HEADER = ['run', 'req/s', 'mean ms', 'p50 ms', 'p99 ms', 'max ms', 'non-2xx', 'errors', 'RSS MB', 'cpu µs/req', 'origin µs/req', 'loadgen cpu']

function best (runs: RunRecord[], target: TargetName): RunRecord {
  const mine = runs.filter((r) => r.target === target)
  return mine.reduce((a, b) => b.reqPerSec > a.reqPerSec ? b : a)
}

function ratio (a: number, b: number): number {
  return b === 0 ? Number.NaN : Math.round(a / b * 100) / 100
}

// ---------------------------------------------------------------------------

async function main (): Promise<number> {
  workDir = mkdtempSync(join(tmpdir(), 'gerbang-bench-'))
  process.stdout.write(`bench: node ${process.version}, ${cpus().length} CPUs, ${CONNECTIONS} connections, ` +
    `pipelining ${PIPELINING}, ${WARMUP_S} s warm-up + ${DURATION_S} s per run, ${ROUNDS} rounds, GET ${PATH}, ` +
    `gateway LOG_LEVEL=${GATEWAY_LOG_LEVEL}\n` +
    `bench: work dir ${workDir}${KEEP_LOGS ? ' (kept)' : ' (removed at the end; BENCH_KEEP_LOGS=1 keeps it)'}\n`)
  const origin = await startOrigin()
  const runs: RunRecord[] = []
  try {
    const routesFile = writeRoutesFile(workDir, origin.port)
    for (let round = 1; round <= ROUNDS; round++) {
      for (const target of ['bare', 'gateway'] as const) {
        process.stdout.write(`bench: round ${round}, ${LABEL[target]}…\n`)
        const record = await measure(target, round, origin, routesFile, workDir)
        runs.push(record)
        process.stdout.write(`bench:   ${fmt(record.reqPerSec)} req/s, p99 ${record.p99Ms} ms\n`)
      }
    }
  } finally {
    await stop(origin)
  }

  const bare = best(runs, 'bare')
  const gateway = best(runs, 'gateway')
  const reqRatio = ratio(gateway.reqPerSec, bare.reqPerSec)
  const p99Ratio = ratio(gateway.p99Ms, bare.p99Ms)
  const meanRatio = ratio(gateway.latencyMeanMs, bare.latencyMeanMs)

  const out: string[] = []
  out.push('', 'every run:', table(RUN_HEADER, runs.map(runRow)))
  out.push('', `best of ${ROUNDS} (by req/s):`, table(RUN_HEADER, [bare, gateway].map(runRow)))
  out.push('', table(['gateway / bare', 'ratio'], [
    ['req/s', fmt(reqRatio, 2)],
    ['mean latency', fmt(meanRatio, 2)],
    ['p99 latency', fmt(p99Ratio, 2)],
    ['cpu µs/req', fmt(gateway.cpuUsPerReq.target !== null && bare.cpuUsPerReq.target !== null
      ? ratio(gateway.cpuUsPerReq.target, bare.cpuUsPerReq.target)
      : null, 2)]
  ]))
  const logged = runs.filter((r) => r.accessLog !== undefined)
  if (logged.length > 0) out.push('', 'gateway access log (one line per request expected):')
  for (const r of logged) {
    const a = r.accessLog as AccessLogCheck
    out.push(`  round ${r.round}: ${a.accessLines} access + ${a.failedLines} failed lines of ${a.lines}; ` +
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
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    settings: {
      path: PATH,
      connections: CONNECTIONS,
      pipelining: PIPELINING,
      durationS: DURATION_S,
      warmupS: WARMUP_S,
      rounds: ROUNDS,
      gatewayLogLevel: GATEWAY_LOG_LEVEL,
      profiled: PROFILE
    },
    best: { bare, gateway },
    ratio: { reqPerSec: reqRatio, latencyMean: meanRatio, p99: p99Ratio },
    runs,
    failures
  }, null, 2) + '\n')

  out.push('', `results written to ${RESULTS_FILE}`)
  if (failures.length > 0) out.push('', 'FAILED:', ...failures.map((f) => '  ' + f))
  out.push('', `ratio: ${fmt(reqRatio, 2)}`)
  process.stdout.write(out.join('\n') + '\n')
  return failures.length > 0 ? 1 : 0
}

main().then((code) => {
  process.exitCode = code
}, (err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exitCode = 1
}).finally(() => {
  // Normally every child has already been stopped; this covers the error paths.
  killAll()
})
