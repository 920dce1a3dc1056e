import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { Rate } from '../config/units.js'
import { GerbangError } from '../errors.js'
import type { Store, WindowCounter, WindowState } from '../store/types.js'

// Per-client, per-integration limits (CONTRACT.md section 5). Counting is
// done in the store, atomically and in one round trip, so limits are exact
// across every gateway process sharing it. When the store cannot count, each
// process counts alone, with the limit divided by the number of processes
// that last announced themselves alive.

/** A named limit: `default` is the per-integration rate, `daily` the client's quota. */
export interface Policy {
  readonly name: string
  readonly rate: Rate
  /** `"default";q=60;w=60`, built once. */
  readonly header: string
}

export function policy (name: string, rate: Rate): Policy {
  return { name, rate, header: `"${name}";q=${rate.limit};w=${Math.ceil(rate.windowMs / 1000)}` }
}

export interface LimitResult {
  /** Headers for the response, as a flat [name, value, …] list. */
  headers: string[]
  /** Set when the request is over a limit. */
  error: GerbangError | undefined
}

export interface RateLimiterOptions {
  logger?: FastifyBaseLogger
  /** How often this process announces itself and learns how many are alive. */
  heartbeatMs?: number
}

const HEARTBEAT_MS = 2000

export class RateLimiter {
  readonly #store: Store
  readonly #logger: FastifyBaseLogger | undefined
  readonly #processId = randomUUID()
  readonly #heartbeatMs: number
  readonly #timer: NodeJS.Timeout
  #liveProcesses = 1
  #local = new Map<string, { count: number, resetAt: number }>()
  #fallingBack = false

  constructor (store: Store, options: RateLimiterOptions = {}) {
    this.#store = store
    this.#logger = options.logger
    this.#heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS
    this.#timer = setInterval(() => { this.#heartbeat() }, this.#heartbeatMs)
    this.#timer.unref()
    this.#heartbeat()
  }

  close (): void {
    clearInterval(this.#timer)
  }

  /** The processes counted as alive, for the local fallback (and tests). */
  get liveProcesses (): number {
    return this.#liveProcesses
  }

  /**
   * Counts a request of `partition` (a client id, or `ip:<address>` on open
   * integrations) against the policies, in order. Never waits on a store
   * that is down: the local fallback answers at once.
   */
  check (partition: string, integration: string, policies: readonly Policy[]): LimitResult | Promise<LimitResult> {
    const counters: WindowCounter[] = policies.map((p, i) => ({
      key: i === 0 ? integration : p.name,
      limit: p.rate.limit,
      windowMs: p.rate.windowMs
    }))
    if (!this.#store.isAvailable()) return this.#checkLocally(partition, counters, policies)
    return this.#store.consume(partition, counters).then((states) => {
      if (this.#fallingBack) {
        this.#fallingBack = false
        this.#local = new Map()
        this.#logger?.info('rate limits are counted in the store again')
      }
      return result(policies, states)
    }, () => this.#checkLocally(partition, counters, policies))
  }

  #checkLocally (partition: string, counters: WindowCounter[], policies: readonly Policy[]): LimitResult {
    if (!this.#fallingBack) {
      this.#fallingBack = true
      this.#logger?.warn({ liveProcesses: this.#liveProcesses },
        'the store cannot count requests: each process now limits alone, at its share of every limit')
    }
    const now = Date.now()
    let blocked = false
    const states = counters.map(({ key, limit, windowMs }) => {
      const name = `${partition}\u0000${key}`
      let window = this.#local.get(name)
      if (window === undefined || window.resetAt <= now) {
        window = { count: 0, resetAt: now + windowMs }
        this.#local.set(name, window)
      }
      const share = Math.max(1, Math.floor(limit / this.#liveProcesses))
      if (!blocked) {
        window.count++
        if (window.count > share) blocked = true
      }
      // Reported on the share's scale, so remaining and 429 agree.
      return { count: window.count + (limit - share), resetMs: window.resetAt - now }
    })
    if (this.#local.size > 100_000) this.#sweepLocal(now)
    return result(policies, states)
  }

  #sweepLocal (now: number): void {
    for (const [name, window] of this.#local) if (window.resetAt <= now) this.#local.delete(name)
  }

  #heartbeat (): void {
    this.#store.heartbeat(this.#processId, this.#heartbeatMs * 3).then((alive) => {
      this.#liveProcesses = Math.max(1, alive)
    }, () => { /* keep the last known number while the store is away */ })
  }
}

/** Headers and verdict for the counted states (CONTRACT.md section 5). */
function result (policies: readonly Policy[], states: readonly WindowState[]): LimitResult {
  let policyField = ''
  let limitField = ''
  let violated: string[] | undefined
  let retryAfter = 0
  // The X-RateLimit-* trio describes the policy closest to refusing.
  let tightest = 0
  let tightestRemaining = Infinity
  for (let i = 0; i < policies.length; i++) {
    const p = policies[i] as Policy
    const s = states[i] as WindowState
    const remaining = Math.max(0, p.rate.limit - s.count)
    const reset = Math.max(0, Math.ceil(s.resetMs / 1000))
    policyField += (i === 0 ? '' : ', ') + p.header
    limitField += `${i === 0 ? '' : ', '}"${p.name}";r=${remaining};t=${reset}`
    if (s.count > p.rate.limit) {
      (violated ??= []).push(p.name)
      retryAfter = Math.max(retryAfter, reset)
    }
    if (remaining < tightestRemaining) {
      tightest = i
      tightestRemaining = remaining
    }
  }
  const t = policies[tightest] as Policy
  const tReset = Math.max(0, Math.ceil((states[tightest] as WindowState).resetMs / 1000))
  const headers = [
    'ratelimit-policy', policyField,
    'ratelimit', limitField,
    'x-ratelimit-limit', String(t.rate.limit),
    'x-ratelimit-remaining', String(tightestRemaining),
    'x-ratelimit-reset', String(tReset)
  ]
  if (violated === undefined) return { headers, error: undefined }
  const headerObject: Record<string, string> = { 'retry-after': String(Math.max(1, retryAfter)) }
  for (let i = 0; i < headers.length; i += 2) headerObject[headers[i] as string] = headers[i + 1] as string
  return {
    headers,
    error: new GerbangError('RATE_LIMITED',
      `over the limit of ${violated.join(' and ')}; retry after ${Math.max(1, retryAfter)} s`,
      { violatedPolicies: violated }, headerObject)
  }
}
