import type { FastifyBaseLogger } from 'fastify'
import type { CircuitBreakerSettings } from '../config/routes-loader.js'
import { GerbangError } from '../errors.js'

export type BreakerState = 'closed' | 'open' | 'half-open'

/** What the breaker says about one request about to be forwarded. */
export type Admission = 'pass' | 'probe' | 'reject'

/** Where state changes are logged: the request's logger that caused the change. */
export type BreakerLog = Pick<FastifyBaseLogger, 'warn' | 'info'>

// Numbers inside, names outside: the hot path compares small integers.
const CLOSED = 0
const OPEN = 1
const HALF_OPEN = 2
const NAMES: readonly BreakerState[] = ['closed', 'open', 'half-open']
// performance.now checks its receiver, so it is bound once here.
const monotonic = performance.now.bind(performance)

/**
 * Upstream answers that say the upstream is failing, not the request: 500,
 * 502, 503 and 504. 501 and 505+ say the same thing every time and are the
 * request's business, like 4xx.
 */
export function isFailureStatus (status: number): boolean {
  return status === 500 || (status >= 502 && status <= 504)
}

/**
 * One integration's circuit breaker. Closed, every request passes and
 * `failures` consecutive upstream failures open it. Open, every request is
 * refused at once (503 UPSTREAM_CIRCUIT_OPEN) for `openFor`. Then half-open:
 * the next request goes through as the one probe while the others are still
 * refused; the probe's success closes the breaker, its failure opens it for
 * another `openFor`.
 *
 * Each forwarded request reports exactly one outcome, once, after its
 * retries: `succeeded`, `failed`, or `released` (it ended without saying
 * anything about the upstream: the client left, its body was too large).
 * Outcomes of requests let through before the breaker opened are ignored
 * while it is open or half-open: only the probe decides.
 *
 * No timer: the open → half-open change is noticed by the first request
 * after `openFor` (and by `state`, so /readyz and /metrics show it on time).
 */
export class CircuitBreaker {
  readonly integration: string
  /** False with `circuitBreaker: off`: always closed, never opens. */
  readonly enabled: boolean
  /** Consecutive failures that open the breaker. */
  readonly threshold: number
  readonly openForMs: number
  #state = CLOSED
  #failures = 0
  #opens = 0
  /** The clock reading at which an open breaker lets a probe through. */
  #openUntil = 0
  #probing = false
  #probeStartedAt = 0
  /** A probe unheard of for this long is taken as lost (a safety net; every request reports). */
  readonly #probeLostAfterMs: number

  /** A monotonic clock in milliseconds: performance.now unless told. */
  readonly #now: () => number

  /**
   * @param settings the integration's `circuitBreaker`, null when it is off
   * @param timeoutMs the integration's timeout: a probe has its answer by then
   * @param options.now the clock `openFor` is measured by; unit tests pass one they move by hand
   */
  constructor (
    integration: string, settings: CircuitBreakerSettings | null, timeoutMs: number,
    options: { now?: () => number } = {}
  ) {
    this.#now = options.now ?? monotonic
    this.integration = integration
    this.enabled = settings !== null
    this.threshold = settings?.failures ?? Infinity
    this.openForMs = settings?.openForMs ?? 0
    this.#probeLostAfterMs = timeoutMs + 1000
  }

  get state (): BreakerState {
    if (this.#state === OPEN && this.#now() >= this.#openUntil) return 'half-open'
    return NAMES[this.#state] as BreakerState
  }

  /** Times the breaker opened since it was built (a failed probe opens it again). */
  get opens (): number {
    return this.#opens
  }

  /** Consecutive upstream failures counted while closed. */
  get failures (): number {
    return this.#failures
  }

  /** Called once per request, just before it would be dispatched. */
  admit (log: BreakerLog): Admission {
    if (this.#state === CLOSED) return 'pass'
    const now = this.#now()
    if (this.#state === OPEN) {
      if (now < this.#openUntil) return 'reject'
      this.#state = HALF_OPEN
      this.#probing = false
    }
    if (this.#probing && now - this.#probeStartedAt < this.#probeLostAfterMs) return 'reject'
    this.#probing = true
    this.#probeStartedAt = now
    log.info({ integration: this.integration }, 'circuit breaker half-open: one probe request goes to the upstream')
    return 'probe'
  }

  /** The upstream answered with a status that is not a failure. */
  succeeded (probe: boolean, log: BreakerLog): void {
    if (probe) {
      if (this.#state !== HALF_OPEN) return
      this.#state = CLOSED
      this.#failures = 0
      this.#probing = false
      log.info({ integration: this.integration, breaker: 'closed' }, 'circuit breaker closed: the probe request succeeded')
      return
    }
    if (this.#state === CLOSED) this.#failures = 0
  }

  /** The request ended in an upstream failure (after its retries). */
  failed (probe: boolean, log: BreakerLog): void {
    if (probe) {
      if (this.#state !== HALF_OPEN) return
      this.#open()
      log.warn({ integration: this.integration, breaker: 'open', openForMs: this.openForMs },
        `circuit breaker open again: the probe request failed; refusing requests for ${this.openForMs} ms`)
      return
    }
    if (this.#state !== CLOSED || !this.enabled) return
    const failures = ++this.#failures
    if (failures < this.threshold) return
    this.#open()
    log.warn({ integration: this.integration, breaker: 'open', failures, openForMs: this.openForMs },
      `circuit breaker open after ${failures} consecutive upstream failures; refusing requests for ${this.openForMs} ms`)
  }

  /** The request ended without a verdict on the upstream. */
  released (probe: boolean): void {
    if (probe && this.#state === HALF_OPEN) this.#probing = false
  }

  /** The answer to a refused request: 503 with Retry-After, the seconds until the next probe (at least 1). */
  refusal (): GerbangError {
    const { integration } = this
    if (this.#state === OPEN) {
      const seconds = Math.max(1, Math.ceil((this.#openUntil - this.#now()) / 1000))
      return new GerbangError('UPSTREAM_CIRCUIT_OPEN',
        `${integration} is unavailable: its circuit breaker opened after repeated upstream failures; the gateway tries it again in ${seconds} s`,
        undefined, { 'retry-after': String(seconds) })
    }
    return new GerbangError('UPSTREAM_CIRCUIT_OPEN',
      `${integration} is unavailable: its circuit breaker is letting one trial request through to the upstream; retry in 1 s`,
      undefined, { 'retry-after': '1' })
  }

  #open (): void {
    this.#state = OPEN
    this.#openUntil = this.#now() + this.openForMs
    this.#probing = false
    this.#failures = 0
    this.#opens++
  }
}
