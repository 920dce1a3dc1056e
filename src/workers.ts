import cluster, { type Worker } from 'node:cluster'
import { availableParallelism } from 'node:os'
import type { GatewayEnv } from './config/env.js'
import { formatProblem, loadRoutesFile } from './config/routes-loader.js'
import { createLogger } from './logging.js'
import { serveClusterMetrics } from './ops/cluster-metrics.js'
import type { HealthChecks, TargetVerdict } from './proxy/health-checks.js'

// `gerbang start --workers N|auto`: a node:cluster primary that forks N
// workers, each running startGateway exactly as a single process does, all
// sharing the listening port (the primary accepts connections and hands them
// round-robin to the workers, Node's default on Linux), and the admin port
// too when GERBANG_ADMIN_PORT is set. The primary serves no
// requests: it checks the routes file once, says "gerbang is ready" once every
// worker listens, restarts a worker that dies, gives up on a crash loop, and
// on SIGTERM/SIGINT lets every worker drain and waits for them.

export const MAX_WORKERS = 64
/** This many worker deaths within CRASH_WINDOW_MS is a crash loop: the primary stops everything and exits 1. */
export const CRASH_LIMIT = 5
export const CRASH_WINDOW_MS = 10_000
/** The first restart waits this long; each further death in the window doubles it. */
const RESTART_DELAY_MS = 100
const RESTART_DELAY_MAX_MS = 2000
/** On top of GERBANG_SHUTDOWN_TIMEOUT_MS, before the primary SIGKILLs workers that have not exited. */
const SHUTDOWN_MARGIN_MS = 5000

// The IPC messages between primary and workers.
interface ReadyMessage { gerbang: 'ready', address: string, adminAddress?: string }
const SHUTDOWN = { gerbang: 'shutdown' } as const
/** To one worker: you probe the upstream targets (healthCheck:) for the whole instance. */
const PROBE = { gerbang: 'probe' } as const
/** Worker to primary, then primary to the other workers: a target's probed state changed. */
interface VerdictMessage { gerbang: 'target-health', verdict: TargetVerdict }

function isMessage<T extends { gerbang: string }> (message: unknown, kind: T['gerbang']): message is T {
  return typeof message === 'object' && message !== null && (message as { gerbang?: unknown }).gerbang === kind
}

/** The worker count for `--workers VALUE`: 1..64, or `auto` (the usable CPUs, at most 64); undefined when invalid. */
export function parseWorkerCount (value: string): number | undefined {
  if (value === 'auto') return Math.min(availableParallelism(), MAX_WORKERS)
  if (!/^[0-9]+$/.test(value)) return undefined
  const count = Number(value)
  return count >= 1 && count <= MAX_WORKERS ? count : undefined
}

export const isWorker = cluster.isWorker

/**
 * In a worker: runs the gateway, tells the primary once it listens, and on
 * the primary's shutdown message sends itself SIGTERM, so it drains through
 * the same close-with-grace path as a single process. Exits 1 if it cannot start.
 */
export async function runWorker (env: GatewayEnv): Promise<void> {
  let ready = false
  let signalled = false
  // Probing starts when the primary says so; verdicts from the prober arrive before or after the checks exist.
  let checks: HealthChecks | undefined
  let probing = false
  const early: TargetVerdict[] = []
  process.on('message', (message) => {
    if (isMessage<VerdictMessage>(message, 'target-health')) {
      if (checks === undefined) early.push(message.verdict)
      else checks.receive(message.verdict)
      return
    }
    if (isMessage(message, PROBE.gerbang)) {
      probing = true
      checks?.setProbing(true)
      return
    }
    if (!isMessage(message, SHUTDOWN.gerbang) || signalled) return
    // Still starting: nothing is being served, nothing to drain.
    if (!ready) process.exit(0)
    // Unless a signal already reached this worker (sent to the whole process
    // group: Ctrl-C in a terminal, systemd's control-group kill), or this is a
    // repeat: a second one would make close-with-grace give up the drain, exit 1.
    signalled = true
    process.kill(process.pid, 'SIGTERM')
  })
  try {
    const { startGateway } = await import('./server.js')
    await startGateway({
      ...env,
      worker: {
        id: cluster.worker?.id ?? 0,
        probes: {
          probing,
          onVerdict: (verdict) => { process.send?.({ gerbang: 'target-health', verdict } satisfies VerdictMessage) },
          attach: (attached) => {
            checks = attached
            for (const verdict of early.splice(0)) attached.receive(verdict)
            if (probing) attached.setProbing(true)
          }
        },
        onReady: (address, adminAddress) => {
          ready = true
          // close-with-grace now handles these signals; only note that one
          // came. (SIGHUP is not one: it reloads the routes.)
          for (const signal of ['SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGUSR2'] as const) {
            process.once(signal, () => { signalled = true })
          }
          process.send?.({ gerbang: 'ready', address, ...(adminAddress !== undefined ? { adminAddress } : {}) } satisfies ReadyMessage)
        }
      }
    })
  } catch (err) {
    // The IPC channel would keep this process alive; the primary sees exit 1.
    process.stderr.write(`gerbang: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  }
}

/**
 * The primary: resolves with the exit code once every worker has exited
 * (0 when a signal stopped them and each exited 0). Throws, without forking,
 * when the routes file is invalid.
 */
export async function runPrimary (env: GatewayEnv, count: number): Promise<number> {
  const loaded = await loadRoutesFile(env.routesFile)
  if (!loaded.ok) {
    // The same text as startGateway's, so --workers changes nothing for the operator.
    throw new Error(`${env.routesFile} is not valid; the gateway will not start:\n` +
      loaded.problems.map((p) => '  ' + formatProblem(env.routesFile, p)).join('\n'))
  }
  const integrations = loaded.config.integrations.map((i) => i.name)
  const logger = createLogger(env.logLevel)
  // Without REDIS_URL the workers share the embedded store on disk (GERBANG_DATA_DIR): each opens it.
  // Workers run this same command line with the same node flags, env and stdio.
  cluster.setupPrimary({ execArgv: process.execArgv, silent: false })
  // A scrape of any worker reports the sum over all of them.
  serveClusterMetrics()

  const workers = new Map<number, { worker: Worker, ready: boolean }>()
  const deaths: number[] = []
  const restarts = new Set<NodeJS.Timeout>()
  let allReady = false
  let stopping: { code: number, clean: boolean, deadline: NodeJS.Timeout } | undefined
  let done: (code: number) => void = () => {}
  const finished = new Promise<number>((resolve) => { done = resolve })

  const describe = (worker: Worker) => ({ worker: worker.id, workerPid: worker.process.pid })
  // One worker probes the upstream targets for the instance; its verdicts go to the others.
  let prober: number | undefined
  const verdicts = new Map<string, TargetVerdict>()

  function fork (): void {
    const worker = cluster.fork()
    workers.set(worker.id, { worker, ready: false })
    worker.on('message', (message: unknown) => {
      if (isMessage<ReadyMessage>(message, 'ready')) onReady(worker, message)
      else if (isMessage<VerdictMessage>(message, 'target-health')) relayVerdict(worker, message)
    })
    // IPC errors (a send racing the worker's death) surface as 'exit' anyway.
    worker.on('error', (err) => { logger.warn({ err, ...describe(worker) }, 'worker IPC error') })
  }

  function relayVerdict (from: Worker, message: VerdictMessage): void {
    verdicts.set(message.verdict.integration + '\n' + message.verdict.target, message.verdict)
    for (const { worker } of workers.values()) {
      if (worker !== from && worker.isConnected()) {
        worker.send(message, () => { /* a dying worker: its 'exit' follows */ })
      }
    }
  }

  /** Names a ready worker the prober when none is; a (re)started worker first hears the verdicts so far. */
  function assignProber (): void {
    if (stopping !== undefined || (prober !== undefined && workers.get(prober)?.ready === true)) return
    const next = [...workers.values()].find((w) => w.ready && w.worker.isConnected())
    prober = next?.worker.id
    next?.worker.send(PROBE, () => { /* see relayVerdict */ })
  }

  function onReady (worker: Worker, { address, adminAddress }: ReadyMessage): void {
    const entry = workers.get(worker.id)
    if (entry === undefined) return
    entry.ready = true
    for (const verdict of verdicts.values()) worker.send({ gerbang: 'target-health', verdict } satisfies VerdictMessage, () => {})
    assignProber()
    if (stopping !== undefined) {
      tellToStop(worker)
    } else if (allReady) {
      logger.info(describe(worker), 'worker restarted')
    } else if (workers.size === count && [...workers.values()].every((w) => w.ready)) {
      allReady = true
      logger.info({
        address,
        ...(adminAddress !== undefined ? { adminAddress } : {}),
        workers: count,
        pids: [...workers.values()].map((w) => w.worker.process.pid),
        routes: env.routesFile,
        integrations
      }, 'gerbang is ready')
    }
  }

  function onExit (worker: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    const entry = workers.get(worker.id)
    if (entry === undefined) return
    workers.delete(worker.id)
    if (prober === worker.id) {
      prober = undefined
      assignProber()
    }
    const how = { ...describe(worker), code, signal }
    if (stopping !== undefined) {
      if (code !== 0) stopping.clean = false
      logger.info(how, 'worker stopped')
      if (workers.size === 0) finish()
      return
    }
    if (!allReady) {
      logger.error(how, 'a worker exited before it was ready: the gateway will not start')
      stop(1)
      return
    }
    const now = Date.now()
    deaths.push(now)
    while (deaths.length > 0 && (deaths[0] ?? now) <= now - CRASH_WINDOW_MS) deaths.shift()
    if (deaths.length >= CRASH_LIMIT) {
      logger.fatal({ ...how, deaths: deaths.length, windowMs: CRASH_WINDOW_MS }, 'workers keep dying: giving up')
      stop(1)
      return
    }
    const delayMs = Math.min(RESTART_DELAY_MS * 2 ** (deaths.length - 1), RESTART_DELAY_MAX_MS)
    logger.error({ ...how, restartInMs: delayMs }, 'worker died: restarting it')
    const timer = setTimeout(() => {
      restarts.delete(timer)
      if (stopping === undefined) fork()
    }, delayMs)
    restarts.add(timer)
  }

  function tellToStop (worker: Worker): void {
    if (worker.isConnected()) {
      worker.send(SHUTDOWN, (err: Error | null) => { if (err !== null) worker.process.kill('SIGTERM') })
    } else {
      worker.process.kill('SIGTERM')
    }
  }

  function stop (code: number): void {
    if (stopping !== undefined) return
    for (const timer of restarts) clearTimeout(timer)
    restarts.clear()
    const deadline = setTimeout(() => {
      logger.error({ pids: [...workers.values()].map((w) => w.worker.process.pid) },
        'workers did not stop in time: killing them')
      for (const { worker } of workers.values()) worker.process.kill('SIGKILL')
    }, env.shutdownTimeoutMs + SHUTDOWN_MARGIN_MS)
    stopping = { code, clean: true, deadline }
    for (const { worker } of workers.values()) tellToStop(worker)
    if (workers.size === 0) finish()
  }

  function finish (): void {
    if (stopping === undefined) return
    clearTimeout(stopping.deadline)
    cluster.off('exit', onExit)
    process.off('SIGTERM', onSignal)
    process.off('SIGINT', onSignal)
    process.off('SIGHUP', onHangup)
    const code = stopping.code !== 0 ? stopping.code : stopping.clean ? 0 : 1
    logger.info({ code }, 'stopped')
    logger.flush()
    done(code)
  }

  function onSignal (signal: NodeJS.Signals): void {
    if (stopping === undefined) {
      logger.info({ signal, workers: workers.size }, 'shutting down: workers are finishing in-flight requests')
      stop(0)
      return
    }
    // A repeated SIGTERM is often the same request twice (`timeout` signals
    // both its child and the process group): keep waiting, the deadline holds.
    // A second Ctrl-C means now, as close-with-grace does in a single process.
    if (signal !== 'SIGINT') {
      logger.warn({ signal }, `${signal} again: still waiting for the workers`)
      return
    }
    logger.error({ signal }, `second ${signal}: killing the workers`)
    stopping.code = 1
    for (const { worker } of workers.values()) worker.process.kill('SIGKILL')
  }

  // SIGHUP reloads routes.yaml: each worker reloads its own table.
  const onHangup = (): void => {
    logger.info({ workers: workers.size }, 'SIGHUP: asking every worker to reload the routes')
    for (const { worker } of workers.values()) worker.process.kill('SIGHUP')
  }

  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  process.on('SIGHUP', onHangup)
  cluster.on('exit', onExit)
  for (let i = 0; i < count; i++) fork()
  return await finished
}
