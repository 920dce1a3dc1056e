import type { IncomingHttpHeaders } from 'node:http'
import { Readable } from 'node:stream'
import { buffer as readBody } from 'node:stream/consumers'
import type { Dispatcher } from 'undici'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { classifyUpstreamError, GerbangError, UpstreamCutOffError, upstreamErrorCode, upstreamStatusError } from '../errors.js'
import { sendProblem } from '../http/problem.js'
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.js'
import { pushCorsHeaders } from './cors.js'
import { isFailureStatus } from './circuit-breaker.js'
import type { Principal } from '../auth/authenticator.js'
import type { RouteTableHolder } from './route-tables.js'
import type { Route } from './route-table.js'
import type { Target } from './balancer.js'
import { pluginProblem, PluginRequest, REPLAY_BODY_LIMIT } from '../upstream-plugins/chain.js'
import { PluginStage } from './plugin-stage.js'
import { backoffMs, isConnectionFailure, isReplayable } from './retry-policy.js'

/**
 * Waiting: for the upstream's headers (plugins' onRequest hooks included).
 * Replaying: a plugin asked for another attempt; the answer's body is drained.
 * Buffering: a plugin transforms answers; the body is collected.
 * Streaming: the answer is going to the client. Done: nothing more to send.
 */
const enum State { Waiting, Replaying, Buffering, Streaming, Done }

/** One request on its way to an integration: everything the forwarder needs of it, in one object. */
export interface Exchange {
  readonly request: FastifyRequest
  readonly reply: FastifyReply
  readonly route: Route
  readonly holder: RouteTableHolder
  readonly principal: Principal | undefined
  /** The upstream path with its query string, already checked to be safe. */
  readonly path: string
  /** Headers the gateway adds to the client's response (rate limits). */
  readonly extraHeaders: string[]
  /** The socket's peer is a trusted proxy, whose X-Forwarded-For chain goes on. */
  readonly peerTrusted: boolean
}

/**
 * How long past an integration's connect deadline the forwarder waits for
 * undici's own connect timeout (which lets the request fail over to another
 * target) before it answers 504 itself. undici's timers have half a second's
 * resolution.
 */
const CONNECT_TIMEOUT_MARGIN_MS = 1_000

/**
 * While a slow client holds the upstream back (its response buffer full),
 * the silence is not the upstream's: the idle check looks again this often.
 */
const HELD_BACK_CHECK_MS = 250

/**
 * Given to an attempt's controller when the gateway has already answered
 * (a plugin failed, a buffered answer grew too large, the attempt started
 * after the request was done): the upstream's part is dropped, and the
 * error that undici hands back is ignored.
 */
const ANSWERED = new Error('the gateway has answered the request already')

/**
 * One request forwarded to its upstream: an undici dispatch handler that
 * streams the upstream's answer straight into the client's response, with
 * backpressure both ways and nothing buffered.
 *
 * undici's own timers tick every half second, too coarse for "504 within the
 * timeout", so the connect and response deadlines are one Node timer here.
 * The response deadline counts from the first dispatch: a retry (the same
 * handler dispatched again, after a backoff held in that same timer slot)
 * never moves it. Once the answer's headers are in, the same timer watches
 * its silences: more than the integration's idleTimeout between two chunks
 * (the time of the last one is all a chunk records) cuts the answer, so a
 * stream that keeps sending outlives `timeout`.
 *
 * Each request tells its integration's circuit breaker one outcome, once, as
 * it leaves the Waiting state: success or failure from the upstream's answer,
 * failure on a timeout or an unavailable upstream (after the retries), or
 * nothing (released) when the client left or its body was refused.
 */
class Forwarding implements Dispatcher.DispatchHandler {
  readonly #exchange: Exchange
  readonly #request: FastifyRequest
  readonly #route: Route
  /** Dispatched again as they are for a retry. */
  readonly #options: Dispatcher.DispatchOptions
  /** This request is the breaker's half-open probe. */
  readonly #probe: boolean
  readonly #startedAt: number
  /** When the current attempt was dispatched: its connect deadline counts from here. */
  #attemptStartedAt: number
  #retries = 0
  /** The target of the current attempt (src/proxy/balancer.ts). */
  #target: Target
  /** Attempts sent to another target after a connection failure, without a backoff. */
  #failovers = 0
  /** This attempt's connect deadline passed; undici's connect timeout is awaited to fail over. */
  #connectGrace = false
  #state = State.Waiting
  /** When the last chunk of the answer arrived (its headers, before the first). */
  #lastChunkAt = 0
  #connected = false
  /** The current attempt's undici controller (pause, resume, abort); undefined between attempts. */
  #controller: Dispatcher.DispatchController | undefined
  /** The deadline timer, or during a backoff the timer that starts the retry. */
  #timer: NodeJS.Timeout | undefined
  /** What the integration's plugins do with the request; undefined when it has none. */
  readonly #plugins: PluginStage | undefined

  constructor (exchange: Exchange, options: Dispatcher.DispatchOptions, probe: boolean, plugins: PluginStage | undefined) {
    const { request, reply, route } = exchange
    this.#exchange = exchange
    this.#request = request
    this.#route = route
    this.#options = options
    this.#probe = probe
    this.#plugins = plugins
    this.#target = route.balancer.pick()
    this.#startedAt = performance.now()
    this.#attemptStartedAt = this.#startedAt
    const { connectTimeoutMs, timeoutMs } = route.integration
    this.#timer = setTimeout(this.#onDeadline, Math.min(connectTimeoutMs, timeoutMs))
    reply.raw.once('close', this.#onClientClose)
  }

  /** Sends the first attempt of a request to an integration without plugins. */
  start (): void {
    this.#target.pool.dispatch(this.#options, this)
  }

  /** Sends the first attempt of a request to an integration with plugins, once they have prepared it. */
  startWithPlugins (): void {
    // The client may have left while its body was read.
    if (this.#state === State.Waiting) this.#runPlugins()
  }

  /** Runs the plugins' onRequest hooks, then dispatches what they made of the request. */
  #runPlugins (): void {
    (this.#plugins as PluginStage).prepare(
      (afterAwait) => { this.#dispatchPrepared(afterAwait) },
      (err) => { this.#pluginFailed(err) },
      () => this.#state === State.Waiting)
  }

  #dispatchPrepared (afterAwait: boolean): void {
    const plugins = this.#plugins as PluginStage
    this.#options.path = plugins.target()
    // Time went by in the plugins: the connect deadline counts from now.
    if (afterAwait || plugins.retried) this.#armForAttempt()
    this.#target.pool.dispatch(this.#options, this)
  }

  #armForAttempt (): void {
    const { connectTimeoutMs, timeoutMs } = this.#route.integration
    const now = performance.now()
    this.#clearTimer()
    this.#attemptStartedAt = now
    this.#connected = false
    this.#connectGrace = false
    this.#timer = setTimeout(this.#onDeadline, Math.min(connectTimeoutMs, Math.max(0, this.#startedAt + timeoutMs - now)))
  }

  #pluginFailed (err: unknown): void {
    if (this.#state === State.Done) return
    // Nothing reached the upstream, or it answered well: either way not the breaker's business.
    if (this.#state === State.Waiting || this.#state === State.Replaying) this.#route.breaker.released(this.#probe)
    this.#request.upstreamError = 'plugin'
    this.#finish(pluginProblem(this.#route.integration.name, err, this.#request.log))
    this.#controller?.abort(ANSWERED)
  }

  onRequestStart (controller: Dispatcher.DispatchController): void {
    this.#connected = true
    if (this.#state === State.Done) {
      controller.abort(ANSWERED)
      return
    }
    this.#controller = controller
  }

  onResponseStart (controller: Dispatcher.DispatchController, statusCode: number, parsed: IncomingHttpHeaders, statusText = ''): void {
    if (this.#state !== State.Waiting) return
    // undici hands over the header lines as they came (names' case, order,
    // repeats) beside the parsed object; the object is the fallback.
    const rawHeaders = Array.isArray(controller.rawHeaders) ? controller.rawHeaders : headerLines(parsed)
    const { integration, breaker } = this.#route
    const plugins = this.#plugins
    if (plugins !== undefined) {
      let again: boolean
      try {
        again = plugins.wantsReplay(statusCode, this.#options)
      } catch (err) {
        this.#pluginFailed(err)
        return
      }
      if (again) {
        // The deadline keeps running: the second attempt fits in the same timeout.
        this.#state = State.Replaying
        return
      }
    }
    const now = performance.now()
    this.#lastChunkAt = now
    const health = this.#target.health
    if (health.failures !== 0) health.answered(this.#request.log)
    // The deadline timer stays: from here it checks the answer's silences
    // (#onDeadline), so it must fire within idleTimeout. It fires by the
    // response deadline at the latest, which is soon enough unless
    // idleTimeout is the shorter of the two.
    if (this.#timer === undefined || this.#startedAt + integration.timeoutMs - now > integration.idleTimeoutMs) {
      this.#clearTimer()
      this.#timer = setTimeout(this.#onDeadline, integration.idleTimeoutMs)
    }
    this.#request.upstreamStatus = statusCode
    this.#request.upstreamMs = now - this.#startedAt
    if (isFailureStatus(statusCode)) breaker.failed(this.#probe, this.#request.log)
    else breaker.succeeded(this.#probe, this.#request.log)

    if (integration.upstreamErrors === 'normalize') {
      const code = upstreamStatusError(statusCode)
      if (code !== undefined) {
        // Its body is read and dropped (onResponseData ignores it once we are Done),
        // so the keep-alive connection stays reusable.
        this.#finish(new GerbangError(code, code === 'UPSTREAM_TIMEOUT'
          ? `${integration.name} answered 504: its own upstream timed out`
          : `${integration.name} answered ${statusCode}`, { upstreamStatus: statusCode }))
        return
      }
    }

    const headers = clientResponseHeaders(rawHeaders, this.#request.id, integration.cors !== null)
    if (plugins !== undefined && plugins.buffers(this.#options.method, statusCode)) {
      this.#state = State.Buffering
      plugins.startBuffering(statusCode, statusText, headers)
      return
    }

    const { reply } = this.#exchange
    this.#state = State.Streaming
    reply.hijack()
    this.#addGatewayHeaders(headers)
    reply.raw.writeHead(statusCode, statusText, headers)
  }

  /** The gateway's own response headers after the upstream's: limits, CORS, and Connection while draining. */
  #addGatewayHeaders (headers: string[]): void {
    const { extraHeaders, holder } = this.#exchange
    for (let i = 0; i < extraHeaders.length; i++) headers.push(extraHeaders[i] as string)
    pushCorsHeaders(headers, this.#request)
    // While draining, a kept-alive connection would hold the shutdown open.
    if (holder.closing) headers.push('connection', 'close')
  }

  onResponseData (controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#state === State.Buffering) {
      this.#lastChunkAt = performance.now()
      const tooLarge = (this.#plugins as PluginStage).addChunk(chunk)
      if (tooLarge !== undefined) {
        this.#finish(tooLarge)
        controller.abort(ANSWERED)
      }
      return
    }
    if (this.#state !== State.Streaming) return // discarded upstream error or replayed body
    this.#lastChunkAt = performance.now()
    this.#request.bytesOut += chunk.length
    const res = this.#exchange.reply.raw
    // Backpressure: the upstream waits while the client's buffer is full
    // (a listener only then: most answers fit in one write).
    if (!res.write(chunk)) {
      controller.pause()
      res.once('drain', () => { controller.resume() })
    }
  }

  onResponseEnd (): void {
    if (this.#state === State.Streaming) {
      this.#state = State.Done
      this.#clearTimer()
      this.#exchange.reply.raw.end()
    } else if (this.#state === State.Replaying) {
      this.#state = State.Waiting
      this.#controller = undefined
      ;(this.#plugins as PluginStage).replayed()
      this.#runPlugins()
    } else if (this.#state === State.Buffering) {
      this.#clearTimer()
      this.#transform()
    }
  }

  /** The whole answer is in: the plugins transform it, then it goes to the client in one write. */
  #transform (): void {
    this.#controller = undefined // the upstream's part is over
    ;(this.#plugins as PluginStage).transform().then((answer) => {
      if (this.#state !== State.Buffering) return // the client left meanwhile
      this.#state = State.Done
      this.#addGatewayHeaders(answer.headers)
      const { reply } = this.#exchange
      reply.hijack()
      this.#request.bytesOut += answer.body.length
      if (answer.statusText !== undefined) reply.raw.writeHead(answer.status, answer.statusText, answer.headers)
      else reply.raw.writeHead(answer.status, answer.headers)
      reply.raw.end(answer.body)
    }, (err: unknown) => {
      if (this.#state === State.Buffering) this.#pluginFailed(err)
    })
  }

  onResponseError (_controller: Dispatcher.DispatchController, err: Error): void {
    this.#clearTimer()
    if (this.#state === State.Done) return
    if (this.#state === State.Buffering) {
      // Nothing was sent yet: the client can still get a truthful answer.
      ;(this.#plugins as PluginStage).drop()
      this.#request.upstreamError = upstreamErrorCode(err)
      const failure = classifyUpstreamError(err)
      const { name } = this.#route.integration
      this.#finish(new GerbangError('UPSTREAM_UNAVAILABLE', `${name} ${failure.kind === 'unavailable' ? failure.reason : 'failed'} while sending its answer`))
      return
    }
    if (this.#state === State.Streaming) {
      // Headers are gone: nothing truthful can be sent, so the client must see
      // the connection break rather than a short body it would take as whole.
      this.#state = State.Done
      this.#request.log.warn({ err: errorSummary(err), integration: this.#route.integration.name },
        'upstream failed after the response started; client connection destroyed')
      const res = this.#exchange.reply.raw
      // Fastify writes the access line (and counts the request) on the
      // response's 'finish' or 'error'; a destroyed response only emits 'close'.
      this.#request.upstreamError = upstreamErrorCode(err)
      if (res.listenerCount('error') > 0) res.emit('error', new UpstreamCutOffError(this.#request.upstreamError))
      res.destroy()
      return
    }
    this.#controller = undefined // this attempt is over
    const { breaker } = this.#route
    if (err instanceof GerbangError) {
      breaker.released(this.#probe)
      this.#finish(err)
      return
    }
    const failure = classifyUpstreamError(err)
    const { name, timeoutMs, connectTimeoutMs } = this.#route.integration
    if (failure.kind === 'client-closed') {
      this.#state = State.Done
      breaker.released(this.#probe)
      return
    }
    const code = upstreamErrorCode(err)
    const connectionFailed = isConnectionFailure(code) || (failure.kind === 'timeout' && failure.phase === 'connect')
    if (connectionFailed) {
      this.#target.health.connectionFailed(performance.now(), code, this.#request.log)
      if (this.#failover(err)) return
    }
    if (failure.kind === 'timeout') {
      this.#request.upstreamError = 'timeout'
      this.#breakerFailed(connectionFailed)
      this.#finish(new GerbangError('UPSTREAM_TIMEOUT', failure.phase === 'connect'
        ? `${name} did not accept a connection within ${connectTimeoutMs} ms`
        : `${name} did not answer within ${timeoutMs} ms`))
      return
    }
    if (this.#retry(code, err)) return
    this.#request.upstreamError = code
    const attempts = this.#retries + this.#failovers + 1
    this.#request.log.info({ err: errorSummary(err), integration: name, attempts }, 'upstream unavailable')
    this.#breakerFailed(connectionFailed)
    this.#finish(new GerbangError('UPSTREAM_UNAVAILABLE', attempts === 1
      ? `${name} ${failure.reason}`
      : `${name} ${failure.reason} (${attempts} attempts)`))
  }

  /**
   * The breaker hears of a failure to connect only when no other target is
   * up: one dead target of several is the balancer's business, not a
   * reason to cut the whole integration off.
   */
  #breakerFailed (connectionFailed: boolean): void {
    if (connectionFailed && this.#route.balancer.alternative(this.#target) !== undefined) this.#route.breaker.released(this.#probe)
    else this.#route.breaker.failed(this.#probe, this.#request.log)
  }

  #replayable (): boolean {
    return isReplayable(this.#options, this.#request.headers['idempotency-key'])
  }

  /**
   * After a connection failure, sends a replayable request at once to
   * another target that is up (each target at most once), within the
   * deadline. Retries (`retries`, with their backoff) come after, when no
   * other target is left.
   */
  /** Another target that is up, when this request may still go to one (each target at most once); else undefined. */
  #failoverTarget (): Target | undefined {
    const { balancer } = this.#route
    if (this.#failovers >= balancer.targets.length - 1 || !this.#replayable() || this.#target.pool.closed) return undefined
    return balancer.alternative(this.#target)
  }

  #failover (err: Error): boolean {
    const { integration } = this.#route
    const next = this.#failoverTarget()
    if (next === undefined || performance.now() >= this.#startedAt + integration.timeoutMs) return false
    this.#request.log.info({ err: errorSummary(err), integration: integration.name, from: this.#target.origin, to: next.origin },
      'upstream target failed; sending the request to another')
    this.#failovers++
    this.#target = next
    this.#armForAttempt()
    next.pool.dispatch(this.#options, this)
    return true
  }

  /**
   * Schedules another attempt after a connection failure, when one is allowed:
   * retries left, a retryable failure, a request that can be sent again
   * as it is (idempotent or with an Idempotency-Key, and no body: the body
   * is a stream already consumed), and a backoff that ends before the deadline.
   */
  #retry (code: string, err: Error): boolean {
    const { integration } = this.#route
    if (this.#retries >= integration.retries || !isConnectionFailure(code) ||
      // A streamed body is consumed; one kept whole for the plugins can be sent again.
      !this.#replayable() ||
      // A reload retired this table and closed its pools: the original error is the truthful answer.
      this.#target.pool.closed) return false
    const delay = backoffMs(this.#retries, Math.random())
    if (performance.now() + delay >= this.#startedAt + integration.timeoutMs) return false
    this.#retries++
    this.#connected = false
    this.#timer = setTimeout(Forwarding.#backoffEnded, delay, this)
    this.#request.log.info({ err: errorSummary(err), integration: integration.name, retry: this.#retries, delayMs: Math.round(delay) },
      'upstream connection failed; retrying')
    return true
  }

  // A static function given the handler, not an arrow property: nothing is
  // allocated for retries on the requests that never need one.
  static #backoffEnded (self: Forwarding): void {
    self.#timer = undefined
    if (self.#state !== State.Waiting) return
    self.#armForAttempt()
    // Whichever target is up now: the one that failed is out for its back-off.
    self.#target = self.#route.balancer.pick()
    self.#target.pool.dispatch(self.#options, self)
  }

  #finish (error: GerbangError): void {
    this.#state = State.Done
    this.#clearTimer()
    sendProblem(this.#request, this.#exchange.reply, error)
  }

  #clearTimer (): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
  }

  readonly #onDeadline = (): void => {
    this.#timer = undefined
    if (this.#state === State.Streaming || this.#state === State.Buffering) {
      this.#checkIdle()
      return
    }
    if (this.#state !== State.Waiting && this.#state !== State.Replaying) return
    const { name, connectTimeoutMs, timeoutMs } = this.#route.integration
    const elapsed = performance.now() - this.#startedAt
    let error: GerbangError
    if (this.#plugins?.pending === true) {
      if (elapsed < timeoutMs) {
        this.#timer = setTimeout(this.#onDeadline, timeoutMs - elapsed)
        return
      }
      const plugin = (this.#plugins as PluginStage).running
      this.#route.breaker.released(this.#probe)
      this.#request.upstreamError = 'plugin'
      this.#finish(new GerbangError('UPSTREAM_TIMEOUT', `${name}: the ${plugin} plugin did not finish within ${timeoutMs} ms`, { plugin }))
      return
    }
    // The timer was set for the attempt's connect deadline or the response
    // deadline, whichever came first; not connected, with the connect deadline
    // first, it was the connect deadline.
    if (!this.#connected && this.#attemptStartedAt - this.#startedAt + connectTimeoutMs <= timeoutMs) {
      // Another target could take the request: undici's own connect timeout,
      // due now, fails this attempt (onResponseError) and the request moves on.
      if (!this.#connectGrace && this.#failoverTarget() !== undefined && elapsed < timeoutMs) {
        this.#connectGrace = true
        this.#timer = setTimeout(this.#onDeadline, Math.min(CONNECT_TIMEOUT_MARGIN_MS, timeoutMs - elapsed))
        return
      }
      error = new GerbangError('UPSTREAM_TIMEOUT', `${name} did not accept a connection within ${connectTimeoutMs} ms`)
    } else if (elapsed < timeoutMs) {
      // The connect deadline passed with the connection up: wait for the rest of the response deadline.
      this.#timer = setTimeout(this.#onDeadline, timeoutMs - elapsed)
      return
    } else {
      error = new GerbangError('UPSTREAM_TIMEOUT', `${name} did not answer within ${timeoutMs} ms`)
    }
    this.#request.upstreamError = 'timeout'
    this.#route.breaker.failed(this.#probe, this.#request.log)
    this.#finish(error)
    this.#controller?.abort(error)
  }

  /**
   * The timer fired while the answer is coming: past idleTimeout without a
   * chunk, the answer is cut; otherwise the timer is set for the end of the
   * current silence. A buffered answer can still become a 504; a streamed
   * one has its headers out, so the client's connection is destroyed
   * (a short body must not pass for a whole one).
   */
  #checkIdle (): void {
    const { name, idleTimeoutMs } = this.#route.integration
    const now = performance.now()
    const res = this.#exchange.reply.raw
    if (this.#state === State.Streaming && res.writableNeedDrain) {
      // The client is not reading: the gateway is holding the upstream back.
      this.#lastChunkAt = now
      this.#timer = setTimeout(this.#onDeadline, Math.min(idleTimeoutMs, HELD_BACK_CHECK_MS))
      return
    }
    const silentMs = now - this.#lastChunkAt
    if (silentMs < idleTimeoutMs) {
      this.#timer = setTimeout(this.#onDeadline, idleTimeoutMs - silentMs)
      return
    }
    const error = new GerbangError('UPSTREAM_TIMEOUT', `${name} sent nothing for ${idleTimeoutMs} ms (idleTimeout) while sending its answer`)
    this.#request.upstreamError = 'idle_timeout'
    if (this.#state === State.Buffering) {
      ;(this.#plugins as PluginStage).drop()
      this.#finish(error)
      this.#controller?.abort(error)
      return
    }
    this.#state = State.Done
    this.#request.log.warn({ integration: name, idleMs: idleTimeoutMs, silentMs: Math.round(silentMs) },
      'upstream sent nothing for idleTimeout while streaming its answer; client connection destroyed')
    // As in onResponseError: the access line and the metrics come from the response's 'error'.
    if (res.listenerCount('error') > 0) res.emit('error', new UpstreamCutOffError('idle_timeout'))
    res.destroy()
    this.#controller?.abort(error)
  }

  readonly #onClientClose = (): void => {
    // 'close' also follows a normal finish; only an early close matters here.
    if (this.#state === State.Done) return
    // Still waiting (a backoff included): the upstream has not said anything.
    if (this.#state === State.Waiting || this.#state === State.Replaying) this.#route.breaker.released(this.#probe)
    this.#state = State.Done
    this.#clearTimer()
    this.#request.clientClosed = true
    // No access line follows (the response neither finished nor failed): the spans end here.
    this.#request.traceSpan?.end(this.#request, 0, undefined)
    this.#controller?.abort(new ClientClosedError())
  }
}

class ClientClosedError extends Error {
  readonly code = 'UND_ERR_ABORTED'
  constructor () {
    super('client closed the connection')
  }
}

/** Logs an upstream error by its code and message, never its stack or request options. */
function errorSummary (err: Error): { code: unknown, message: string, cause?: unknown } {
  const cause = (err as { cause?: { code?: unknown, message?: unknown } }).cause
  return {
    code: (err as { code?: unknown }).code,
    message: err.message,
    ...(cause !== undefined ? { cause: { code: cause.code, message: cause.message } } : {})
  }
}

/** A chunked request body that counts its bytes and fails once it passes the limit. */
async function * limitedBody (body: Readable, limit: number, name: string): AsyncGenerator<Buffer> {
  let size = 0
  for await (const chunk of body) {
    size += (chunk as Buffer).length
    if (size > limit) {
      throw new GerbangError('PAYLOAD_TOO_LARGE', `the request body is larger than ${limit} bytes, the limit for ${name}`)
    }
    yield chunk as Buffer
  }
}

/** A parsed header object as header lines, for an undici that gave no raw ones. */
function headerLines (parsed: IncomingHttpHeaders): string[] {
  const lines: string[] = []
  for (const name in parsed) {
    const value = parsed[name]
    if (Array.isArray(value)) for (const v of value) lines.push(name, v)
    else if (value !== undefined) lines.push(name, value)
  }
  return lines
}

/** Sets content-length in a flat [name, value, …] header array (a re-sent body's own length). */
function withContentLength (headers: string[], length: number): void {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === 'content-length') {
      headers[i + 1] = String(length)
      return
    }
  }
  headers.push('content-length', String(length))
}

/** Forwards a request to its route's upstream. */
export function forward (exchange: Exchange): void {
  const { request, reply, route, path, principal, peerTrusted } = exchange
  const req = request.raw
  const { integration, breaker } = route
  const method = req.method as Dispatcher.HttpMethod
  const length = req.headers['content-length']
  if (length !== undefined && Number(length) > integration.bodyLimit) {
    sendProblem(request, reply, new GerbangError('PAYLOAD_TOO_LARGE',
      `the request body is ${length} bytes; ${integration.name} accepts at most ${integration.bodyLimit}`))
    return
  }
  const admission = breaker.admit(request.log)
  if (admission === 'reject') {
    sendProblem(request, reply, breaker.refusal())
    return
  }
  let body: Readable | Buffer | null = null
  // apiKeyForm: the form body was read whole and its key field taken out (src/proxy/api-key-form.ts).
  const formBody = request.formBody
  if (formBody !== null) {
    if (formBody.length > integration.bodyLimit) {
      sendProblem(request, reply, new GerbangError('PAYLOAD_TOO_LARGE',
        `the request body is ${formBody.length} bytes; ${integration.name} accepts at most ${integration.bodyLimit}`))
      return
    }
    body = formBody
  } else if (length !== undefined) {
    if (length !== '0') body = req
  } else if (req.headers['transfer-encoding'] !== undefined) {
    body = Readable.from(limitedBody(req, integration.bodyLimit, integration.name), { objectMode: false })
  }

  // The gateway's span is the upstream's parent: with a recorded trace, the CLIENT span of this call.
  const span = request.traceSpan
  const traceparent = span === null ? request.traceparent : span.upstream(method, integration.origin, path)
  const headers = upstreamRequestHeaders(req, request.id, request.protocol, peerTrusted, traceparent, principal)
  if (formBody !== null) withContentLength(headers, formBody.length)
  const options: Dispatcher.DispatchOptions = {
    method,
    path,
    headers,
    body,
    // Pipelining a non-idempotent request over a reused socket is unsafe; one at a time.
    blocking: false,
    reset: false
  }
  const probe = admission === 'probe'
  if (route.plugins === null) {
    new Forwarding(exchange, options, probe, undefined).start()
    return
  }
  const plugins = new PluginStage(route.plugins, new PluginRequest(integration.name, method, path, headers, principal?.id))
  const forwarding = new Forwarding(exchange, options, probe, plugins)
  // A plugin may ask to send the request again (a fresh token after a 401):
  // a small body is kept for that; a larger one streams and is sent once.
  if (route.plugins.retries && body === req && Number(length) <= REPLAY_BODY_LIMIT) {
    readBody(req).then((whole) => {
      options.body = whole
      forwarding.startWithPlugins()
    }, () => { /* the client went away: Forwarding saw the close */ })
  } else {
    forwarding.startWithPlugins()
  }
}
