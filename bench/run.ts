// Gateway vs. bare proxy, in one run: the same origin, the same route, the
// same load, each proxy in its own process; and the gateway again with API
// keys checked against Redis. See bench/README.md.
import { randomBytes } from 'node:crypto'
import { createReadStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { ClientService } from '../src/auth/clients.js'
import { SecretHasher } from '../src/auth/secrets.js'
import {
  cpuUs, firstJsonLine, fmt, HERE, load, logsAccessLines, onExit, PATH, perRequest, positiveInt, ratio, REPO_ROOT,
  machine, rssMb, runMain, spawnNode, startGateway, startOrigin, stop, stopEach, summarize, table, writeRoutesFile,
  type LoadSummary, type Started
} from './common.js'
import { openStore, startRedis, type BenchRedis } from './redis.js'

const RESULTS_FILE = resolve(REPO_ROOT, 'bench/results/latest.json')

const DURATION_S = positiveInt('BENCH_DURATION', 10)
const CONNECTIONS = positiveInt('BENCH_CONNECTIONS', 50)
const ROUNDS = positiveInt('BENCH_ROUNDS', 2)
const WARMUP_S = 3
const PIPELINING = 1
const PROFILE = process.env.BENCH_PROFILE === '1'
// info is what production runs; another level is only for telling the cost of logging apart.
const GATEWAY_LOG_LEVEL = process.env.BENCH_GATEWAY_LOG_LEVEL ?? 'info'
const LOGS_INFO = logsAccessLines(GATEWAY_LOG_LEVEL)
// A profile is useless if the work dir holding it is removed.
const KEEP_LOGS = process.env.BENCH_KEEP_LOGS === '1' || PROFILE
// The keyed gateway's pepper: any 16+ bytes do, as long as the client is created with the same.
const KEY_PEPPER = randomBytes(24).toString('base64url')

const TARGETS = ['bare', 'gateway', 'gateway+key'] as const
type TargetName = typeof TARGETS[number]
const LABEL: Record<TargetName, string> = { bare: 'bare proxy', gateway: 'gateway', 'gateway+key': 'gateway+key' }
/** For file and directory names. */
const SLUG: Record<TargetName, string> = { bare: 'bare', gateway: 'gateway', 'gateway+key': 'gateway-key' }

interface AccessLogCheck {
  file: string
  lines: number
  accessLines: number
  failedLines: number
  /** Responses autocannon completed (warm-up included) and /readyz probes answered: every one must have its line. */
  expectedAtLeast: number
  /** Requests autocannon and the /readyz probes sent: those cut off at the end may or may not have one. */
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
  /**
   * CPU time (user + system) each process spent per completed request during
   * the measured run. redis-server runs through every run; for the keyed
   * gateway it shows whether requests cost store round trips.
   */
  cpuUsPerReq: { target: number | null, origin: number | null, redis: number | null, loadGenerator: number }
  /** Share of one core autocannon used: near 100 % means the load generator, not the target, was the limit. */
  loadGeneratorCpuPct: number
  accessLog?: AccessLogCheck
  cpuProfileDir?: string
}

/** What every run shares: the origin, Redis with the one client, the routes files. */
interface Fixture {
  origin: Started
  redis: BenchRedis
  /** The API key of the client the keyed runs send. */
  apiKey: string
  routesNone: string
  routesApiKey: string
  dir: string
}

let workDir: string | undefined
onExit(() => {
  if (workDir !== undefined && !KEEP_LOGS) rmSync(workDir, { recursive: true, force: true })
})

function profileFlags (profileDir: string | undefined): string[] {
  return profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir]
}

async function startBare (originPort: number, profileDir: string | undefined): Promise<Started> {
  const started = spawnNode([join(HERE, 'bare-proxy.js'), `http://127.0.0.1:${originPort}`], {}, 'pipe', profileFlags(profileDir))
  const info = await firstJsonLine(started, 'the bare proxy')
  return { ...started, port: Number(info.port) }
}

/** The one client of the keyed runs, made the way `gerbang keys create` makes one. */
async function createClient (redisUrl: string): Promise<string> {
  const store = await openStore(redisUrl)
  try {
    const { key } = await new ClientService(store, new SecretHasher(KEY_PEPPER))
      .create({ name: 'bench', description: 'bench/run.ts', integrations: '*' })
    return key
  } finally {
    await store.close()
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

async function measure (target: TargetName, round: number, fx: Fixture): Promise<RunRecord> {
  const logFile = join(fx.dir, `${SLUG[target]}-round${round}.log`)
  const profileDir = PROFILE ? join(fx.dir, `cpu-profile-${SLUG[target]}-round${round}`) : undefined
  const keyed = target === 'gateway+key'
  const started = target === 'bare'
    ? { ...await startBare(fx.origin.port, profileDir), readyProbes: { sent: 0, answered: 0 } }
    : await startGateway({
      routesFile: keyed ? fx.routesApiKey : fx.routesNone,
      logFile,
      logLevel: GATEWAY_LOG_LEVEL,
      // The plain gateway runs on the embedded store, which auth: none never asks.
      redisUrl: keyed ? fx.redis.url : '',
      keyPepper: keyed ? KEY_PEPPER : '',
      extraNodeFlags: profileFlags(profileDir),
      waitForStore: keyed
    })
  const headers = keyed ? { 'x-api-key': fx.apiKey } : undefined
  const run = async (seconds: number): Promise<Awaited<ReturnType<typeof load>>> =>
    await load({ port: started.port, seconds, connections: CONNECTIONS, pipelining: PIPELINING, ...(headers !== undefined ? { headers } : {}) })
  try {
    const rssIdleMb = rssMb(started.pid)
    const warm = await run(WARMUP_S)
    const rssBeforeMb = rssMb(started.pid)
    const targetCpu0 = cpuUs(started.pid)
    const originCpu0 = cpuUs(fx.origin.pid)
    const redisCpu0 = cpuUs(fx.redis.pid)
    const selfCpu0 = process.cpuUsage()
    const wall0 = performance.now()
    const result = await run(DURATION_S)
    const wallUs = (performance.now() - wall0) * 1000
    const selfCpu = process.cpuUsage(selfCpu0)
    const targetCpu1 = cpuUs(started.pid)
    const originCpu1 = cpuUs(fx.origin.pid)
    const redisCpu1 = cpuUs(fx.redis.pid)
    const rssAfterMb = rssMb(started.pid)
    const completed = result.requests.total
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
        target: perRequest(targetCpu0, targetCpu1, completed),
        origin: perRequest(originCpu0, originCpu1, completed),
        redis: perRequest(redisCpu0, redisCpu1, completed),
        loadGenerator: Math.round((selfCpu.user + selfCpu.system) / Math.max(completed, 1) * 10) / 10
      },
      loadGeneratorCpuPct: Math.round((selfCpu.user + selfCpu.system) / wallUs * 100)
    }
    await stop(started)
    // Below info there are no access lines to count.
    if (target !== 'bare' && LOGS_INFO) {
      const counted = await countAccessLines(logFile)
      const expectedAtLeast = record.load.completed + record.warmup.completed + started.readyProbes.answered
      const expectedAtMost = record.load.sent + record.warmup.sent + started.readyProbes.sent
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

function best (runs: RunRecord[], target: TargetName): RunRecord {
  const mine = runs.filter((r) => r.target === target)
  return mine.reduce((a, b) => b.reqPerSec > a.reqPerSec ? b : a)
}

interface Ratios {
  reqPerSec: number
  latencyMean: number
  p99: number
  cpuPerReq: number | null
}

function ratios (a: RunRecord, b: RunRecord): Ratios {
  return {
    reqPerSec: ratio(a.reqPerSec, b.reqPerSec),
    latencyMean: ratio(a.latencyMeanMs, b.latencyMeanMs),
    p99: ratio(a.p99Ms, b.p99Ms),
    cpuPerReq: a.cpuUsPerReq.target !== null && b.cpuUsPerReq.target !== null ? ratio(a.cpuUsPerReq.target, b.cpuUsPerReq.target) : null
  }
}

// ---------------------------------------------------------------------------

async function main (): Promise<number> {
  workDir = mkdtempSync(join(tmpdir(), 'gerbang-bench-'))
  process.stdout.write(`bench: node ${process.version}, ${cpus().length} CPUs, ${CONNECTIONS} connections, ` +
    `pipelining ${PIPELINING}, ${WARMUP_S} s warm-up + ${DURATION_S} s per run, ${ROUNDS} rounds of ${TARGETS.join(', ')}, ` +
    `GET ${PATH}, gateway LOG_LEVEL=${GATEWAY_LOG_LEVEL}\n` +
    `bench: work dir ${workDir}${KEEP_LOGS ? ' (kept)' : ' (removed at the end; BENCH_KEEP_LOGS=1 keeps it)'}\n`)
  const runs: RunRecord[] = []
  let origin: Started | undefined
  let redis: BenchRedis | undefined
  try {
    origin = await startOrigin()
    redis = await startRedis(workDir)
    const apiKey = await createClient(redis.url)
    process.stdout.write(`bench: redis-server ${redis.version} on ${redis.url}, one client (integrations '*') for gateway+key\n`)
    const fx: Fixture = {
      origin,
      redis,
      apiKey,
      routesNone: writeRoutesFile(join(workDir, 'routes.yaml'), origin.port, 'none'),
      routesApiKey: writeRoutesFile(join(workDir, 'routes-apikey.yaml'), origin.port, 'apiKey'),
      dir: workDir
    }
    for (let round = 1; round <= ROUNDS; round++) {
      for (const target of TARGETS) {
        process.stdout.write(`bench: round ${round}, ${LABEL[target]}…\n`)
        const record = await measure(target, round, fx)
        runs.push(record)
        process.stdout.write(`bench:   ${fmt(record.reqPerSec)} req/s, p99 ${record.p99Ms} ms\n`)
      }
    }
  } finally {
    await stopEach([origin, redis])
  }

  const bare = best(runs, 'bare')
  const gateway = best(runs, 'gateway')
  const keyed = best(runs, 'gateway+key')
  const plain = ratios(gateway, bare)
  const withKey = ratios(keyed, bare)
  const keyVsPlain = ratios(keyed, gateway)

  const out: string[] = []
  out.push('', 'every run:', table(RUN_HEADER, runs.map(runRow)))
  out.push('', `best of ${ROUNDS} (by req/s):`, table(RUN_HEADER, [bare, gateway, keyed].map(runRow)))
  const ratioRow = (name: string, pick: (r: Ratios) => number | null): string[] =>
    [name, ...[plain, withKey, keyVsPlain].map((r) => fmt(pick(r), 2))]
  out.push('', table(['ratio', 'gateway / bare', 'gateway+key / bare', 'gateway+key / gateway'], [
    ratioRow('req/s', (r) => r.reqPerSec),
    ratioRow('mean latency', (r) => r.latencyMean),
    ratioRow('p99 latency', (r) => r.p99),
    ratioRow('cpu µs/req', (r) => r.cpuPerReq)
  ]))
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
    ...machine(redis?.version),
    settings: {
      path: PATH,
      connections: CONNECTIONS,
      pipelining: PIPELINING,
      durationS: DURATION_S,
      warmupS: WARMUP_S,
      rounds: ROUNDS,
      targets: TARGETS,
      gatewayLogLevel: GATEWAY_LOG_LEVEL,
      profiled: PROFILE
    },
    best: { bare, gateway, 'gateway+key': keyed },
    // gateway / bare (as before), gateway+key / bare, gateway+key / gateway.
    ratio: plain,
    keyRatio: withKey,
    keyVsGatewayRatio: keyVsPlain,
    runs,
    failures
  }, null, 2) + '\n')

  out.push('', `results written to ${RESULTS_FILE}`)
  if (failures.length > 0) out.push('', 'FAILED:', ...failures.map((f) => '  ' + f))
  out.push('', `ratio: ${fmt(plain.reqPerSec, 2)} key-ratio: ${fmt(withKey.reqPerSec, 2)}`)
  process.stdout.write(out.join('\n') + '\n')
  return failures.length > 0 ? 1 : 0
}

runMain(main)
