import type { Dispatcher } from 'undici'
import type { FastifyRequest } from 'fastify'
import { classifyUpstreamError, errorSummary, upstreamErrorCode } from '../upstream-failure.js'
import { GerbangError } from '../errors.js'
import type { Route } from './route-table.js'
import type { Target } from './balancer.js'
import { backoffMs, isConnectionFailure, isReplayable } from './retry-policy.js'

/**
 * Where and when a forwarded request is sent: the first dispatch, another
 * target after a connection failure (failover), retries after a backoff,
 * and the one Node timer that holds the connect and response deadlines.
 * Forwarding (src/proxy/forwarding.ts) extends it with what happens to the
 * answer. A base class rather than a helper object, so a request allocates
 * one handler and nothing more.
 *
 * undici's own timers tick every half second, too coarse for "504 within the
 * timeout", hence the Node timer. The response deadline counts from the
 * first dispatch: a retry (the same handler dispatched again, after a
 * backoff held in that same timer slot) never moves it.
 */
/** attemptFailed's answer when the request went out again (failover, or a retry after its backoff). */
export const SENT_AGAIN = Symbol('sent again')

export abstract class UpstreamAttempts implements Dispatcher.DispatchHandler {
  protected readonly request: FastifyRequest
  protected readonly route: Route
  /** Dispatched again as they are for a retry. */
  protected readonly options: Dispatcher.DispatchOptions
  /** This request is the breaker's half-open probe. */
  protected readonly probe: boolean
  protected readonly startedAt: number
  /** When the current attempt was dispatched: its connect deadline counts from here. */
  protected attemptStartedAt: number
  protected retries = 0
  /** The target of the current attempt (src/proxy/balancer.ts). */
  protected target: Target
  /** Attempts sent to another target after a connection failure, without a backoff. */
  protected failovers = 0
  /** This attempt's connect deadline passed; undici's connect timeout is awaited to fail over. */
  protected connectGrace = false
  protected connected = false
  /** The deadline timer, or during a backoff the timer that starts the retry. */
  protected timer: NodeJS.Timeout | undefined

  constructor (
    request: FastifyRequest, route: Route, target: Target, options: Dispatcher.DispatchOptions, probe: boolean
  ) {
    this.request = request
    this.route = route
    this.options = options
    this.probe = probe
    this.target = target
    this.startedAt = performance.now()
    this.attemptStartedAt = this.startedAt
    const { connectTimeoutMs, timeoutMs } = route.integration
    this.setDeadline(Math.min(connectTimeoutMs, timeoutMs))
  }

  /** The deadline timer fired. */
  protected abstract onDeadline (): void
  /** No answer has started and the client is still there: a retry may go out. */
  protected abstract waiting (): boolean
  abstract onResponseError (controller: Dispatcher.DispatchController, err: Error): void

  protected dispatch (): void {
    this.target.pool.dispatch(this.options, this)
  }

  /** A new attempt starts now: its connect deadline, within what is left of the response deadline. */
  protected armForAttempt (): void {
    const { connectTimeoutMs, timeoutMs } = this.route.integration
    const now = performance.now()
    this.clearTimer()
    this.attemptStartedAt = now
    this.connected = false
    this.connectGrace = false
    this.setDeadline(Math.min(connectTimeoutMs, Math.max(0, this.startedAt + timeoutMs - now)))
  }

  // A static callback given the handler: no closure per request.
  static #deadlineReached (self: UpstreamAttempts): void {
    self.timer = undefined
    self.onDeadline()
  }

  protected setDeadline (ms: number): void {
    this.timer = setTimeout(UpstreamAttempts.#deadlineReached, ms, this)
  }

  protected clearTimer (): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
  }

  /**
   * The breaker hears of a failure to connect only when no other target is
   * up: one dead target of several is the balancer's business, not a
   * reason to cut the whole integration off.
   */
  protected breakerFailed (connectionFailed: boolean): void {
    if (connectionFailed && this.route.balancer.alternative(this.target) !== undefined) {
      this.route.breaker.released(this.probe)
    } else this.route.breaker.failed(this.probe, this.request.log)
  }

  #replayable (): boolean {
    return isReplayable(this.options, this.request.headers['idempotency-key'])
  }

  /** Another target that is up, when this request may still go to one (each target at most once); else undefined. */
  protected failoverTarget (): Target | undefined {
    const { balancer } = this.route
    if (this.failovers >= balancer.targets.length - 1 || !this.#replayable() || this.target.pool.closed) {
      return undefined
    }
    return balancer.alternative(this.target)
  }

  /**
   * After a connection failure, sends a replayable request at once to
   * another target that is up, within the deadline. Retries (`retries`,
   * with their backoff) come after, when no other target is left.
   */
  protected failover (err: Error, code: string): boolean {
    const { integration } = this.route
    const next = this.failoverTarget()
    if (next === undefined || performance.now() >= this.startedAt + integration.timeoutMs) return false
    this.request.log.info(
      { err: errorSummary(err), integration: integration.name, from: this.target.origin, to: next.origin },
      'upstream target failed; sending the request to another')
    this.failovers++
    const span = this.request.traceSpan
    if (span !== null) {
      span.attemptFailed('gerbang.upstream.failover', this.target.origin, code)
      span.retarget(next.origin, this.options.path)
    }
    this.target = next
    this.armForAttempt()
    this.dispatch()
    return true
  }

  /**
   * Schedules another attempt after a connection failure, when one is allowed:
   * retries left, a retryable failure, a request that can be sent again
   * as it is (idempotent or with an Idempotency-Key, and no body: the body
   * is a stream already consumed), and a backoff that ends before the deadline.
   */
  protected retry (code: string, err: Error): boolean {
    const { integration } = this.route
    if (this.retries >= integration.retries || !isConnectionFailure(code) ||
      // A streamed body is consumed; one kept whole for the plugins can be sent again.
      !this.#replayable() ||
      // A reload retired this table and closed its pools: the original error is the truthful answer.
      this.target.pool.closed) return false
    const delay = backoffMs(this.retries, Math.random())
    if (performance.now() + delay >= this.startedAt + integration.timeoutMs) return false
    this.retries++
    this.connected = false
    this.request.traceSpan?.attemptFailed('gerbang.upstream.retry', this.target.origin, code)
    this.timer = setTimeout(UpstreamAttempts.#backoffEnded, delay, this)
    this.request.log.info(
      { err: errorSummary(err), integration: integration.name, retry: this.retries, delayMs: Math.round(delay) },
      'upstream connection failed; retrying')
    return true
  }

  // A static function given the handler, not an arrow property: nothing is
  // allocated for retries on the requests that never need one.
  static #backoffEnded (self: UpstreamAttempts): void {
    self.timer = undefined
    if (!self.waiting()) return
    self.armForAttempt()
    // Whichever target is up now: the one that failed is out for its back-off.
    self.target = self.route.balancer.pick()
    self.request.traceSpan?.retarget(self.target.origin, self.options.path)
    self.dispatch()
  }

  /**
   * An attempt failed before the upstream answered: the request goes out
   * again when it may (SENT_AGAIN); otherwise the error the client gets,
   * with the breaker told, or undefined when the client left.
   */
  protected attemptFailed (err: Error): GerbangError | undefined | typeof SENT_AGAIN {
    const { breaker } = this.route
    if (err instanceof GerbangError) {
      breaker.released(this.probe)
      return err
    }
    const failure = classifyUpstreamError(err)
    const { name, timeoutMs, connectTimeoutMs } = this.route.integration
    if (failure.kind === 'client-closed') {
      breaker.released(this.probe)
      return undefined
    }
    const code = upstreamErrorCode(err)
    const connectionFailed = isConnectionFailure(code) || (failure.kind === 'timeout' && failure.phase === 'connect')
    if (connectionFailed) {
      this.target.health.connectionFailed(performance.now(), code, this.request.log)
      if (this.failover(err, code)) return SENT_AGAIN
    }
    if (failure.kind === 'timeout') {
      this.request.upstreamError = 'timeout'
      this.breakerFailed(connectionFailed)
      return new GerbangError('UPSTREAM_TIMEOUT', failure.phase === 'connect'
        ? `${name} did not accept a connection within ${connectTimeoutMs} ms`
        : `${name} did not answer within ${timeoutMs} ms`)
    }
    if (this.retry(code, err)) return SENT_AGAIN
    this.request.upstreamError = code
    const attempts = this.retries + this.failovers + 1
    this.request.log.info({ err: errorSummary(err), integration: name, attempts }, 'upstream unavailable')
    this.breakerFailed(connectionFailed)
    return new GerbangError('UPSTREAM_UNAVAILABLE', attempts === 1
      ? `${name} ${failure.reason}`
      : `${name} ${failure.reason} (${attempts} attempts)`)
  }
}
