import type { IncomingHttpHeaders } from 'node:http'
import type { Dispatcher } from 'undici'
import { GerbangError } from '../errors.js'
import {
  classifyUpstreamError, ClientClosedError, errorSummary, UpstreamCutOffError, upstreamErrorCode, upstreamStatusError
} from '../upstream-failure.js'
import { sendProblem } from '../http/problem.js'
import { clientResponseHeaders, headerLines } from './headers.js'
import { pushCorsHeaders } from './cors.js'
import { isFailureStatus } from './circuit-breaker.js'
import { pluginProblem } from '../upstream-plugins/chain.js'
import type { PluginStage } from './plugin-stage.js'
import type { Exchange } from './exchange.js'
import type { Target } from './balancer.js'
import { SENT_AGAIN, UpstreamAttempts } from './upstream-attempts.js'

/**
 * Waiting: for the upstream's headers (plugins' onRequest hooks included).
 * Replaying: a plugin asked for another attempt; the answer's body is drained.
 * Buffering: a plugin transforms answers; the body is collected.
 * Streaming: the answer is going to the client. Done: nothing more to send.
 */
const enum State { Waiting, Replaying, Buffering, Streaming, Done }

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
 * Failover, retries and the deadline timer are UpstreamAttempts'
 * (src/proxy/upstream-attempts.ts). Once the answer's headers are in, the
 * deadline timer watches
 * its silences: more than the integration's idleTimeout between two chunks
 * (the time of the last one is all a chunk records) cuts the answer, so a
 * stream that keeps sending outlives `timeout`.
 *
 * Each request tells its integration's circuit breaker one outcome, once, as
 * it leaves the Waiting state: success or failure from the upstream's answer,
 * failure on a timeout or an unavailable upstream (after the retries), or
 * nothing (released) when the client left or its body was refused.
 */
export class Forwarding extends UpstreamAttempts {
  readonly #exchange: Exchange
  #state = State.Waiting
  /** When the last chunk of the answer arrived (its headers, before the first). */
  #lastChunkAt = 0
  /** The current attempt's undici controller (pause, resume, abort); undefined between attempts. */
  #controller: Dispatcher.DispatchController | undefined
  /** What the integration's plugins do with the request; undefined when it has none. */
  readonly #plugins: PluginStage | undefined

  constructor (
    exchange: Exchange, target: Target, options: Dispatcher.DispatchOptions, probe: boolean,
    plugins: PluginStage | undefined
  ) {
    super(exchange.request, exchange.route, target, options, probe)
    this.#exchange = exchange
    this.#plugins = plugins
    exchange.reply.raw.once('close', this.#onClientClose)
  }

  protected waiting (): boolean {
    return this.#state === State.Waiting
  }

  /** Sends the first attempt of a request to an integration without plugins. */
  start (): void {
    this.dispatch()
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
    this.options.path = plugins.target()
    // Time went by in the plugins: the connect deadline counts from now.
    if (afterAwait || plugins.retried) this.armForAttempt()
    this.dispatch()
  }

  #pluginFailed (err: unknown): void {
    if (this.#state === State.Done) return
    // Nothing reached the upstream, or it answered well: either way not the breaker's business.
    if (this.#state === State.Waiting || this.#state === State.Replaying) this.route.breaker.released(this.probe)
    this.request.upstreamError = 'plugin'
    this.#finish(pluginProblem(this.route.integration.name, err, this.request.log))
    this.#controller?.abort(ANSWERED)
  }

  onRequestStart (controller: Dispatcher.DispatchController): void {
    this.connected = true
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
    const { integration, breaker } = this.route
    const plugins = this.#plugins
    if (plugins !== undefined) {
      let again: boolean
      try {
        again = plugins.wantsReplay(statusCode, this.options)
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
    const health = this.target.health
    if (health.failures !== 0) health.answered(this.request.log)
    // The deadline timer stays: from here it checks the answer's silences
    // (#onDeadline), so it must fire within idleTimeout. It fires by the
    // response deadline at the latest, which is soon enough unless
    // idleTimeout is the shorter of the two.
    if (this.timer === undefined || this.startedAt + integration.timeoutMs - now > integration.idleTimeoutMs) {
      this.clearTimer()
      this.setDeadline(integration.idleTimeoutMs)
    }
    this.request.upstreamStatus = statusCode
    this.request.upstreamMs = now - this.startedAt
    if (isFailureStatus(statusCode)) breaker.failed(this.probe, this.request.log)
    else breaker.succeeded(this.probe, this.request.log)

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

    const headers = clientResponseHeaders(rawHeaders, this.request.id, integration.cors !== null)
    if (plugins !== undefined && plugins.buffers(this.options.method, statusCode)) {
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
    pushCorsHeaders(headers, this.request)
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
    this.request.bytesOut += chunk.length
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
      this.clearTimer()
      this.#exchange.reply.raw.end()
    } else if (this.#state === State.Replaying) {
      this.#state = State.Waiting
      this.#controller = undefined
      ;(this.#plugins as PluginStage).replayed()
      this.#runPlugins()
    } else if (this.#state === State.Buffering) {
      this.clearTimer()
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
      this.request.bytesOut += answer.body.length
      if (answer.statusText !== undefined) reply.raw.writeHead(answer.status, answer.statusText, answer.headers)
      else reply.raw.writeHead(answer.status, answer.headers)
      reply.raw.end(answer.body)
    }, (err: unknown) => {
      if (this.#state === State.Buffering) this.#pluginFailed(err)
    })
  }

  onResponseError (_controller: Dispatcher.DispatchController, err: Error): void {
    this.clearTimer()
    if (this.#state === State.Done) return
    if (this.#state === State.Buffering) {
      // Nothing was sent yet: the client can still get a truthful answer.
      ;(this.#plugins as PluginStage).drop()
      this.request.upstreamError = upstreamErrorCode(err)
      const failure = classifyUpstreamError(err)
      const { name } = this.route.integration
      this.#finish(new GerbangError('UPSTREAM_UNAVAILABLE', `${name} ${failure.kind === 'unavailable' ? failure.reason : 'failed'} while sending its answer`))
      return
    }
    if (this.#state === State.Streaming) {
      // Headers are gone: nothing truthful can be sent, so the client must see
      // the connection break rather than a short body it would take as whole.
      this.#state = State.Done
      this.request.log.warn({ err: errorSummary(err), integration: this.route.integration.name },
        'upstream failed after the response started; client connection destroyed')
      const res = this.#exchange.reply.raw
      // Fastify writes the access line (and counts the request) on the
      // response's 'finish' or 'error'; a destroyed response only emits 'close'.
      this.request.upstreamError = upstreamErrorCode(err)
      if (res.listenerCount('error') > 0) res.emit('error', new UpstreamCutOffError(this.request.upstreamError))
      res.destroy()
      return
    }
    this.#controller = undefined // this attempt is over
    const outcome = this.attemptFailed(err)
    if (outcome === SENT_AGAIN) return
    if (outcome === undefined) this.#state = State.Done
    else this.#finish(outcome)
  }

  #finish (error: GerbangError): void {
    this.#state = State.Done
    this.clearTimer()
    sendProblem(this.request, this.#exchange.reply, error)
  }

  protected onDeadline (): void {
    if (this.#state === State.Streaming || this.#state === State.Buffering) {
      this.#checkIdle()
      return
    }
    if (this.#state !== State.Waiting && this.#state !== State.Replaying) return
    const { name, connectTimeoutMs, timeoutMs } = this.route.integration
    const elapsed = performance.now() - this.startedAt
    let error: GerbangError
    if (this.#plugins?.pending === true) {
      if (elapsed < timeoutMs) {
        this.setDeadline(timeoutMs - elapsed)
        return
      }
      const plugin = (this.#plugins as PluginStage).running
      this.route.breaker.released(this.probe)
      this.request.upstreamError = 'plugin'
      this.#finish(new GerbangError('UPSTREAM_TIMEOUT', `${name}: the ${plugin} plugin did not finish within ${timeoutMs} ms`, { plugin }))
      return
    }
    // The timer was set for the attempt's connect deadline or the response
    // deadline, whichever came first; not connected, with the connect deadline
    // first, it was the connect deadline.
    if (!this.connected && this.attemptStartedAt - this.startedAt + connectTimeoutMs <= timeoutMs) {
      // Another target could take the request: undici's own connect timeout,
      // due now, fails this attempt (onResponseError) and the request moves on.
      if (!this.connectGrace && this.failoverTarget() !== undefined && elapsed < timeoutMs) {
        this.connectGrace = true
        this.setDeadline(Math.min(CONNECT_TIMEOUT_MARGIN_MS, timeoutMs - elapsed))
        return
      }
      error = new GerbangError('UPSTREAM_TIMEOUT', `${name} did not accept a connection within ${connectTimeoutMs} ms`)
    } else if (elapsed < timeoutMs) {
      // The connect deadline passed with the connection up: wait for the rest of the response deadline.
      this.setDeadline(timeoutMs - elapsed)
      return
    } else {
      error = new GerbangError('UPSTREAM_TIMEOUT', `${name} did not answer within ${timeoutMs} ms`)
    }
    this.request.upstreamError = 'timeout'
    this.route.breaker.failed(this.probe, this.request.log)
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
    const { name, idleTimeoutMs } = this.route.integration
    const now = performance.now()
    const res = this.#exchange.reply.raw
    if (this.#state === State.Streaming && res.writableNeedDrain) {
      // The client is not reading: the gateway is holding the upstream back.
      this.#lastChunkAt = now
      this.setDeadline(Math.min(idleTimeoutMs, HELD_BACK_CHECK_MS))
      return
    }
    const silentMs = now - this.#lastChunkAt
    if (silentMs < idleTimeoutMs) {
      this.setDeadline(idleTimeoutMs - silentMs)
      return
    }
    const error = new GerbangError('UPSTREAM_TIMEOUT', `${name} sent nothing for ${idleTimeoutMs} ms (idleTimeout) while sending its answer`)
    this.request.upstreamError = 'idle_timeout'
    if (this.#state === State.Buffering) {
      ;(this.#plugins as PluginStage).drop()
      this.#finish(error)
      this.#controller?.abort(error)
      return
    }
    this.#state = State.Done
    this.request.log.warn({ integration: name, idleMs: idleTimeoutMs, silentMs: Math.round(silentMs) },
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
    if (this.#state === State.Waiting || this.#state === State.Replaying) this.route.breaker.released(this.probe)
    this.#state = State.Done
    this.clearTimer()
    this.request.clientClosed = true
    // No access line follows (the response neither finished nor failed): the spans end here.
    this.request.traceSpan?.end(this.request, 0, undefined)
    this.#controller?.abort(new ClientClosedError())
  }
}
