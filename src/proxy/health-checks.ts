import type { FastifyBaseLogger } from 'fastify'
import { Client } from 'undici'
import type { HealthCheckSettings } from '../config/routes-loader.js'
import type { TargetHealth } from './balancer.js'
import type { RouteTable, UpstreamConnectOptions } from './route-table.js'

// Active health checks (`healthCheck:` in routes.yaml, docs/contract.md section 14).
//
// Each target of an integration with a healthCheck gets a GET on its path
// every interval; `unhealthy` failures in a row take it out of the
// balancing, `healthy` successes in a row bring it back. With --workers only
// one process probes (the primary names it, src/workers.ts) and the verdicts
// travel to the others over IPC, so an upstream sees one probe per interval
// per gateway instance, not one per worker.

/** A change of a target's probed state, as it travels between workers. */
export interface TargetVerdict {
  integration: string
  target: string
  up: boolean
}

/** How a worker takes part in probing (src/workers.ts); a single process probes alone. */
export interface ProbeCoordination {
  /** This process sends the probes from the start. */
  probing: boolean
  /** Hears every verdict this process's probes reach (a worker passes it on to the others). */
  onVerdict?: (verdict: TargetVerdict) => void
  /** Given the checks once they exist, to switch probing and deliver other workers' verdicts. */
  attach?: (checks: HealthChecks) => void
}

export interface HealthChecksOptions extends ProbeCoordination {
  logger: FastifyBaseLogger
  upstreamConnect?: UpstreamConnectOptions
}

const USER_AGENT = 'gerbang-health-check'

/** The probes of one target: a timer, a one-connection client, and the run of equal outcomes. */
class Prober {
  readonly health: TargetHealth
  settings: HealthCheckSettings
  readonly #client: Client
  readonly #checks: HealthChecks
  #timer: NodeJS.Timeout | undefined
  /** Outcomes in a row that disagree with the current verdict. */
  #streak = 0
  #stopped = false
  #inFlight = false

  constructor (
    health: TargetHealth, settings: HealthCheckSettings, checks: HealthChecks, connect: UpstreamConnectOptions
  ) {
    this.health = health
    this.settings = settings
    this.#checks = checks
    this.#client = new Client(health.origin, {
      connect: { ...connect, timeout: settings.timeoutMs },
      headersTimeout: settings.timeoutMs,
      bodyTimeout: settings.timeoutMs,
      keepAliveTimeout: settings.intervalMs + 1_000
    })
  }

  start (): void {
    // A probe under way schedules the next itself.
    if (this.#timer === undefined && !this.#stopped && !this.#inFlight) this.#timer = setTimeout(this.#probe, 0).unref()
  }

  /** Stops probing (another process probes now); the verdict stays as it is. */
  pause (): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  stop (): void {
    this.#stopped = true
    this.pause()
    this.#client.close().catch(() => { /* already closed */ })
  }

  readonly #probe = (): void => {
    this.#timer = undefined
    this.#inFlight = true
    const startedAt = performance.now()
    const { path, timeoutMs } = this.settings
    this.#client.request({
      method: 'GET',
      path,
      headers: { 'user-agent': USER_AGENT, accept: '*/*' },
      signal: AbortSignal.timeout(timeoutMs)
    }).then(async ({ statusCode, body }) => {
      await body.dump()
      this.#outcome(statusCode >= 200 && statusCode < 400, `answered ${statusCode}`, startedAt)
    }, (err: unknown) => {
      const code = (err as { code?: unknown }).code
      this.#outcome(false, typeof code === 'string' ? code : (err as Error).name, startedAt)
    })
  }

  #outcome (ok: boolean, detail: string, startedAt: number): void {
    this.#inFlight = false
    if (this.#stopped) return
    const { health, settings } = this
    if (ok === health.probedUp) {
      this.#streak = 0
    } else if (++this.#streak >= (ok ? settings.healthy : settings.unhealthy)) {
      this.#streak = 0
      health.probedUp = ok
      this.#checks.changed(health, detail, settings)
    }
    if (!this.#checks.probing) return
    // The next probe starts an interval after this one started, not after it ended.
    this.#timer = setTimeout(this.#probe, Math.max(0, startedAt + settings.intervalMs - performance.now())).unref()
  }
}

/** Every prober of the live routes table; `apply` follows reloads. */
export class HealthChecks {
  readonly #options: HealthChecksOptions
  readonly #probers = new Map<TargetHealth, Prober>()
  #probing: boolean

  constructor (options: HealthChecksOptions) {
    this.#options = options
    this.#probing = options.probing
    options.attach?.(this)
  }

  get probing (): boolean {
    return this.#probing
  }

  /**
   * Starts probes for the targets of a new table, keeps those of the targets
   * that stay (with their verdict and their run), stops the others. A target
   * whose integration no longer has a healthCheck counts as up again.
   */
  apply (table: RouteTable): void {
    const wanted = new Map<TargetHealth, HealthCheckSettings>()
    for (const route of table.routes) {
      const settings = route.integration.healthCheck
      for (const target of route.balancer.targets) {
        if (settings !== null) wanted.set(target.health, settings)
        else target.health.probedUp = true
      }
    }
    for (const [health, prober] of this.#probers) {
      if (wanted.has(health)) continue
      prober.stop()
      this.#probers.delete(health)
    }
    for (const [health, settings] of wanted) {
      const prober = this.#probers.get(health)
      if (prober !== undefined) {
        prober.settings = settings
        continue
      }
      const created = new Prober(health, settings, this, this.#options.upstreamConnect ?? {})
      this.#probers.set(health, created)
      if (this.#probing) created.start()
    }
  }

  /** With --workers: this process becomes (or stops being) the one that probes. */
  setProbing (probing: boolean): void {
    if (probing === this.#probing) return
    this.#probing = probing
    for (const prober of this.#probers.values()) {
      if (probing) prober.start()
      else prober.pause()
    }
  }

  /** A verdict reached by the probing worker. */
  receive (verdict: TargetVerdict): void {
    for (const prober of this.#probers.values()) {
      const { health } = prober
      if (health.integration !== verdict.integration || health.origin !== verdict.target ||
        health.probedUp === verdict.up) continue
      health.probedUp = verdict.up
    }
  }

  /** Every verdict this process holds, for a worker that (re)starts. */
  verdicts (): TargetVerdict[] {
    return [...this.#probers.keys()].map((h) => ({ integration: h.integration, target: h.origin, up: h.probedUp }))
  }

  changed (health: TargetHealth, detail: string, settings: HealthCheckSettings): void {
    const { logger, onVerdict } = this.#options
    const fields = { integration: health.integration, target: health.origin, path: settings.path, probe: detail }
    if (health.probedUp) logger.info({ ...fields, healthy: settings.healthy }, 'upstream target healthy: back in the balancing')
    else logger.warn({ ...fields, unhealthy: settings.unhealthy }, 'upstream target unhealthy: taken out of the balancing')
    onVerdict?.({ integration: health.integration, target: health.origin, up: health.probedUp })
  }

  close (): void {
    for (const prober of this.#probers.values()) prober.stop()
    this.#probers.clear()
  }
}
