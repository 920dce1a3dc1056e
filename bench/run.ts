// Gateway vs. bare proxy, in one run: the same origin, the same route, the
// same load, each proxy in its own process; the gateway again with the
// static-headers plugin on the integration; with `cors:` on it and every
// request from a browser origin; and with API keys checked against Redis.
// See bench/README.md.
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createReadStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { cpus, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { ClientService } from '../src/auth/clients.js'
import { importLegacyRows } from '../src/auth/legacy-import.js'
import { SecretHasher } from '../src/auth/secrets.js'
import { DiskStore } from '../src/store/disk-store.js'
import { positiveInt } from './env.js'
import { logsAccessLines, PATH, startGateway, startOrigin, writeRoutesFile } from './gateway.js'
import { load, summarize, type LoadSummary } from './load.js'
import { fmt, machine, ratio, table } from './output.js'
import { cpuUs, perRequest, rssMb } from './proc.js'
import {
  firstJsonLine, HERE, onExit, REPO_ROOT, runMain, spawnNode, stop, stopEach, type Started
} from './processes.js'
import { openStore, startRedis, type BenchRedis } from './redis.js'

const RESULTS_FILE = resolve(REPO_ROOT, 'bench/results/latest.json')

const DURATION_S = positiveInt('BENCH_DURATION', 10)
const CONNECTIONS = positiveInt('BENCH_CONNECTIONS', 50)
const ROUNDS = positiveInt('BENCH_ROUNDS', 2)
const WARMUP_S = 3
/** What PATH becomes at the origin (`yankes` → /api/v1): the priming load asks it directly. */
const ORIGIN_PATH = '/api/v1/kamar?rs=1'
const PIPELINING = 1
const PROFILE = process.env.BENCH_PROFILE === '1'
/**
 * BENCH_PIN=1: the target (all its threads) gets the last CPU to itself; this
 * process (autocannon), the origin and Redis share the others, so the
 * target's core is the limit and req/s measures the target, not how the
 * scheduler shared two cores among four processes. On 2 cores that takes
 * most runs of one target from ±10–20 % apart to about ±5 %; see bench/README.md.
 */
const PIN = process.env.BENCH_PIN === '1'
const CPU_COUNT = cpus().length
const TARGET_CPU = String(CPU_COUNT - 1)
const OTHER_CPUS = CPU_COUNT > 2 ? `0-${CPU_COUNT - 2}` : '0'
// info is what production runs; another level is only for telling the cost of logging apart.
const GATEWAY_LOG_LEVEL = process.env.BENCH_GATEWAY_LOG_LEVEL ?? 'info'
const LOGS_INFO = logsAccessLines(GATEWAY_LOG_LEVEL)
// A profile is useless if the work dir holding it is removed.
const KEEP_LOGS = process.env.BENCH_KEEP_LOGS === '1' || PROFILE
// The keyed gateway's pepper: any 16+ bytes do, as long as the client is created with the same.
const KEY_PEPPER = randomBytes(24).toString('base64url')

const ALL_TARGETS = ['bare', 'gateway', 'gateway+headers', 'gateway+origin', 'gateway+cors', 'gateway+2targets', 'gateway+key', 'gateway+legacykey', 'gateway+diskkey'] as const
type TargetName = typeof ALL_TARGETS[number]
const LABEL: Record<TargetName, string> = {
  bare: 'bare proxy',
  gateway: 'gateway',
  'gateway+headers': 'gateway+headers',
  'gateway+origin': 'gateway+origin',
  'gateway+cors': 'gateway+cors',
  'gateway+2targets': 'gateway+2targets',
  'gateway+key': 'gateway+key',
  'gateway+legacykey': 'gateway+legacykey',
  'gateway+diskkey': 'gateway+diskkey'
}
/** For file and directory names. */
const SLUG: Record<TargetName, string> = {
  bare: 'bare',
  gateway: 'gateway',
  'gateway+headers': 'gateway-headers',
  'gateway+origin': 'gateway-origin',
  'gateway+cors': 'gateway-cors',
  'gateway+2targets': 'gateway-2targets',
  'gateway+key': 'gateway-key',
  'gateway+legacykey': 'gateway-legacykey',
  'gateway+diskkey': 'gateway-diskkey'
}
/**
 * Each variant and the target it is measured against, run back to back:
 * gateway+headers against gateway; gateway+cors against gateway+origin, the
 * plain gateway under the very same load (every request with an Origin), so
 * the difference is what `cors:` does and not what one more request header costs.
 */
const PAIRS: ReadonlyArray<readonly [variant: TargetName, base: TargetName]> = [
  ['gateway+headers', 'gateway'], ['gateway+cors', 'gateway+origin'], ['gateway+2targets', 'gateway'], ['gateway+legacykey', 'gateway+key'],
  ['gateway+diskkey', 'gateway+key']
]

/**
 * gateway+legacykey: gateway+key's file and Redis, every request with a key
 * of the old API manager (40 hex) imported by `gerbang import legacy`'s code
 * instead of a gb_ key; issue 15: at most 3 % of req/s against gateway+key.
 */
const LEGACY_COST_LIMIT_PCT = 3

/**
 * gateway+diskkey: gateway+key's file and load on the embedded store on disk
 * (GERBANG_DATA_DIR, no REDIS_URL) instead of Redis; issue 17: within 3 % of
 * gateway+key's req/s, same run.
 */
const DISK_COST_LIMIT_PCT = 3

/** gateway+2targets: `yankes` with two upstream targets (the origin's two ports); issue 14: at most 3 % of req/s. */
const TARGETS_COST_LIMIT_PCT = 3

/** BENCH_TARGETS=gateway,gateway+headers runs those only (in the usual order); unset or empty, all of them. */
function selectTargets (text: string | undefined): readonly TargetName[] {
  if (text === undefined || text.trim() === '') return ALL_TARGETS
  const wanted = new Set(text.split(',').map((t) => t.trim()).filter((t) => t !== ''))
  const unknown = [...wanted].filter((t) => !(ALL_TARGETS as readonly string[]).includes(t))
  if (unknown.length > 0) throw new Error(`BENCH_TARGETS: unknown ${unknown.join(', ')}; the targets are ${ALL_TARGETS.join(', ')}`)
  return ALL_TARGETS.filter((t) => wanted.has(t))
}
const TARGETS = selectTargets(process.env.BENCH_TARGETS)

/**
 * The plugin of gateway+headers, as the issue writes it: two headers set, one
 * removed. Its integration is otherwise the plain gateway's, byte for byte.
 */
const STATIC_HEADERS_PLUGIN = 'static-headers: { set: { x-instansi: dinkes-banten, x-api-version: "2" }, remove: [x-debug] }'
const HEADERS_SET: Readonly<Record<string, string>> = { 'x-instansi': 'dinkes-banten', 'x-api-version': '2' }
const HEADER_REMOVED = 'x-debug'
/** The acceptance: gateway+headers may lose at most this share of gateway's req/s. */
const HEADERS_COST_LIMIT_PCT = 5

/**
 * gateway+cors: `yankes` with the contract's own example of `cors:` (an exact
 * origin and a subdomain pattern), otherwise the plain gateway's file, and
 * every request of the load from the exact origin, as a browser app's: each
 * is checked against the origins and its answer carries the CORS headers
 * (issue 13, acceptance 5: at most 3 % of req/s). gateway+origin: the plain
 * gateway under that same load (the Origin ignored, passed on).
 */
const CORS_ENTRY = '{ origins: ["https://dashboard.bantenprov.go.id", "https://*.bantenprov.go.id"] }'
const CORS_ORIGIN = 'https://dashboard.bantenprov.go.id'
const CORS_COST_LIMIT_PCT = 3

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

/** What every run shares: the origin, Redis with the one client (when gateway+key runs), the routes files. */
interface Fixture {
  origin: Started
  redis: BenchRedis | undefined
  /** The API key of the client the keyed runs send ('' without gateway+key). */
  apiKey: string
  /** The imported old-manager key gateway+legacykey sends ('' without it). */
  legacyKey: string
  /** gateway+diskkey: the embedded store's directory, and the key of its one client ('' without it). */
  diskDir: string
  diskKey: string
  /** gateway: `yankes` and `bench-check`, no plugins. */
  routesNone: string
  /** gateway+headers: the same file with the static-headers plugin on both integrations. */
  routesHeaders: string
  /** gateway+key: `yankes` alone, auth at its default (API key). */
  routesApiKey: string
  /** gateway+cors: the plain gateway's file with `cors:` on `yankes`. */
  routesCors: string
  /** gateway+2targets: the plain gateway's file with two upstream targets on `yankes`. */
  routesTwoTargets: string
  check: CheckUpstream
  dir: string
}

/**
 * The upstream of the `bench-check` integration: records the headers of
 * every request it gets and answers 204. In this process: it answers one
 * request per gateway run, before the load, never during it.
 */
interface CheckUpstream {
  server: Server
  port: number
  received: IncomingHttpHeaders[]
}

async function startCheckUpstream (): Promise<CheckUpstream> {
  const received: IncomingHttpHeaders[] = []
  const server = createServer((req, res) => {
    received.push(req.headers)
    req.resume()
    res.writeHead(204)
    res.end()
  })
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { server, port: (server.address() as AddressInfo).port, received }
}

async function stopCheckUpstream (check: CheckUpstream | undefined): Promise<void> {
  if (check === undefined || !check.server.listening) return
  check.server.closeAllConnections()
  await new Promise<void>((resolve) => { check.server.close(() => { resolve() }) })
}

/**
 * One request through the gateway's `bench-check` integration, configured as
 * `yankes` (the same plugins lines), before the load: what the upstream got
 * must show the plugin at work, or not at all for the plain gateway. Throws
 * when it does not, so that a plugin misconfigured or not applied fails the
 * bench instead of being measured as free.
 */
async function checkUpstreamHeaders (
  port: number, check: CheckUpstream, withPlugin: boolean, what: string
): Promise<void> {
  check.received.length = 0
  const clientInstansi = 'set-by-the-client'
  const res = await fetch(`http://127.0.0.1:${port}/bench-check/headers`, {
    headers: { [HEADER_REMOVED]: '1', 'x-instansi': clientInstansi }
  })
  await res.arrayBuffer()
  const got = check.received[0]
  const problems: string[] = []
  if (res.status !== 204) problems.push(`the check request got ${res.status}, not the upstream's 204`)
  if (check.received.length !== 1 || got === undefined) {
    problems.push(`the check upstream got ${check.received.length} requests, not 1`)
  } else if (withPlugin) {
    for (const [name, value] of Object.entries(HEADERS_SET)) {
      if (got[name] !== value) problems.push(`${name}: ${JSON.stringify(got[name])}, not ${JSON.stringify(value)}`)
    }
    if (got[HEADER_REMOVED] !== undefined) problems.push(`${HEADER_REMOVED} reached the upstream (${JSON.stringify(got[HEADER_REMOVED])}); the plugin removes it`)
  } else {
    // The control: the plain gateway passes the client's headers on and adds none of the plugin's.
    if (got[HEADER_REMOVED] !== '1') problems.push(`${HEADER_REMOVED}: ${JSON.stringify(got[HEADER_REMOVED])}, not the client's "1"`)
    if (got['x-instansi'] !== clientInstansi) problems.push(`x-instansi: ${JSON.stringify(got['x-instansi'])}, not the client's ${JSON.stringify(clientInstansi)}`)
    if (got['x-api-version'] !== undefined) problems.push(`x-api-version: ${JSON.stringify(got['x-api-version'])}, which no one set`)
  }
  if (problems.length > 0) {
    throw new Error(`${what}: the upstream did not get the headers expected ${withPlugin ? 'with' : 'without'} ` +
      `the static-headers plugin (${STATIC_HEADERS_PLUGIN}):\n  ${problems.join('\n  ')}\n` +
      `  headers received: ${JSON.stringify(got ?? null)}`)
  }
}

/**
 * Before gateway+cors's load: a preflight and a request from CORS_ORIGIN to
 * `yankes` must come back as docs/contract.md section 8 has it (204, and 200 with
 * the origin allowed and the expose list), or the bench stops: cors
 * misconfigured or not applied is never measured as free. Two requests, each
 * with its access line. Before gateway+origin's (the control): one request
 * from CORS_ORIGIN, answered 200 without any CORS header. Returns how many
 * requests were sent.
 */
async function checkCors (port: number, what: string, withCors: boolean): Promise<number> {
  const url = `http://127.0.0.1:${port}${PATH}`
  const problems: string[] = []
  if (!withCors) {
    const answer = await fetch(url, { headers: { origin: CORS_ORIGIN } })
    await answer.arrayBuffer()
    if (answer.status !== 200) problems.push(`the request got ${answer.status}, not the origin's 200`)
    if (answer.headers.get('access-control-allow-origin') !== null) problems.push('the answer carries Access-Control-Allow-Origin: the control has no cors')
    if (problems.length > 0) throw new Error(`${what}: ${problems.join('; ')}`)
    return 1
  }
  const preflight = await fetch(url, {
    method: 'OPTIONS',
    headers: { origin: CORS_ORIGIN, 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-api-key' }
  })
  await preflight.arrayBuffer()
  if (preflight.status !== 204) problems.push(`the preflight got ${preflight.status}, not 204`)
  if (preflight.headers.get('access-control-allow-origin') !== CORS_ORIGIN) {
    problems.push(`the preflight's Access-Control-Allow-Origin is ${JSON.stringify(preflight.headers.get('access-control-allow-origin'))}`)
  }
  const answer = await fetch(url, { headers: { origin: CORS_ORIGIN } })
  await answer.arrayBuffer()
  if (answer.status !== 200) problems.push(`the request got ${answer.status}, not the origin's 200`)
  if (answer.headers.get('access-control-allow-origin') !== CORS_ORIGIN) {
    problems.push(`the answer's Access-Control-Allow-Origin is ${JSON.stringify(answer.headers.get('access-control-allow-origin'))}`)
  }
  if (!(answer.headers.get('access-control-expose-headers') ?? '').includes('x-request-id')) problems.push('the answer exposes no x-request-id')
  if (problems.length > 0) throw new Error(`${what}: cors (${CORS_ENTRY}) is not at work for ${CORS_ORIGIN}:\n  ${problems.join('\n  ')}`)
  return 2
}

let workDir: string | undefined
onExit(() => {
  if (workDir !== undefined && !KEEP_LOGS) rmSync(workDir, { recursive: true, force: true })
})

/** Moves every thread of a process to these CPUs (taskset -a); threads it starts later inherit them. */
function pin (pid: number, cpuList: string): void {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpuList, String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] })
  } catch (err) {
    throw new Error(`BENCH_PIN=1: taskset -a -p -c ${cpuList} ${pid} failed (${(err as Error).message.split('\n')[0] ?? ''})`)
  }
}

function profileFlags (profileDir: string | undefined): string[] {
  return profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir]
}

async function startBare (originPort: number, profileDir: string | undefined): Promise<Started> {
  const started = spawnNode([join(HERE, 'bare-proxy.js'), `http://127.0.0.1:${originPort}`], {}, 'pipe', profileFlags(profileDir))
  const info = await firstJsonLine(started, 'the bare proxy')
  return { ...started, port: Number(info.port) }
}

/** The client of gateway+legacykey, imported the way `gerbang import legacy` imports a row. */
async function importLegacyClient (redisUrl: string): Promise<string> {
  const key = createHash('sha1').update('bench.bantenprov.go.id').digest('hex')
  const store = await openStore(redisUrl)
  try {
    const report = await importLegacyRows(store, new SecretHasher(KEY_PEPPER), [{ id: '1', key, domain: 'bench.bantenprov.go.id' }],
      { integrations: '*', dryRun: false })
    if (report.imported !== 1) throw new Error(`the legacy bench client was not imported: ${JSON.stringify(report.clients)}`)
    return key
  } finally {
    await store.close()
  }
}

/** gateway+diskkey's one client, made in the embedded store in `dir` the way `gerbang keys create` makes one there. */
async function createDiskClient (dir: string): Promise<string> {
  const store = new DiskStore({ dir })
  try {
    const { key } = await new ClientService(store, new SecretHasher(store.keyPepper(undefined)))
      .create({ name: 'bench', description: 'bench/run.ts', integrations: '*' })
    return key
  } finally {
    await store.close()
  }
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
  const onDisk = target === 'gateway+diskkey'
  const keyed = target === 'gateway+key' || target === 'gateway+legacykey' || onDisk
  const cors = target === 'gateway+cors'
  const fromBrowser = cors || target === 'gateway+origin'
  const routesFile = keyed
    ? fx.routesApiKey
    : target === 'gateway+headers' ? fx.routesHeaders : cors ? fx.routesCors : target === 'gateway+2targets' ? fx.routesTwoTargets : fx.routesNone
  const started = target === 'bare'
    ? { ...await startBare(fx.origin.port, profileDir), readyProbes: { sent: 0, answered: 0 } }
    : await startGateway({
      routesFile,
      logFile,
      logLevel: GATEWAY_LOG_LEVEL,
      // The plain gateways run on the embedded store, which auth: none never asks.
      redisUrl: keyed && !onDisk ? fx.redis?.url ?? '' : '',
      // On disk: the store's own pepper, as an install without GERBANG_KEY_PEPPER has.
      keyPepper: keyed && !onDisk ? KEY_PEPPER : '',
      ...(onDisk ? { dataDir: fx.diskDir } : {}),
      extraNodeFlags: profileFlags(profileDir),
      waitForStore: keyed
    })
  // gateway+cors and gateway+origin: every request as from a browser app on an allowed origin.
  const headers: Record<string, string> | undefined = keyed ? { 'x-api-key': target === 'gateway+legacykey' ? fx.legacyKey : onDisk ? fx.diskKey : fx.apiKey } : fromBrowser ? { origin: CORS_ORIGIN } : undefined
  const run = async (seconds: number): Promise<Awaited<ReturnType<typeof load>>> =>
    await load({
      port: started.port,
      seconds,
      connections: CONNECTIONS,
      pipelining: PIPELINING,
      ...(headers !== undefined ? { headers } : {})
    })
  /** The header check's request: it has an access line like any other. */
  let checkRequests = 0
  try {
    if (PIN) pin(started.pid, TARGET_CPU)
    const rssIdleMb = rssMb(started.pid)
    if (target === 'gateway' || target === 'gateway+headers') {
      checkRequests = 1
      await checkUpstreamHeaders(started.port, fx.check, target === 'gateway+headers', `round ${round} ${LABEL[target]}`)
    }
    if (fromBrowser) checkRequests = await checkCors(started.port, `round ${round} ${LABEL[target]}`, cors)
    const warm = await run(WARMUP_S)
    const rssBeforeMb = rssMb(started.pid)
    const targetCpu0 = cpuUs(started.pid)
    const originCpu0 = cpuUs(fx.origin.pid)
    const redisCpu0 = fx.redis === undefined ? null : cpuUs(fx.redis.pid)
    const selfCpu0 = process.cpuUsage()
    const wall0 = performance.now()
    const result = await run(DURATION_S)
    const wallUs = (performance.now() - wall0) * 1000
    const selfCpu = process.cpuUsage(selfCpu0)
    const targetCpu1 = cpuUs(started.pid)
    const originCpu1 = cpuUs(fx.origin.pid)
    const redisCpu1 = fx.redis === undefined ? null : cpuUs(fx.redis.pid)
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
      const expectedAtLeast = record.load.completed + record.warmup.completed + started.readyProbes.answered +
        checkRequests
      const expectedAtMost = record.load.sent + record.warmup.sent + started.readyProbes.sent + checkRequests
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

function best (runs: RunRecord[], target: TargetName): RunRecord | undefined {
  const mine = runs.filter((r) => r.target === target)
  return mine.length === 0 ? undefined : mine.reduce((a, b) => b.reqPerSec > a.reqPerSec ? b : a)
}

/**
 * The targets of one round, in order. The two of a pair (PAIRS), whose ratio
 * has a limit, run back to back and swap places every other round, the
 * variant first in odd rounds: the first of a pair, and the first gateway of
 * a bench most of all, often came out slower (see bench/README.md), and in
 * round 1 that should count against the variant, not for it.
 */
function roundOrder (round: number): TargetName[] {
  const order: TargetName[] = []
  for (const target of TARGETS) {
    if (order.includes(target)) continue
    const pair = PAIRS.find(([v, b]) => (v === target || b === target) && TARGETS.includes(v) && TARGETS.includes(b))
    if (pair === undefined) order.push(target)
    // A base shared by two pairs (gateway) runs once.
    else for (const t of round % 2 === 1 ? pair : [pair[1], pair[0]]) if (!order.includes(t)) order.push(t)
  }
  return order
}

/** The target a variant is measured against: its pair's, or gateway when that did not run. */
function baseOf (variant: TargetName): TargetName {
  const base = PAIRS.find(([v]) => v === variant)?.[1] ?? 'gateway'
  return TARGETS.includes(base) ? base : 'gateway'
}

interface Ratios {
  reqPerSec: number
  latencyMean: number
  p99: number
  cpuPerReq: number | null
}

function ratios (a: RunRecord | undefined, b: RunRecord | undefined): Ratios | null {
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
interface VariantCost {
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

type HeadersCost = VariantCost & { plugin: string }
type CorsCost = VariantCost & { cors: string, origin: string, base: TargetName }

function variantCost (
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
function costLines (title: string, variant: RunRecord, gateway: RunRecord, cost: VariantCost): string[] {
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
function verdictLine (what: string, cost: VariantCost): string {
  const paired = cost.medianReqPerSecPct ?? cost.reqPerSecPct
  return `${what} cost: ${paired.toFixed(1)}% median of ${cost.perRound.length} back-to-back rounds ` +
    `(best runs: ${cost.reqPerSecPct.toFixed(1)}%; limit ${cost.limitPct}%) → ${cost.ok ? 'ok' : 'OVER THE LIMIT'}`
}

/** A signed per cent for the summary: +1.5%, -0.3%. */
function signedPct (value: number | null): string {
  return value === null ? '-' : `${value > 0 ? '+' : ''}${value.toFixed(1)}%`
}

// ---------------------------------------------------------------------------

async function main (): Promise<number> {
  workDir = mkdtempSync(join(tmpdir(), 'gerbang-bench-'))
  process.stdout.write(`bench: node ${process.version}, ${cpus().length} CPUs, ${CONNECTIONS} connections, ` +
    `pipelining ${PIPELINING}, ${WARMUP_S} s warm-up + ${DURATION_S} s per run, ${ROUNDS} rounds of ${TARGETS.join(', ')}` +
    `${PAIRS.some(([v, b]) => TARGETS.includes(v) && TARGETS.includes(b)) ? ' (the two of each pair, gateway+headers and gateway, gateway+cors and gateway+origin, swap places every other round)' : ''}, ` +
    `GET ${PATH}, gateway LOG_LEVEL=${GATEWAY_LOG_LEVEL}` +
    `${PIN ? `, pinned: each target on CPU ${TARGET_CPU}, the rest on ${OTHER_CPUS}` : ''}\n` +
    `bench: work dir ${workDir}${KEEP_LOGS ? ' (kept)' : ' (removed at the end; BENCH_KEEP_LOGS=1 keeps it)'}\n`)
  const runs: RunRecord[] = []
  let origin: (Started & { port2: number }) | undefined
  let redis: BenchRedis | undefined
  let check: CheckUpstream | undefined
  try {
    if (PIN) {
      if (CPU_COUNT < 2) throw new Error('BENCH_PIN=1 needs 2 CPUs at least')
      // Children started from now on (the origin, Redis, every target) inherit this; each target is moved once ready.
      pin(process.pid, OTHER_CPUS)
    }
    origin = await startOrigin()
    check = await startCheckUpstream()
    let apiKey = ''
    let legacyKey = ''
    // Only the keyed gateways need Redis (and redis-server on the PATH).
    if (TARGETS.includes('gateway+key') || TARGETS.includes('gateway+legacykey')) {
      redis = await startRedis(workDir)
      apiKey = await createClient(redis.url)
      process.stdout.write(`bench: redis-server ${redis.version} on ${redis.url}, one client (integrations '*') for gateway+key\n`)
      if (TARGETS.includes('gateway+legacykey')) {
        legacyKey = await importLegacyClient(redis.url)
        process.stdout.write('bench: gateway+legacykey: one client imported from the old API manager, its 40-hex key in x-api-key\n')
      }
    }
    const diskDir = join(workDir, 'disk-store')
    let diskKey = ''
    if (TARGETS.includes('gateway+diskkey')) {
      diskKey = await createDiskClient(diskDir)
      process.stdout.write(`bench: gateway+diskkey: the embedded store on disk in ${diskDir}, one client (integrations '*')\n`)
    }
    if (TARGETS.includes('gateway+headers')) process.stdout.write(`bench: gateway+headers: plugins: [${STATIC_HEADERS_PLUGIN}]\n`)
    if (TARGETS.includes('gateway+cors')) process.stdout.write(`bench: gateway+cors: cors: ${CORS_ENTRY}; every request with Origin: ${CORS_ORIGIN}, as gateway+origin's (no cors)\n`)
    // A directory of their own: the gateway watches its routes file's
    // directory (hot reload), and with its log file in there every log write
    // would wake the watcher. In production routes and logs are apart too.
    const routesDir = join(workDir, 'routes')
    mkdirSync(routesDir)
    const fx: Fixture = {
      origin,
      redis,
      apiKey,
      legacyKey,
      diskDir,
      diskKey,
      routesNone: writeRoutesFile(join(routesDir, 'routes.yaml'), origin.port, 'none', { checkPort: check.port }),
      routesHeaders: writeRoutesFile(join(routesDir, 'routes-headers.yaml'), origin.port, 'none', { checkPort: check.port, plugins: [STATIC_HEADERS_PLUGIN] }),
      routesApiKey: writeRoutesFile(join(routesDir, 'routes-apikey.yaml'), origin.port, 'apiKey'),
      routesCors: writeRoutesFile(join(routesDir, 'routes-cors.yaml'), origin.port, 'none', { cors: CORS_ENTRY }),
      routesTwoTargets: writeRoutesFile(join(routesDir, 'routes-2targets.yaml'), origin.port, 'none', { secondPort: origin.port2 }),
      check,
      dir: workDir
    }
    // The origin and autocannon live through every run: warm them once, so
    // that the first run does not pay for their start (JIT, sockets) alone.
    const primed = await load({
      port: origin.port, path: ORIGIN_PATH, seconds: WARMUP_S, connections: CONNECTIONS, pipelining: PIPELINING
    })
    if (primed.non2xx > 0 || primed.errors > 0 || primed.requests.total === 0) {
      throw new Error(`priming the origin (GET ${ORIGIN_PATH}): ${primed.requests.total} answers, ${primed.non2xx} non-2xx, ${primed.errors} errors`)
    }
    process.stdout.write(`bench: origin primed: ${fmt(primed.requests.mean)} req/s straight to it for ${WARMUP_S} s\n`)
    for (let round = 1; round <= ROUNDS; round++) {
      for (const target of roundOrder(round)) {
        process.stdout.write(`bench: round ${round}, ${LABEL[target]}…\n`)
        const record = await measure(target, round, fx)
        runs.push(record)
        process.stdout.write(`bench:   ${fmt(record.reqPerSec)} req/s, p99 ${record.p99Ms} ms\n`)
      }
    }
  } finally {
    await stopCheckUpstream(check)
    await stopEach([origin, redis])
  }

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
    ...machine(redis?.version),
    settings: {
      path: PATH,
      connections: CONNECTIONS,
      pipelining: PIPELINING,
      durationS: DURATION_S,
      warmupS: WARMUP_S,
      rounds: ROUNDS,
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

runMain(main)
