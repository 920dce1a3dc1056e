import { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from 'fastify'
import { LazyRequestLogger } from './lazy-logger.js'
import { canWriteDirectly, writeAccessLine, type AccessFields } from './access-line.js'
import type { Logger } from 'pino'
import { pathOnly } from './problem.js'
import { UpstreamCutOffError } from '../upstream-failure.js'
import type { TrafficRecorder } from '../analytics/traffic-recorder.js'
import type { GatewayMetrics } from '../ops/metrics.js'

/**
 * Fastify's per-request log lines replaced by one access line per request,
 * written when the response has finished: request id, integration, method,
 * path without query string or credentials, status, upstream status,
 * duration, body bytes sent, client address and user agent, and the trace
 * id of a proxied request. Recorded spans end here too.
 */
export class AccessLog extends LogController {
  readonly #traffic: TrafficRecorder
  readonly #metrics: GatewayMetrics

  /**
   * @param traffic also counts each integration request here, for the admin dashboard
   * @param metrics also counts every request here, for /metrics
   */
  constructor (traffic: TrafficRecorder, metrics: GatewayMetrics) {
    super()
    this.#traffic = traffic
    this.#metrics = metrics
  }

  override incomingRequest (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (request.integration !== null) {
      this.#traffic.record(request.integration, request.clientId, reply.statusCode, reply.elapsedTime)
    }
    this.#metrics.record(request, reply)
    const traceparent = request.traceparent
    if (request.traceSpan !== null) request.traceSpan.end(request, reply.statusCode, error)
    const line = {
      reqId: request.id,
      // The trace this request is part of (src/ops/trace-context.ts), for proxied requests.
      traceId: traceparent === '' ? undefined : traceparent.slice(3, 35),
      integration: request.integration ?? undefined,
      client: request.clientId ?? undefined,
      method: request.raw.method,
      path: pathOnly(request.raw.url ?? ''),
      status: reply.statusCode,
      upstreamStatus: request.upstreamStatus === 0 ? undefined : request.upstreamStatus,
      durationMs: Math.round(reply.elapsedTime * 100) / 100,
      bytesOut: request.bytesOut !== 0 ? request.bytesOut : Number(reply.getHeader('content-length') ?? 0),
      // Who asked, as audits of health data will: the client's address
      // (GERBANG_TRUST_PROXY decides whose X-Forwarded-For counts) and its user agent.
      ip: request.ip,
      userAgent: request.headers['user-agent'],
      err: error ?? undefined
    }
    // The root logger with the id as a field: no per-request child (LazyRequestLogger).
    if (error == null) {
      const root = this.#root(request)
      if (canWriteDirectly(root as Logger)) writeAccessLine(root as Logger, line as AccessFields)
      else root.info(line, 'request')
      return
    }
    if (error instanceof UpstreamCutOffError) this.#root(request).warn(line, 'request cut off by the upstream')
    else this.#root(request).error(line, 'request failed')
  }

  #root (request: FastifyRequest): FastifyBaseLogger {
    const log = request.log
    return log instanceof LazyRequestLogger ? log.parent : log
  }
}
