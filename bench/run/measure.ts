// One run of one target: start it, check it, warm it up, measure it, stop it,
// and count its access lines, with the CPU and memory of every process.
import { execFileSync } from 'node:child_process'
import { createReadStream } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { startGateway } from '../gateway.js'
import { load, summarize, type LoadSummary } from '../load.js'
import { CONNECTIONS, DURATION_S, PIPELINING, WARMUP_S } from '../load-settings.js'
import { cpuUs, perRequest, rssMb } from '../proc.js'
import { firstJsonLine, HERE, spawnNode, stop, type Started } from '../processes.js'
import type { BenchRedis } from '../redis.js'
import { checkCors, checkUpstreamHeaders, type CheckUpstream } from './checks.js'
import { GATEWAY_LOG_LEVEL, KEY_PEPPER, LOGS_INFO, PIN, PROFILE, TARGET_CPU } from './settings.js'
import { CORS_ORIGIN, LABEL, SLUG, type TargetName } from './targets.js'

export interface AccessLogCheck {
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

export interface RunRecord {
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
export interface Fixture {
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

/** Moves every thread of a process to these CPUs (taskset -a); threads it starts later inherit them. */
export function pin (pid: number, cpuList: string): void {
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

export async function measure (target: TargetName, round: number, fx: Fixture): Promise<RunRecord> {
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
