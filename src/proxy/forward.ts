import { Readable } from 'node:stream'
import type { Dispatcher } from 'undici'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { classifyUpstreamError, GerbangError, upstreamStatusError } from '../errors.js'
import { sendProblem } from '../http/problem.js'
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.js'
import type { Principal } from '../auth/authenticator.js'
import type { RouteTableHolder } from './index.js'
import type { Route } from './route-table.js'

const enum State { Waiting, Streaming, Done }

/**
 * One request forwarded to its upstream: an undici dispatch handler that
 * streams the upstream's answer straight into the client's response, with
 * backpressure both ways and nothing buffered.
 *
 * undici's own timers tick every half second, too coarse for "504 within the
 * timeout", so the connect and response deadlines are one Node timer here.
 */
class Forwarding implements Dispatcher.DispatchHandler {
  readonly #request: FastifyRequest
  readonly #reply: FastifyReply
  readonly #route: Route
  readonly #holder: RouteTableHolder
  /** Headers the gateway adds to the client's response (rate limits). */
  readonly #extraHeaders: string[]
  readonly #startedAt: number
  #state = State.Waiting
  #connected = false
  #abort: ((err?: Error) => void) | undefined
  #timer: NodeJS.Timeout | undefined

  constructor (request: FastifyRequest, reply: FastifyReply, route: Route, holder: RouteTableHolder, extraHeaders: string[]) {
    this.#request = request
    this.#reply = reply
    this.#route = route
    this.#holder = holder
    this.#extraHeaders = extraHeaders
    this.#startedAt = performance.now()
    const { connectTimeoutMs, timeoutMs } = route.integration
    this.#timer = setTimeout(this.#onDeadline, Math.min(connectTimeoutMs, timeoutMs))
    reply.raw.once('close', this.#onClientClose)
  }

  onConnect (abort: (err?: Error) => void): void {
    this.#connected = true
    if (this.#state === State.Done) {
      abort()
      return
    }
    this.#abort = abort
  }

  onHeaders (statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (this.#state !== State.Waiting) return true
    this.#clearTimer()
    const { integration } = this.#route
    this.#request.upstreamStatus = statusCode

    if (integration.upstreamErrors === 'normalize') {
      const code = upstreamStatusError(statusCode)
      if (code !== undefined) {
        // Its body is read and dropped (onData ignores it once we are Done),
        // so the keep-alive connection stays reusable.
        this.#finish(new GerbangError(code, code === 'UPSTREAM_TIMEOUT'
          ? `${integration.name} answered 504: its own upstream timed out`
          : `${integration.name} answered ${statusCode}`, { upstreamStatus: statusCode }))
        return true
      }
    }

    const res = this.#reply.raw
    this.#state = State.Streaming
    this.#reply.hijack()
    const headers = clientResponseHeaders(rawHeaders, this.#request.id)
    for (let i = 0; i < this.#extraHeaders.length; i++) headers.push(this.#extraHeaders[i] as string)
    // While draining, a kept-alive connection would hold the shutdown open.
    if (this.#holder.closing) headers.push('connection', 'close')
    res.writeHead(statusCode, statusText, headers)
    res.on('drain', resume)
    return true
  }

  onData (chunk: Buffer): boolean {
    if (this.#state !== State.Streaming) return true // discarded upstream error body
    this.#request.bytesOut += chunk.length
    return this.#reply.raw.write(chunk)
  }

  onComplete (): void {
    if (this.#state === State.Streaming) {
      this.#state = State.Done
      this.#reply.raw.end()
    }
  }

  onError (err: Error): void {
    this.#clearTimer()
    if (this.#state === State.Done) return
    if (this.#state === State.Streaming) {
      // Headers are gone: nothing truthful can be sent, so the client must see
      // the connection break rather than a short body it would take as whole.
      this.#state = State.Done
      this.#request.log.warn({ err: errorSummary(err), integration: this.#route.integration.name },
        'upstream failed after the response started; client connection destroyed')
      this.#reply.raw.destroy()
      return
    }
    if (err instanceof GerbangError) {
      this.#finish(err)
      return
    }
    const failure = classifyUpstreamError(err)
    const { name, timeoutMs, connectTimeoutMs } = this.#route.integration
    if (failure.kind === 'client-closed') {
      this.#state = State.Done
      return
    }
    if (failure.kind === 'timeout') {
      this.#finish(new GerbangError('UPSTREAM_TIMEOUT', failure.phase === 'connect'
        ? `${name} did not accept a connection within ${connectTimeoutMs} ms`
        : `${name} did not answer within ${timeoutMs} ms`))
      return
    }
    this.#request.log.info({ err: errorSummary(err), integration: name }, 'upstream unavailable')
    this.#finish(new GerbangError('UPSTREAM_UNAVAILABLE', `${name} ${failure.reason}`))
  }

  #finish (error: GerbangError): void {
    this.#state = State.Done
    this.#clearTimer()
    sendProblem(this.#request, this.#reply, error)
  }

  #clearTimer (): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
  }

  readonly #onDeadline = (): void => {
    this.#timer = undefined
    if (this.#state !== State.Waiting) return
    const { name, connectTimeoutMs, timeoutMs } = this.#route.integration
    const elapsed = performance.now() - this.#startedAt
    let error: GerbangError
    if (!this.#connected && connectTimeoutMs <= timeoutMs) {
      error = new GerbangError('UPSTREAM_TIMEOUT', `${name} did not accept a connection within ${connectTimeoutMs} ms`)
    } else if (elapsed < timeoutMs) {
      // The connect deadline passed with the connection up: wait for the rest of the response deadline.
      this.#timer = setTimeout(this.#onDeadline, timeoutMs - elapsed)
      return
    } else {
      error = new GerbangError('UPSTREAM_TIMEOUT', `${name} did not answer within ${timeoutMs} ms`)
    }
    this.#finish(error)
    this.#abort?.(error)
  }

  readonly #onClientClose = (): void => {
    // 'close' also follows a normal finish; only an early close matters here.
    if (this.#state === State.Done) return
    this.#state = State.Done
    this.#clearTimer()
    this.#request.clientClosed = true
    this.#abort?.(new ClientClosedError())
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

/**
 * Forwards a request to the route's upstream. `path` is the upstream path with
 * its query string, already checked to be safe.
 */
export function forward (request: FastifyRequest, reply: FastifyReply, route: Route, path: string, holder: RouteTableHolder,
  principal: Principal | undefined, extraHeaders: string[]): void {
  const req = request.raw
  const { integration } = route
  const method = req.method as Dispatcher.HttpMethod
  let body: Readable | null = null
  const length = req.headers['content-length']
  if (length !== undefined) {
    if (Number(length) > integration.bodyLimit) {
      sendProblem(request, reply, new GerbangError('PAYLOAD_TOO_LARGE',
        `the request body is ${length} bytes; ${integration.name} accepts at most ${integration.bodyLimit}`))
      return
    }
    if (length !== '0') body = req
  } else if (req.headers['transfer-encoding'] !== undefined) {
    body = Readable.from(limitedBody(req, integration.bodyLimit, integration.name), { objectMode: false })
  }

  const handler = new Forwarding(request, reply, route, holder, extraHeaders)
  route.pool.dispatch({
    method,
    path,
    headers: upstreamRequestHeaders(req, request.id, request.protocol, principal),
    body,
    // Pipelining a non-idempotent request over a reused socket is unsafe; one at a time.
    blocking: false,
    reset: false
  }, handler)
}
