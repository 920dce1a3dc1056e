// Gateway vs. bare proxy, in one run: the same origin, the same route, the
// same load, each proxy in its own process; the gateway again with the
// static-headers plugin on the integration; with `cors:` on it and every
// request from a browser origin; and with API keys checked against Redis.
// See bench/README.md.
// Its parts are in bench/run/.
import { mkdirSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { PATH, startOrigin, writeRoutesFile } from './gateway.js'
import { load } from './load.js'
import { CONNECTIONS, DURATION_S, PIPELINING, ROUNDS, WARMUP_S } from './load-settings.js'
import { fmt } from './output.js'
import { runMain, stopEach, type Started } from './processes.js'
import { startRedis, type BenchRedis } from './redis.js'
import { startCheckUpstream, stopCheckUpstream, type CheckUpstream } from './run/checks.js'
import { createClient, createDiskClient, importLegacyClient } from './run/keys.js'
import { measure, pin, type Fixture, type RunRecord } from './run/measure.js'
import { report } from './run/report.js'
import { CPU_COUNT, GATEWAY_LOG_LEVEL, KEEP_LOGS, ORIGIN_PATH, OTHER_CPUS, PIN, TARGET_CPU } from './run/settings.js'
import { CORS_ENTRY, CORS_ORIGIN, LABEL, PAIRS, roundOrder, STATIC_HEADERS_PLUGIN, TARGETS } from './run/targets.js'
import { makeWorkDir } from './work-dir.js'

// ---------------------------------------------------------------------------

async function main (): Promise<number> {
  const workDir = makeWorkDir('gerbang-bench-', KEEP_LOGS).path
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

  return report(runs, redis?.version)
}

runMain(main)
