import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Authenticator } from '../auth/authenticator.js'
import type { Principal } from '../auth/principal.js'
import { withoutQueryParam } from '../auth/query-params.js'
import { GerbangError } from '../errors.js'
import type { LimitResult, RateLimiter } from '../limits/rate-limiter.js'
import { pathOnly, sendProblem } from '../http/problem.js'
import { forward } from './forward.js'
import type { Route } from './route-table.js'
import { unsafePathReason } from './safe-path.js'
import type { TrustProxy } from '../http/client-address.js'
import { mayHoldCredential, stripCredentials } from '../http/url-credentials.js'
import { DEFAULT_METHODS } from '../config/routes-schema.js'
import type { Tracing } from '../ops/trace-context.js'
import type { WebSocketRelay } from './websocket.js'
import { webSocketRefusal } from './websocket-handshake.js'
import { admitCors } from './cors.js'
import type { RouteTableHolder } from './route-tables.js'
import { readFormKey, tooLargeDetail, wantsFormKey } from './api-key-form.js'

export interface ProxyOptions {
  holder: RouteTableHolder
  authenticator: Authenticator
  limiter: RateLimiter
  /** GERBANG_TRUST_PROXY: whose X-Forwarded-For reaches the upstream. */
  trustProxy: TrustProxy
  /** W3C trace context for every request routed to an integration; spans when exporting. */
  tracing: Tracing
  /** Takes over admitted WebSocket upgrades (integrations with `websocket: true`). */
  webSockets: WebSocketRelay
}

/** Every path not answered by the gateway itself is an integration's, or 404. */
export async function proxyPlugin (
  app: FastifyInstance, { holder, authenticator, limiter, trustProxy, tracing, webSockets }: ProxyOptions
): Promise<void> {
  // The proxy never parses bodies: the raw request stream goes upstream as it arrives.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_request, _payload, done) => { done(null) })

  app.all('/*', (request: FastifyRequest, reply: FastifyReply) => {
    if (holder.closing) {
      sendProblem(request, reply, new GerbangError('SHUTTING_DOWN', 'the gateway is shutting down; retry on a new connection',
        undefined, { connection: 'close' }))
      return
    }
    const url = request.raw.url as string
    const match = holder.table.match(url)
    if (match === undefined) {
      sendProblem(request, reply, new GerbangError('ROUTE_NOT_FOUND', `no integration serves ${pathOnly(url)}`))
      return
    }
    const { route, rest } = match
    const { integration } = route
    request.integration = integration.name
    tracing.start(request, integration.prefix)
    // Browser apps (src/proxy/cors.ts): a preflight is answered here, a foreign origin refused.
    if (integration.cors !== null) {
      const cors = admitCors(integration.cors, integration.name, request, reply)
      if (cors !== true) {
        if (cors !== false) sendProblem(request, reply, cors)
        return
      }
    }
    const methods = integration.methods ?? DEFAULT_METHODS
    if (!methods.has(request.raw.method as string)) {
      sendProblem(request, reply, new GerbangError('METHOD_NOT_ALLOWED',
        `${integration.name} does not accept ${request.raw.method ?? ''}`, undefined,
        { allow: [...methods].join(', ') }))
      return
    }
    const q = rest.indexOf('?')
    const unsafe = unsafePathReason(q === -1 ? rest : rest.slice(0, q))
    if (unsafe !== undefined) {
      sendProblem(request, reply, new GerbangError('BAD_REQUEST', unsafe))
      return
    }
    // A WebSocket upgrade (src/proxy/websocket.ts): refused before its credentials are looked at
    // when the integration does not take WebSocket or the handshake is malformed.
    if (request.raw.upgrade) {
      const refusal = webSocketRefusal(request.raw, integration)
      if (refusal !== undefined) {
        sendProblem(request, reply, refusal)
        return
      }
    }
    if (integration.auth === 'none') {
      limit(request, reply, route, rest, q, undefined)
      return
    }
    const query = q === -1 ? '' : rest.slice(q + 1)
    // apiKeyForm (src/proxy/api-key-form.ts): a small form body is read for the key first.
    const form = integration.apiKeyForm === undefined ? 'no' : wantsFormKey(request, integration)
    if (form === 'read') {
      readFormKey(request, integration.apiKeyForm as string).then((read) => {
        if (read instanceof GerbangError) {
          sendProblem(request, reply, read)
          return
        }
        request.formBody = read.body
        admit(request, reply, route, rest, q,
          authenticator.authenticate(request.headers, query, integration, request.ip, read.key))
      }, (err: unknown) => {
        request.log.error({ err }, 'reading the form body failed unexpectedly')
        sendProblem(request, reply, new GerbangError('INTERNAL_ERROR', 'an internal error occurred'))
      })
      return
    }
    const outcome = authenticator.authenticate(request.headers, query, integration, request.ip)
    if (form === 'too-large' && outcome instanceof GerbangError && outcome.code === 'CREDENTIALS_MISSING') {
      sendProblem(request, reply, new GerbangError('CREDENTIALS_MISSING', tooLargeDetail(integration.apiKeyForm as string), undefined, outcome.headers))
      return
    }
    admit(request, reply, route, rest, q, outcome)
  })

  /** Goes on with an authentication's outcome: refused, looked up in the store, or admitted at once. */
  function admit (request: FastifyRequest, reply: FastifyReply, route: Route, rest: string, q: number,
    outcome: ReturnType<Authenticator['authenticate']>): void {
    if (outcome instanceof GerbangError) {
      sendProblem(request, reply, outcome)
    } else if (outcome instanceof Promise) {
      // Not cached (or stale): the credential is looked up in the store.
      const waitedFrom = request.traceSpan === null ? 0 : performance.now()
      outcome.then((settled) => {
        request.traceSpan?.storeWait('gerbang.auth.cache_miss', waitedFrom)
        if (settled instanceof GerbangError) sendProblem(request, reply, settled)
        else limit(request, reply, route, rest, q, settled)
      }, (err: unknown) => {
        request.log.error({ err }, 'authentication failed unexpectedly')
        sendProblem(request, reply, new GerbangError('INTERNAL_ERROR', 'an internal error occurred'))
      })
    } else {
      limit(request, reply, route, rest, q, outcome)
    }
  }

  /** Counts the request against its client's limits; forwards it if none is exceeded. */
  function limit (
    request: FastifyRequest, reply: FastifyReply, route: Route, rest: string, q: number,
    principal: Principal | undefined
  ): void {
    // Known from here on: a 429 counts against its client on the dashboard too.
    if (principal !== undefined) request.clientId = principal.id
    let policies = route.policies
    if (principal !== undefined && (principal.ratePolicy !== undefined || principal.quotaPolicy !== undefined)) {
      const rate = principal.ratePolicy ?? route.policy
      policies = principal.quotaPolicy === undefined ? [rate] : [rate, principal.quotaPolicy]
    }
    // Open integrations are limited per source address.
    const partition = principal?.id ?? `ip:${request.ip}`
    const verdict = limiter.check(partition, route.integration.name, policies)
    if (verdict instanceof Promise) {
      // No tokens held here: a lease is refilled from the store.
      const waitedFrom = request.traceSpan === null ? 0 : performance.now()
      verdict.then((settled) => {
        request.traceSpan?.storeWait('gerbang.ratelimit.lease_refill', waitedFrom)
        decide(request, reply, route, rest, q, principal, settled)
      }, (err: unknown) => {
        request.log.error({ err }, 'rate limiting failed unexpectedly')
        sendProblem(request, reply, new GerbangError('INTERNAL_ERROR', 'an internal error occurred'))
      })
    } else {
      decide(request, reply, route, rest, q, principal, verdict)
    }
  }

  function decide (request: FastifyRequest, reply: FastifyReply, route: Route, rest: string, q: number,
    principal: Principal | undefined, verdict: LimitResult): void {
    if (verdict.error !== undefined) sendProblem(request, reply, verdict.error)
    else send(request, reply, route, rest, q, principal, verdict.headers)
  }

  function send (request: FastifyRequest, reply: FastifyReply, route: Route, rest: string, q: number,
    principal: Principal | undefined, limitHeaders: string[]): void {
    // The client may have left while its credential was looked up.
    if (reply.raw.destroyed) return
    const { integration } = route
    let target = rest
    // An API key sent in the query string (apiKeyQuery) never travels on.
    if (q !== -1 && integration.apiKeyQuery !== undefined) {
      const query = withoutQueryParam(rest.slice(q + 1), integration.apiKeyQuery)
      target = query === '' ? rest.slice(0, q) : `${rest.slice(0, q)}?${query}`
    }
    // Nor does a Gerbang credential anywhere else in the URL.
    if (mayHoldCredential(target)) target = stripCredentials(target)
    let path = integration.upstreamPathPrefix + target
    if (path.charCodeAt(0) !== 47 /* / */) path = '/' + path
    const peerTrusted = trustProxy(request.raw.socket.remoteAddress ?? '', 0)
    if (request.raw.upgrade) webSockets.open(request, reply, route, path, principal, peerTrusted, limitHeaders)
    else forward({ request, reply, route, holder, principal, path, extraHeaders: limitHeaders, peerTrusted })
  }
}
