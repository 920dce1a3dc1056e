import { PassThrough } from 'node:stream'
import type { IncomingHttpHeaders } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest, RequestPayload } from 'fastify'
import { GerbangError } from '../errors.js'

// docs/contract.md section 15: the body of a request to Gerbang's own endpoints
// (/oauth2, /admin, /doc/api) must arrive within OWN_BODY_TIMEOUT_MS; a stalled one is
// answered 408 and its connection closed. Node's server.requestTimeout would
// apply to every request, and proxied bodies stream to their upstream for as
// long as they take, so the deadline is per route: a preParsing hook puts a
// timed stream between the socket and Fastify's body parser, and on expiry
// fails that stream with REQUEST_TIMEOUT. The parser's error path then
// answers 408 with `Connection: close`, and Node closes the socket. Proxied
// routes get their payload untouched.

export const OWN_BODY_TIMEOUT_MS = 10_000

/** Methods Fastify never reads a body for. */
const BODYLESS = new Set(['GET', 'HEAD', 'TRACE'])

/** Routes whose bodies Gerbang reads itself, by their registered pattern (the same however the URL was encoded). */
function isOwnRoute (pattern: string | undefined): boolean {
  return pattern !== undefined &&
    (pattern.startsWith('/oauth2/') || pattern === '/admin' || pattern.startsWith('/admin/') || pattern.startsWith('/doc/api/'))
}

function declaresBody (headers: IncomingHttpHeaders): boolean {
  const length = headers['content-length']
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}

/**
 * Gives Gerbang's own routes (registered after this call) the deadline, as a
 * route-level preParsing hook: the proxy's routes run no hook for it at all.
 */
export function ownBodyDeadline (app: FastifyInstance, timeoutMs = OWN_BODY_TIMEOUT_MS): void {
  const hook = bodyDeadline(timeoutMs)
  app.addHook('onRoute', (route) => {
    if (!isOwnRoute(route.url)) return
    const existing = route.preParsing === undefined
      ? []
      : Array.isArray(route.preParsing) ? route.preParsing : [route.preParsing]
    route.preParsing = [...existing, hook]
  })
}

function bodyDeadline (timeoutMs: number) {
  return async function bodyDeadline (
    request: FastifyRequest, reply: FastifyReply, payload: RequestPayload
  ): Promise<RequestPayload> {
    const raw = request.raw
    if (raw.complete || !declaresBody(raw.headers)) return payload

    // Fastify reads no body for these: once answered, a body still dribbling in only holds the socket.
    if (BODYLESS.has(raw.method ?? '')) {
      const timer = setTimeout(() => { if (!raw.complete) raw.destroy() }, timeoutMs)
      raw.once('end', () => { clearTimeout(timer) }).once('close', () => { clearTimeout(timer) })
      return payload
    }

    const timed = new PassThrough()
    const timer = setTimeout(() => {
      if (raw.complete) return
      // Answered already (a refusal that did not wait for the body): just let go of the socket.
      if (reply.sent) {
        raw.destroy()
        return
      }
      payload.unpipe(timed)
      timed.destroy(new GerbangError('REQUEST_TIMEOUT', `the request body did not arrive within ${timeoutMs / 1000} s`))
    }, timeoutMs)
    const stop = (): void => { clearTimeout(timer) }
    payload.once('end', stop)
    raw.once('close', stop)
    payload.once('error', (err) => {
      stop()
      timed.destroy(err)
    })
    payload.pipe(timed)
    return timed
  }
}
