import type { IncomingMessage, Server } from 'node:http'
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import type { Authenticator } from '../auth/authenticator.js'
import type { Principal } from '../auth/principal.js'
import type { Integration } from '../config/routes-loader.js'
import { GerbangError } from '../errors.js'
import { upstreamErrorCode } from '../upstream-failure.js'
import { sendProblem } from '../http/problem.js'
import type { GatewayMetrics } from '../ops/metrics.js'
import { upstreamRequestHeaders } from './headers.js'
import type { Route, UpstreamConnectOptions } from './route-table.js'
import { handshakeHeaders, offeredProtocols } from './websocket-handshake.js'
import { reasonText, Session, type Credential, type SessionOwner } from './websocket-session.js'
import { ClientUpgrades } from './websocket-upgrades.js'
import { dialUpstream } from './websocket-upstream.js'

// WebSocket on integrations with `websocket: true` (docs/contract.md section 9).
//
// An upgrade request is served by the same Fastify route as any request:
// the upgrade listener (src/proxy/websocket-upgrades.ts) gives it a
// ServerResponse on its socket and hands it to the server's request
// handler, so the Host check, the hooks (load shedding), routing,
// credentials, grants and the rate limit are the ones every request meets,
// and a refusal is the usual problem+json, access line and metrics
// included. The proxy route (src/proxy/index.ts) asks `webSocketRefusal`
// (src/proxy/websocket-handshake.ts) before authenticating and, once the
// request is admitted, calls `WebSocketRelay.open` instead of forwarding it.
//
// Then the gateway opens the upstream's WebSocket (ws:// or wss://, the path
// rewritten as for HTTP, the gateway's identity headers, never the client's
// credentials; src/proxy/websocket-upstream.ts), and only once the upstream
// has accepted does it complete the client's handshake, with the
// subprotocol the upstream chose. An upstream that refuses still gets the
// client a WebSocket, closed at once with 1014 (Bad Gateway, RFC 6455
// section 7.4.1 and the IANA registry), because a browser shows nothing of
// a failed handshake's answer.
//
// Frames are relayed by the `ws` library on both sides (no frame parsing
// here), one Session each (src/proxy/websocket-session.ts), with
// backpressure: a side whose peer has more than HIGH_WATER bytes waiting is
// paused until they drain below LOW_WATER.

export interface WebSocketRelayOptions {
  authenticator: Authenticator
  metrics: GatewayMetrics
  logger: FastifyBaseLogger
  /** The socket options upstream HTTP connections get (DNS lookup, CA bundle). */
  upstreamConnect?: UpstreamConnectOptions | undefined
}

/**
 * Every WebSocket the gateway relays, by integration and by client: for
 * the gauge, for reloads that take an integration's WebSocket away, for
 * revocations, and for shutdown.
 */
export class WebSocketRelay implements SessionOwner {
  readonly #authenticator: Authenticator
  readonly #metrics: GatewayMetrics
  readonly #logger: FastifyBaseLogger
  readonly #connect: UpstreamConnectOptions
  readonly #upgrades = new ClientUpgrades()
  readonly #byIntegration = new Map<string, Set<Session>>()
  readonly #byClient = new Map<string, Set<Session>>()
  /** Upgrades waiting for their upstream: each function gives up on one (shutdown). */
  readonly #connecting = new Set<() => void>()
  #closing = false

  constructor (options: WebSocketRelayOptions) {
    this.#authenticator = options.authenticator
    this.#metrics = options.metrics
    this.#logger = options.logger
    this.#connect = options.upstreamConnect ?? {}
    // A change to a client (revoked, rotated, regranted) or to all of them: its sockets are checked again.
    options.authenticator.onChange((clientId) => { this.#recheckClient(clientId) })
  }

  /** Open WebSockets per integration. */
  * openCounts (): Generator<[string, number]> {
    for (const [name, sessions] of this.#byIntegration) yield [name, sessions.size]
  }

  /** Takes upgrade requests on the gateway's server (src/proxy/websocket-upgrades.ts). */
  listen (server: Server): void {
    this.#upgrades.listen(server)
  }

  /**
   * Opens the upstream's WebSocket for an admitted upgrade (credentials,
   * grant and rate limit passed), then completes the client's handshake and
   * relays. `path` is the upstream path with its query, as for HTTP.
   */
  open (request: FastifyRequest, reply: FastifyReply, route: Route, path: string, principal: Principal | undefined,
    peerTrusted: boolean, limitHeaders: string[]): void {
    const req = request.raw
    const upgrade = this.#upgrades.pending(req)
    if (upgrade === undefined) {
      // Only the upgrade listener makes Node flag a request as an upgrade: cannot happen.
      sendProblem(request, reply, new GerbangError('INTERNAL_ERROR', 'an internal error occurred'))
      return
    }
    const { integration, breaker } = route
    const { socket } = upgrade
    // The client may have left while its credential was looked up.
    if (socket.destroyed) return
    if (this.#closing) {
      sendProblem(request, reply, new GerbangError('SHUTTING_DOWN', 'the gateway is shutting down; retry on a new connection'))
      return
    }
    const admission = breaker.admit(request.log)
    if (admission === 'reject') {
      sendProblem(request, reply, breaker.refusal())
      return
    }
    const probe = admission === 'probe'
    const span = request.traceSpan
    // A socket stays on the target it opened on; the balancer spreads the opening handshakes.
    const { origin } = route.balancer.pick()
    const traceparent = span === null ? request.traceparent : span.upstream('GET', origin, path)
    const name = integration.name
    let settled = false
    /** True the first time only: the upgrade is answered, or the client has gone. */
    const settle = (): boolean => {
      if (settled) return false
      settled = true
      this.#connecting.delete(shutDown)
      socket.off('close', clientLeft)
      return true
    }
    let giveUp: () => void
    try {
      giveUp = dialUpstream({
        url: (origin.startsWith('https:') ? 'wss' : 'ws') + origin.slice(origin.indexOf(':')) + path,
        protocols: offeredProtocols(req),
        headers: handshakeHeaders(upstreamRequestHeaders(req, request.id, request.protocol, peerTrusted, traceparent,
          principal)),
        connect: this.#connect,
        name,
        timeoutMs: integration.timeoutMs,
        /** The upstream did not accept: the client still gets its WebSocket, closed at once with 1014. */
        refused: (code, reason, err) => {
          if (!settle()) return
          breaker.failed(probe, request.log)
          request.upstreamError = code
          request.log.info({
            integration: name,
            err: err === undefined ? undefined : { code: upstreamErrorCode(err), message: err.message }
          }, `upstream refused the WebSocket: ${reason}`)
          const client = this.#upgrades.accept(request, reply, upgrade, false, integration.bodyLimit, limitHeaders)
          client?.close(1014, reasonText(reason))
        },
        accepted: (upstream, handshakeMs) => {
          if (!settle()) return
          request.upstreamStatus = 101
          request.upstreamMs = handshakeMs
          breaker.succeeded(probe, request.log)
          const protocol = upstream.protocol === '' ? false : upstream.protocol
          const client = this.#upgrades.accept(request, reply, upgrade, protocol, integration.bodyLimit, limitHeaders)
          if (client === undefined) {
            upstream.on('error', ignore)
            upstream.close(1001, 'the client went away')
            return
          }
          const credential: Credential | undefined = principal === undefined
            ? undefined
            : { headers: credentialHeaders(req), query: queryOf(req.url ?? '') }
          const session = new Session(this, integration, client, upstream, request.log, principal, credential,
            request.ip)
          this.#add(session)
          if (this.#closing) session.close(1001, 'the gateway is shutting down')
        }
      })
    } catch (err) {
      breaker.released(probe)
      sendProblem(request, reply, new GerbangError('BAD_REQUEST', `the WebSocket upgrade cannot be forwarded: ${(err as Error).message}`))
      return
    }
    const clientLeft = (): void => {
      if (!settle()) return
      giveUp()
      breaker.released(probe)
      request.clientClosed = true
      request.traceSpan?.end(request, 0, undefined)
    }
    /** Shutdown while the upstream is being reached: the client is still speaking HTTP, and gets the 503. */
    const shutDown = (): void => {
      if (!settle()) return
      giveUp()
      breaker.released(probe)
      sendProblem(request, reply, new GerbangError('SHUTTING_DOWN', 'the gateway is shutting down; retry on a new connection'))
    }
    this.#connecting.add(shutDown)
    socket.once('close', clientLeft)
  }

  #add (session: Session): void {
    let sessions = this.#byIntegration.get(session.integration.name)
    if (sessions === undefined) this.#byIntegration.set(session.integration.name, sessions = new Set())
    sessions.add(session)
    if (session.clientId !== undefined) {
      let mine = this.#byClient.get(session.clientId)
      if (mine === undefined) this.#byClient.set(session.clientId, mine = new Set())
      mine.add(session)
    }
  }

  /** A session has ended on both sides. */
  removed (session: Session): void {
    const sessions = this.#byIntegration.get(session.integration.name)
    sessions?.delete(session)
    if (sessions?.size === 0) this.#byIntegration.delete(session.integration.name)
    if (session.clientId !== undefined) {
      const mine = this.#byClient.get(session.clientId)
      mine?.delete(session)
      if (mine?.size === 0) this.#byClient.delete(session.clientId)
    }
  }

  /** Counted against the integration like an HTTP upstream failure. */
  upstreamFailed (integration: string, code: string): void {
    this.#metrics.upstreamError(integration, code)
  }

  /** Shutdown: every socket is closed with 1001; an upgrade still waiting for its upstream gets 503 SHUTTING_DOWN. */
  closeAll (): void {
    this.#closing = true
    for (const giveUp of [...this.#connecting]) giveUp()
    for (const sessions of this.#byIntegration.values()) {
      for (const session of sessions) session.close(1001, 'the gateway is shutting down')
    }
  }

  /** A reload: the sockets of integrations that are gone, or no longer accept WebSocket, are closed with 1001. */
  routesChanged (integrations: readonly Integration[]): void {
    const now = new Map(integrations.map((i) => [i.name, i]))
    for (const [name, sessions] of this.#byIntegration) {
      const integration = now.get(name)
      if (integration?.websocket === true) continue
      const reason = integration === undefined ? `${name} was removed from the routes` : `${name} no longer accepts WebSocket`
      for (const session of sessions) session.close(1001, reason)
    }
  }

  /**
   * Checks again the credential of every socket of `clientId` (of every client: undefined), closing those now refused.
   */
  #recheckClient (clientId: string | undefined): void {
    const sessions = clientId === undefined
      ? [...this.#byClient.values()].flatMap((s) => [...s])
      : [...this.#byClient.get(clientId) ?? []]
    // Sockets sharing a credential (and integration and address) are checked with one look-up.
    const checks = new Map<string, Promise<Principal | GerbangError>>()
    for (const session of sessions) {
      const key = session.credentialKey()
      let check = checks.get(key)
      if (check === undefined) {
        check = session.authenticate(this.#authenticator)
        checks.set(key, check)
      }
      this.#applyCheck(session, check)
    }
  }

  /** A socket whose credential expires is checked again then. */
  recheckSession (session: Session): void {
    this.#applyCheck(session, session.authenticate(this.#authenticator))
  }

  #applyCheck (session: Session, check: Promise<Principal | GerbangError>): void {
    check.then((outcome) => { session.rechecked(outcome) }, (err: unknown) => {
      this.#logger.warn({ err, integration: session.integration.name }, 'could not check a websocket\'s credential again')
    })
  }
}

function ignore (): void {}

/** The credential headers of the upgrade request, kept to check it again. */
function credentialHeaders (req: IncomingMessage): Credential['headers'] {
  const headers: Credential['headers'] = {}
  const key = req.headers['x-api-key']
  if (typeof key === 'string') headers['x-api-key'] = key
  if (req.headers.authorization !== undefined) headers.authorization = req.headers.authorization
  return headers
}

function queryOf (url: string): string {
  const q = url.indexOf('?')
  return q === -1 ? '' : url.slice(q + 1)
}
