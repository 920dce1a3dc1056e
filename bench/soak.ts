// The soak test (bench/README.md, "Soak"): SOAK_MINUTES (10) of mixed traffic
// through one gateway, with upstreams that fail, one that goes away and comes
// back every two minutes, and Redis killed and started again (empty) at 60 %
// of the run. It watches the gateway's memory every 5 s and reads every line
// it logs, and answers two questions: does the RSS stay flat after the
// warm-up (growth ≤ 10 %), and does anything go wrong that nobody handled
// (an error or fatal log line that is not an expected operational one,
// anything on stderr, the process gone, /healthz not 200)? Not run in CI.
//
// `node dist/bench/soak.js --upstreams` is the upstreams' own process (this
// file, in another mode), so that the load generator (this process) does not
// slow them down.
//
// Its parts are in bench/soak/.
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool } from 'undici'
import { fmt, machine } from './output.js'
import { rssMb } from './proc.js'
import { hasExited, READY_TIMEOUT_MS, runMain, stop, stopEach } from './processes.js'
import { restartRedis, startRedis, type BenchRedis } from './redis.js'
import { AdminPoller, ControlCounts, fetchToken, own, request, waitReady } from './soak/control.js'
import { answerCode, errorName } from './soak/counts.js'
import { createCredentials, ensureAdminUser } from './soak/credentials.js'
import { GatewayLog } from './soak/gateway-log.js'
import { startSoakGateway, writeRoutes, type Gateway } from './soak/gateway.js'
import { report } from './soak/report.js'
import { Sampler } from './soak/sampler.js'
import { clock, rowFor, type Sample } from './soak/samples.js'
import {
  CONNECTIONS, DURATION_S, FLAP_DOWN_S, FLAP_EVERY_S, FLAP_FIRST_S, KEEP_LOGS, RATE, REDIS_DOWN_AT_S, REDIS_DOWN_S,
  ROW_S, SAMPLE_S, WARMUP_S
} from './soak/settings.js'
import { Generator, key } from './soak/traffic.js'
import { startUpstreams, upstreamsMain, type UpstreamStats, type Upstreams } from './soak/upstreams.js'
import { makeWorkDir } from './work-dir.js'

function say (line: string): void {
  process.stdout.write(`soak: ${line}\n`)
}

async function main (): Promise<number> {
  if (DURATION_S < 60) throw new Error('SOAK_MINUTES must be at least 1')
  const workDir = makeWorkDir('gerbang-soak-', KEEP_LOGS)
  const dir = workDir.path
  const info = machine(undefined)
  say(`node ${process.version}, ${String(info.cpus)} CPUs (${String(info.cpuModel)}), load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  say(`${clock(DURATION_S)} of traffic at ${RATE} req/s (warm-up ${WARMUP_S} s), samples every ${SAMPLE_S} s; ` +
    `flap upstream down ${FLAP_DOWN_S} s every ${FLAP_EVERY_S} s from ${FLAP_FIRST_S} s; Redis killed at ${REDIS_DOWN_AT_S} s for ${REDIS_DOWN_S} s; ` +
    `work dir ${dir}${KEEP_LOGS ? ' (kept)' : ' (removed at the end unless the run fails; SOAK_KEEP_LOGS=1 keeps it)'}`)

  let t0 = performance.now()
  const now = (): number => (performance.now() - t0) / 1000
  const events: Array<{ t: number, what: string }> = []
  const event = (what: string): void => {
    events.push({ t: Math.round(now() * 10) / 10, what })
    say(`${clock(now())} ${what}`)
  }
  const failures: string[] = []
  const notes: string[] = []

  let redis: BenchRedis | undefined
  let upstreams: Upstreams | undefined
  let gateway: Gateway | undefined
  let load: Pool | undefined
  let controlPool: Pool | undefined
  const timers: NodeJS.Timeout[] = []
  const tasks: Array<Promise<void>> = []
  const log = new GatewayLog(join(dir, 'gateway-warn.log'), now)
  try {
    redis = await startRedis(dir)
    const redisPort = redis.port
    const redisUrl = redis.url
    upstreams = await startUpstreams()
    const routesFile = writeRoutes(join(dir, 'routes.yaml'), upstreams.ports)
    gateway = await startSoakGateway(routesFile, redisUrl, log)
    const gw = gateway
    say(`redis-server ${redis.version} on ${redisUrl}; upstreams on ${JSON.stringify(upstreams.ports)}; gateway pid ${gw.pid} on 127.0.0.1:${gw.port}`)
    const origin = `http://127.0.0.1:${gw.port}`
    load = new Pool(origin, { connections: CONNECTIONS, pipelining: 1, headersTimeout: 15_000, bodyTimeout: 15_000 })
    controlPool = new Pool(origin, { connections: 4, pipelining: 1 })
    const control = controlPool
    if (!await waitReady(control, READY_TIMEOUT_MS)) throw new Error('the gateway was not ready (GET /readyz) in time')

    const controlCounts = new ControlCounts()
    let creds = await createCredentials(redisUrl, 1)
    const admin = new AdminPoller(control, controlCounts)
    const adminUser = await ensureAdminUser(redisUrl)
    notes.push(adminUser === 'existed'
      ? 'the gateway created the first admin from GERBANG_ADMIN_EMAIL/PASSWORD at start'
      : 'the gateway did not create the first admin at start (its store was not connected yet); the soak created it with gerbang users create')
    creds.token = await fetchToken(control, creds.oauth, controlCounts)
    if (creds.token === undefined) throw new Error('could not get an OAuth2 token')
    await admin.tick()
    if (admin.logins === 0) throw new Error(`could not sign in to the admin API: ${JSON.stringify(controlCounts.counts)}`)
    say('4 clients with keys, an OAuth2 token and an admin session: starting the traffic')

    // --- counting and sampling
    const sampler = new Sampler({ gateway: gw, control, controlCounts, admin, now, event, notes })
    const generator = new Generator(load, () => creds, sampler.onAnswer)
    const samples = sampler.samples
    const byKind = sampler.byKind
    const run = { stopped: false }
    const sample = async (): Promise<void> => { await sampler.sample(generator) }

    const printRow = (end: number): void => {
      const row = rowFor(samples, events, end - ROW_S, end)
      if (row !== undefined) say(`${clock(end)} ${row.progress}`)
    }

    // --- the run
    t0 = performance.now()
    event(`traffic starts (${RATE} req/s)`)
    await sample()
    generator.start()
    let nextSample = SAMPLE_S
    const samplerLoop = (async () => {
      while (!run.stopped) {
        await sleep(Math.max(0, nextSample * 1000 - (performance.now() - t0)))
        if (run.stopped) break
        await sample()
        if (nextSample % ROW_S === 0) printRow(nextSample)
        if (nextSample === WARMUP_S) event(`warm-up over: RSS ${fmt(samples[samples.length - 1]?.rssMb, 1)} MiB`)
        nextSample += SAMPLE_S
        if (sampler.gatewayDied) break
      }
    })()

    let adminBusy = false
    timers.push(setInterval(() => {
      if (adminBusy) return
      adminBusy = true
      admin.tick().finally(() => { adminBusy = false })
    }, 5000))
    let tokenBusy = false
    let tokenAt = performance.now()
    timers.push(setInterval(() => {
      if (tokenBusy || performance.now() - tokenAt < 60_000) return
      tokenBusy = true
      const c = creds
      fetchToken(control, c.oauth, controlCounts).then((token) => {
        if (token !== undefined && creds === c) {
          c.token = token
          tokenAt = performance.now()
        }
      }).finally(() => { tokenBusy = false })
    }, 5000))

    const at = (seconds: number, what: string, task: () => Promise<void>): void => {
      let settle: () => void = () => {}
      tasks.push(new Promise<void>((resolve) => { settle = resolve }))
      timers.push(setTimeout(() => {
        task().catch((err: unknown) => {
          failures.push(`${what}: ${(err as Error).message}`)
          event(`${what} failed: ${(err as Error).message}`)
        }).finally(settle)
      }, seconds * 1000))
    }

    const ups = upstreams
    for (let s = FLAP_FIRST_S; s + FLAP_DOWN_S <= DURATION_S - 5; s += FLAP_EVERY_S) {
      at(s, 'taking the flap upstream down', async () => {
        const down = ups.next('down')
        ups.send('down flap')
        await down
        event(`flap upstream down for ${FLAP_DOWN_S} s`)
        await sleep(FLAP_DOWN_S * 1000)
        const up = ups.next('up')
        ups.send('up flap')
        await up
        event('flap upstream back')
      })
    }

    at(REDIS_DOWN_AT_S, 'restarting Redis', async () => {
      const old = redis as BenchRedis
      admin.userExists = false
      old.child.kill('SIGKILL')
      await old.exited
      event(`redis-server killed (kill -9); starting it again in ${REDIS_DOWN_S} s`)
      await sleep(REDIS_DOWN_S * 1000)
      redis = await restartRedis(dir, redisPort, old.version)
      const upAt = now()
      event('redis-server started again on the same port, empty')
      if (!await waitReady(control, 30_000)) throw new Error('the gateway was not ready again within 30 s of Redis coming back')
      event(`gateway ready again (/readyz 200) ${(now() - upAt).toFixed(1)} s after Redis came back`)
      // The clients are gone with Redis' data: old keys keep working only as long as the gateway's cache trusts them.
      const deadline = performance.now() + 75_000
      let refused: string | undefined
      const seen: Record<string, number> = {}
      while (refused === undefined && performance.now() < deadline) {
        try {
          const res = await request(control, 'GET', '/fast/probe', key(creds.main))
          const label = `${res.status} ${answerCode(res.body) ?? ''}`.trim()
          seen[label] = (seen[label] ?? 0) + 1
          if (res.status === 401) refused = label
        } catch (err) {
          seen[`error ${errorName(err)}`] = (seen[`error ${errorName(err)}`] ?? 0) + 1
        }
        if (refused === undefined) await sleep(500)
      }
      event(refused === undefined
        ? `the old API key was not refused within 75 s of Redis coming back empty (probes: ${JSON.stringify(seen)})`
        : `the old API key refused (${refused}) ${(now() - upAt).toFixed(1)} s after Redis came back empty (probes: ${JSON.stringify(seen)})`)
      const fresh = await createCredentials(redisUrl, creds.generation + 1)
      await ensureAdminUser(redisUrl)
      fresh.token = await fetchToken(control, fresh.oauth, controlCounts)
      tokenAt = performance.now()
      creds = fresh
      admin.userExists = true
      event('clients, keys, token and admin user made again; traffic uses them')
    })

    // Until the end, or until the gateway dies.
    while (now() < DURATION_S && !sampler.gatewayDied) await sleep(250)
    await generator.stop()
    for (const timer of timers) clearTimeout(timer)
    event(`traffic stopped: ${generator.sent} requests sent, ${generator.dropped} dropped (generator at its in-flight cap)`)
    run.stopped = true
    await samplerLoop
    // Scheduled tasks that started are finished (or failed); those that never started are settled by clearing their
    // timers.
    await Promise.race([Promise.all(tasks), sleep(2000)])

    // Windows still open.
    const finalSample = async (): Promise<Sample | undefined> => {
      if (samples[samples.length - 1]?.t !== DURATION_S && !sampler.gatewayDied) {
        await sample()
      }
      return samples[samples.length - 1]
    }
    await finalSample()

    // --- the end: alive, /healthz, then a clean stop
    const alive = !hasExited(gw)
    let healthz: number | string = 'no answer'
    try {
      healthz = (await request(control, 'GET', '/healthz')).status
    } catch (err) {
      healthz = `error ${errorName(err)}`
    }
    const idleRssMb = rssMb(gw.pid)
    const statsLine = ups.next('stats').catch(() => undefined)
    ups.send('stats')
    const upstreamStats = (await statsLine)?.stats as UpstreamStats | undefined
    await load.close()
    await control.close()
    load = undefined
    controlPool = undefined
    const stopAt = performance.now()
    await stop(gw)
    const stopMs = Math.round(performance.now() - stopAt)
    await Promise.race([gw.stdoutDone, sleep(2000)])
    await log.close()
    const shutdown = { exitCode: gw.child.exitCode, signal: gw.child.signalCode, ms: stopMs }
    await stopEach([upstreams, redis])

    return report({
      samples,
      events,
      byKind,
      controlCounts,
      log,
      alive,
      healthz,
      idleRssMb,
      shutdown,
      upstreamStats,
      generator: { sent: generator.sent, dropped: generator.dropped },
      own: { ...own },
      failures,
      notes,
      redisVersion: redis?.version,
      workDir
    })
  } catch (err) {
    workDir.keep = true
    throw err
  } finally {
    for (const timer of timers) clearTimeout(timer)
    await load?.destroy()
    await controlPool?.destroy()
    await stopEach([gateway, upstreams, redis])
  }
}

if (process.argv[2] === '--upstreams') upstreamsMain()
else runMain(main)
