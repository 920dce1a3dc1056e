import type { FastifyBaseLogger } from 'fastify'
import type { Pool } from 'undici'
import type { Integration } from '../config/routes-loader.js'

// Several upstream targets per integration (docs/contract.md section 14).
//
// Why not undici's BalancedPool: it lowers a failing upstream's weight
// gradually but never takes it out, cannot tell the caller which target a
// request went to (so a retry cannot go to *another* one), and knows nothing
// of health probes. Here each target keeps its own keep-alive Pool and the
// choice is a smooth weighted round robin (nginx's) over the targets that
// are up: a loop over a handful of objects, nothing allocated.

/** A target that failed to connect (or was reset) is out this long, doubling with each failure in a row. */
const PASSIVE_OUT_BASE_MS = 2_000
const PASSIVE_OUT_MAX_MS = 30_000

/**
 * What the gateway knows of one target's health. Kept across routes
 * reloads while the target stays (src/proxy/health-checks.ts hands the same
 * object to the new table), so a reload neither forgets a dead target nor
 * re-probes a healthy one from scratch.
 */
export class TargetHealth {
  readonly integration: string
  readonly origin: string
  /** The active probes' verdict; true without `healthCheck`, and until the probes say otherwise. */
  probedUp = true
  /** Connection failures in a row (passive), and until when (performance.now()) the target is out for them. */
  failures = 0
  outUntil = 0

  constructor (integration: string, origin: string) {
    this.integration = integration
    this.origin = origin
  }

  /** Takes requests: the probes say up and no passive back-off is running. */
  up (now: number): boolean {
    return this.probedUp && now >= this.outUntil
  }

  /** The target refused, reset or timed out a connection: out for a back-off that doubles while it keeps failing. */
  connectionFailed (now: number, code: string, log: FastifyBaseLogger): void {
    this.failures++
    const outMs = Math.min(PASSIVE_OUT_BASE_MS * 2 ** (this.failures - 1), PASSIVE_OUT_MAX_MS)
    this.outUntil = now + outMs
    if (this.failures === 1) {
      log.warn({ integration: this.integration, target: this.origin, code, outMs }, 'upstream target failed; taken out of the balancing')
    }
  }

  /** The target answered: a passive back-off, if any, ends. */
  answered (log: FastifyBaseLogger): void {
    if (this.failures === 0) return
    log.info({ integration: this.integration, target: this.origin, failures: this.failures }, 'upstream target answers again')
    this.failures = 0
    this.outUntil = 0
  }
}

/** One upstream server of an integration: its pool of keep-alive connections, its share and its health. */
export class Target {
  readonly origin: string
  readonly weight: number
  readonly pool: Pool
  readonly health: TargetHealth
  /** The smooth round robin's running score. */
  current = 0

  constructor (origin: string, weight: number, pool: Pool, health: TargetHealth) {
    this.origin = origin
    this.weight = weight
    this.pool = pool
    this.health = health
  }
}

/** Spreads an integration's requests over its targets. */
export class Balancer {
  readonly targets: readonly Target[]
  readonly #single: Target | undefined
  /** Where the last resort (every target down) starts its round. */
  #next = 0

  constructor (targets: readonly Target[]) {
    if (targets.length === 0) throw new Error('an integration needs at least one upstream target')
    this.targets = targets
    this.#single = targets.length === 1 ? targets[0] : undefined
  }

  /** The target for the next request (or attempt). */
  pick (): Target {
    if (this.#single !== undefined) return this.#single
    // The clock is read only when some target has been out (the rare case).
    let now = 0
    const targets = this.targets
    let best: Target | undefined
    let total = 0
    for (let i = 0; i < targets.length; i++) {
      const target = targets[i] as Target
      const { health } = target
      if (!health.probedUp) continue
      if (health.outUntil !== 0) {
        if (now === 0) now = performance.now()
        if (now < health.outUntil) continue
      }
      target.current += target.weight
      total += target.weight
      if (best === undefined || target.current > best.current) best = target
    }
    if (best === undefined) return this.#lastResort()
    best.current -= total
    return best
  }

  /**
   * Another target that is up, for a request whose target just failed to
   * connect; undefined when there is none (the caller then keeps to its own
   * retry rules, on whatever `pick` gives).
   */
  alternative (failed: Target): Target | undefined {
    if (this.#single !== undefined) return undefined
    const now = performance.now()
    let best: Target | undefined
    for (const target of this.targets) {
      if (target === failed || !target.health.up(now)) continue
      if (best === undefined || target.current > best.current) best = target
    }
    return best
  }

  /**
   * Every target is out. Failing open beats refusing: the probes may be
   * wrong (a health path that broke alone), and the circuit breaker, not
   * the balancer, decides when an integration stops taking requests. The
   * probed-up target whose back-off ends first goes first; if the probes
   * say every one is down, they take turns.
   */
  #lastResort (): Target {
    let soonest: Target | undefined
    for (const target of this.targets) {
      if (!target.health.probedUp) continue
      if (soonest === undefined || target.health.outUntil < soonest.health.outUntil) soonest = target
    }
    if (soonest !== undefined) return soonest
    this.#next = (this.#next + 1) % this.targets.length
    return this.targets[this.#next] as Target
  }

  async close (): Promise<void> {
    await Promise.all(this.targets.map(async (t) => { await t.pool.close() }))
  }
}

/**
 * The health of every target of every integration, by integration and
 * origin; a new routes table takes the objects of the targets that stay.
 */
export class TargetHealthRegistry {
  readonly #byKey = new Map<string, TargetHealth>()

  get (integration: string, origin: string): TargetHealth {
    const key = integration + '\n' + origin
    let health = this.#byKey.get(key)
    if (health === undefined) {
      health = new TargetHealth(integration, origin)
      this.#byKey.set(key, health)
    }
    return health
  }

  /** Forgets the targets no longer in the routes. */
  retain (integrations: readonly Integration[]): void {
    const keep = new Set<string>()
    for (const integration of integrations) {
      for (const target of integration.targets) keep.add(integration.name + '\n' + target.origin)
    }
    for (const key of this.#byKey.keys()) if (!keep.has(key)) this.#byKey.delete(key)
  }

  find (integration: string, origin: string): TargetHealth | undefined {
    return this.#byKey.get(integration + '\n' + origin)
  }
}

/** One target as /readyz, the admin dashboard and logs show it. */
export interface TargetState {
  target: string
  weight: number
  state: 'up' | 'down'
  /** Why it is down: its health check fails, or it refused or reset connections (out for a back-off). */
  reason?: 'health check' | 'connection failures'
}

/** Every integration's targets and whether each takes requests now. */
export function targetStates (
  holder: { table: { routes: ReadonlyArray<{ integration: { name: string }, balancer: Balancer }> } }
): Record<string, TargetState[]> {
  const now = performance.now()
  const states: Record<string, TargetState[]> = {}
  for (const route of holder.table.routes) {
    states[route.integration.name] = route.balancer.targets.map(({ origin, weight, health }) => {
      if (health.up(now)) return { target: origin, weight, state: 'up' }
      return { target: origin, weight, state: 'down', reason: health.probedUp ? 'connection failures' : 'health check' }
    })
  }
  return states
}
