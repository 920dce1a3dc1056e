import type { FastifyInstance } from 'fastify'

// What the access log line needs to know about a request, gathered as it is
// served. Declared as request decorators so every request object has the same
// shape from birth.
declare module 'fastify' {
  interface FastifyRequest {
    /** The integration that served the request, or null. */
    integration: string | null
    /** The upstream's status code, 0 when the upstream never answered. */
    upstreamStatus: number
    /** Body bytes sent to the client. */
    bytesOut: number
    /** The client went away before the response was complete. */
    clientClosed: boolean
    /** The authenticated client's id, or null. */
    clientId: string | null
    /** Milliseconds from dispatch to the upstream's response headers; -1 when it never answered. */
    upstreamMs: number
    /** Why the upstream failed (an undici/Node code such as ECONNREFUSED, or 'timeout'), or null. */
    upstreamError: string | null
    /**
     * The CORS headers every answer to this request carries (src/proxy/cors.ts),
     * as a flat [name, value, …] array; null when its integration has no cors.
     */
    corsHeaders: readonly string[] | null
    /**
     * The request's form body without its apiKeyForm field (src/proxy/api-key-form.ts), sent instead of the stream;
     * null when not read.
     */
    formBody: Buffer | null
  }
}

export function decorateRequestFacts (app: FastifyInstance): void {
  app.decorateRequest('integration', null)
  app.decorateRequest('upstreamStatus', 0)
  app.decorateRequest('bytesOut', 0)
  app.decorateRequest('clientClosed', false)
  app.decorateRequest('clientId', null)
  app.decorateRequest('upstreamMs', -1)
  app.decorateRequest('upstreamError', null)
  app.decorateRequest('corsHeaders', null)
  app.decorateRequest('formBody', null)
}
