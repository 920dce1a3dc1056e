import { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from 'fastify'
import { LazyRequestLogger } from './lazy-logger.js'
import { pathOnly } from './problem.js'

/**
 * Fastify's per-request log lines replaced by one access line per request,
 * written when the response has finished: request id, integration, method, path without query string, status, upstream
 * status, duration and body bytes sent.
 */
export class AccessLog extends LogController {
  override incomingRequest (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = {
      reqId: request.id,
      integration: request.integration ?? undefined,
      client: request.clientId ?? undefined,
      method: request.raw.method,
      path: pathOnly(request.raw.url ?? ''),
      status: reply.statusCode,
      upstreamStatus: request.upstreamStatus === 0 ? undefined : request.upstreamStatus,
      durationMs: Math.round(reply.elapsedTime * 100) / 100,
      bytesOut: request.bytesOut !== 0 ? request.bytesOut : Number(reply.getHeader('content-length') ?? 0),
      err: error ?? undefined
    }
    // The root logger with the id as a field: no per-request child (LazyRequestLogger).
    if (error != null) this.#root(request).error(line, 'request failed')
    else this.#root(request).info(line, 'request')
  }

  #root (request: FastifyRequest): FastifyBaseLogger {
    const log = request.log
    return log instanceof LazyRequestLogger ? log.parent : log
  }
}
