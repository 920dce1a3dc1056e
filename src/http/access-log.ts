import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'
import { pathOnly } from './problem.js'

/**
 * Fastify's per-request log lines replaced by one access line per request,
 * written when the response has finished: request id (the child logger's
 * binding), integration, method, path without query string, status, upstream
 * status, duration and body bytes sent.
 */
export class AccessLog extends LogController {
  override incomingRequest (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = {
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
    if (error != null) request.log.error(line, 'request failed')
    else request.log.info(line, 'request')
  }
}
