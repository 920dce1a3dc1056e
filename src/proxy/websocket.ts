import { randomUUID } from 'node:crypto'
import { ServerResponse, type IncomingMessage, type Server } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import { WebSocket, WebSocketServer, type ClientOptions } from 'ws'
import type { Authenticator, Principal } from '../auth/authenticator.js'
import type { Integration } from '../config/routes-loader.js'
import { classifyUpstreamError, GerbangError, PROBLEM_CONTENT_TYPE, problemJson, upstreamErrorCode } from '../errors.js'
import { pathOnly, sendProblem } from '../http/problem.js'
import type { GatewayMetrics } from '../ops/metrics.js'
import { saneRequestId, upstreamRequestHeaders } from './headers.js'
import type { Route, UpstreamConnectOptions } from './route-table.js'
import { handshakeHeaders, isWebSocketUpgrade, offeredProtocols } from './websocket-handshake.js'
import { reasonText, Session, type Credential, type SessionOwner } from './websocket-session.js'

// WebSocket on integrations with `websocket: true` (CONTRACT.md section 9).
//
// An upgrade request is served by the same Fastify route as any request:
// the listener below gives it a ServerResponse on its socket and hands it to
// the server's request handler, so the Host check, the hooks (load
// shedding), routing, credentials, grants and the rate limit are the ones
// every request meets, and a refusal is the usual problem+json, access line
// and metrics included. The proxy route (src/proxy/index.ts) asks
// `webSocketRefusal` (src/proxy/websocket-handshake.ts) before
// authenticating and, once the request is
// admitted, calls `WebSocketRelay.open` instead of forwarding it.
//
// Then the gateway opens the upstream's WebSocket (ws:// or wss://, the path
// rewritten as for HTTP, the gateway's identity headers, never the client's
// credentials), and only once the upstream has accepted does it complete the
// client's handshake, with the subprotocol the upstream chose. An upstream
// that refuses still gets the client a WebSocket, closed at once with 1014
// (Bad Gateway, RFC 6455 section 7.4.1 and the IANA registry), because a
// browser shows nothing of a failed handshake's answer.
//
// Frames are relayed by the `ws` library on both sides (no frame parsing
// here), one Session each (src/proxy/websocket-session.ts), with backpressure: a side whose peer has more than HIGH_WATER bytes
// waiting is paused until they drain below LOW_WATER.

declare module 'http' {
  interface IncomingMessage {
    /**
     * Set by Node's HTTP server: the request asked to upgrade and the server
     * takes upgrades (here: a WebSocket one, see `listen`). Always false on
     * requests that did not.
     */
    upgrade: boolean
  }
}

/** An upgrade request between the 'upgrade' event and its answer (an HTTP refusal, or the handshake). */
interface PendingUpgrade {
  socket: Duplex
  head: Buffer
  res: ServerResponse
  /** Ends the connection once a refusal has been written; taken off when the handshake completes instead. */
  answered: () => void
  /** The subprotocol the upstream chose, for the client's handshake. */
  protocol: string | false
  /** Header lines for the 101 (x-request-id, rate limits). */
  headerLines: string[]
}

export interface WebSocketRelayOptions {
  authenticator: Authenticator
  metrics: GatewayMetrics
  logger: FastifyBaseLogger
  /** The socket options upstream HTTP connections get (DNS lookup, CA bundle). */
  upstreamConnect?: UpstreamConnectOptions | undefined
}

// The upstream hop is the gateway's own client, not a browser: masking
// (which protects proxies on a browser's path) is done with a zero key, so
// ws sends each relayed message as it is instead of a masked copy.
function zeroMask (mask: Buffer): void {
  mask.fill(0)
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
  readonly #pending = new WeakMap<IncomingMessage, PendingUpgrade>()
  /** One handshake server per message size limit (an integration's bodyLimit). */
  readonly #servers = new Map<number, WebSocketServer>()
  readonly #byIntegration = new Map<string, Set<Session>>()
  readonly #byClient = new Map<string, Set<Session>>()
  /** The upgrade whose handshake ws is completing (handleUpgrade is synchronous). */
  #current: PendingUpgrade | undefined
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

  /**
   * Takes upgrade requests on the gateway's server. Node 24 asks first
   * whether a request is one (shouldUpgradeCallback): only WebSocket
   * upgrades are, and any other (`Upgrade: h2c`) is an ordinary request.
   */
  listen (server: Server): void {
    (server as Server & { shouldUpgradeCallback?: (req: IncomingMessage) => boolean }).shouldUpgradeCallback = isWebSocketUpgrade
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => { this.#onUpgrade(server, req, socket, head) })
  }

  #onUpgrade (server: Server, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node's HTTP server has let go of the socket: its errors are ours now.
    socket.on('error', destroySocket)
    const res = new ServerResponse(req)
    // An upgrade's connection is never reused for another request.
    res.shouldKeepAlive = false
    res.assignSocket(socket as Socket)
    const answered = (): void => {
      res.detachSocket(socket as Socket)
      ;(socket as Socket).destroySoon()
    }
    res.once('finish', answered)
    if (isWebSocketUpgrade(req)) {
      this.#pending.set(req, { socket, head, res, answered, protocol: false, headerLines: [] })
    } else {
      // Node 20 has no shouldUpgradeCallback: another protocol's upgrade
      // (h2c) is answered as the plain request it also is, as without this
      // listener. Its body, if any, is beyond reach once Node has let go.
      req.upgrade = false
      if (req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0') {
        const requestId = saneRequestId(req.headers['x-request-id']) ?? randomUUID()
        const body = problemJson(new GerbangError('BAD_REQUEST', 'a request with a body cannot ask to upgrade to ' +
          `${req.headers.upgrade ?? ''}: send it without Upgrade`), pathOnly(req.url ?? '/'), requestId)
        res.writeHead(400, { 'content-type': PROBLEM_CONTENT_TYPE, 'content-length': Buffer.byteLength(body), 'x-request-id': requestId }).end(body)
        return
      }
    }
    // The request goes the way every request goes: Host check, then Fastify.
    server.emit('request', req, res)
  }

  /**
   * Opens the upstream's WebSocket for an admitted upgrade (credentials,
   * grant and rate limit passed), then completes the client's handshake and
   * relays. `path` is the upstream path with its query, as for HTTP.
   */
  open (request: FastifyRequest, reply: FastifyReply, route: Route, path: string, principal: Principal | undefined,
    peerTrusted: boolean, limitHeaders: string[]): void {
    const req = request.raw
    const upgrade = this.#pending.get(req)
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
    const headers = handshakeHeaders(upstreamRequestHeaders(req, request.id, request.protocol, peerTrusted, traceparent, principal))
    const url = (origin.startsWith('https:') ? 'wss' : 'ws') + origin.slice(origin.indexOf(':')) + path
    const options: ClientOptions & UpstreamConnectOptions = {
      ...this.#connect,
      headers,
      perMessageDeflate: false,
      followRedirects: false,
      // Pings and pongs are relayed, so each end answers the other's.
      autoPong: false,
      // A zero masking key: ws then sends each relayed message as it is
      // instead of a masked copy (a 64 KiB message would cost 64 KiB of
      // garbage). Masking guards proxies on a browser's path against
      // scripts that shape bytes; this hop is the gateway's own client.
      generateMask: zeroMask
    }
    let upstream: WebSocket
    try {
      upstream = new WebSocket(url, offeredProtocols(req), options)
    } catch (err) {
      breaker.released(probe)
      sendProblem(request, reply, new GerbangError('BAD_REQUEST', `the WebSocket upgrade cannot be forwarded: ${(err as Error).message}`))
      return
    }
    const name = integration.name
    const startedAt = performance.now()
    let settled = false
    const settle = (): void => {
      settled = true
      this.#connecting.delete(shutDown)
      clearTimeout(deadline)
      socket.off('close', clientLeft)
      upstream.off('unexpected-response', onUnexpected)
      upstream.off('error', onError)
      upstream.off('open', onOpen)
    }
    /** The upstream did not accept: the client still gets its WebSocket, closed at once with 1014. */
    const refused = (code: string, reason: string, err?: Error): void => {
      if (settled) return
      settle()
      upstream.on('error', ignore)
      upstream.terminate()
      breaker.failed(probe, request.log)
      request.upstreamError = code
      request.log.info({ integration: name, err: err === undefined ? undefined : { code: upstreamErrorCode(err), message: err.message } },
        `upstream refused the WebSocket: ${reason}`)
      const client = this.#accept(request, reply, upgrade, integration, limitHeaders)
      client?.close(1014, reasonText(reason))
    }
    const deadline = setTimeout(() => {
      refused('timeout', `${name} did not accept the WebSocket within ${integration.timeoutMs} ms`)
    }, integration.timeoutMs)
    const clientLeft = (): void => {
      if (settled) return
      settle()
      upstream.on('error', ignore)
      upstream.terminate()
      breaker.released(probe)
      request.clientClosed = true
      request.traceSpan?.end(request, 0, undefined)
    }
    const onUnexpected = (_req: unknown, res: IncomingMessage): void => {
      res.resume()
      refused(`http_${res.statusCode ?? 0}`, `${name} answered ${res.statusCode ?? 0} instead of accepting the WebSocket`)
    }
    const onError = (err: Error): void => {
      const failure = classifyUpstreamError(err)
      const why = failure.kind === 'unavailable' && failure.reason !== 'failed' ? failure.reason : `failed the WebSocket handshake (${err.message})`
      refused(upstreamErrorCode(err), `${name} ${why}`, err)
    }
    const onOpen = (): void => {
      if (settled) return
      settle()
      request.upstreamStatus = 101
      request.upstreamMs = performance.now() - startedAt
      breaker.succeeded(probe, request.log)
      upgrade.protocol = upstream.protocol === '' ? false : upstream.protocol
      const client = this.#accept(request, reply, upgrade, integration, limitHeaders)
      if (client === undefined) {
        upstream.on('error', ignore)
        upstream.close(1001, 'the client went away')
        return
      }
      const credential: Credential | undefined = principal === undefined
        ? undefined
        : { headers: credentialHeaders(req), query: queryOf(req.url ?? '') }
      const session = new Session(this, integration, client, upstream, request.log, principal, credential, request.ip)
      this.#add(session)
      if (this.#closing) session.close(1001, 'the gateway is shutting down')
    }
    /** Shutdown while the upstream is being reached: the client is still speaking HTTP, and gets the 503. */
    const shutDown = (): void => {
      if (settled) return
      settle()
      upstream.on('error', ignore)
      upstream.terminate()
      breaker.released(probe)
      sendProblem(request, reply, new GerbangError('SHUTTING_DOWN', 'the gateway is shutting down; retry on a new connection'))
    }
    this.#connecting.add(shutDown)
    socket.once('close', clientLeft)
    upstream.on('unexpected-response', onUnexpected)
    upstream.on('error', onError)
    upstream.on('open', onOpen)
  }

  /**
   * Completes the client's handshake (101, the upstream's subprotocol) and
   * writes the upgrade's access line. Undefined when the client has gone.
   */
  #accept (request: FastifyRequest, reply: FastifyReply, upgrade: PendingUpgrade, integration: Integration,
    limitHeaders: string[]): WebSocket | undefined {
    const { res, socket, head } = upgrade
    // From here the gateway writes to the socket itself.
    reply.hijack()
    const req = request.raw
    this.#pending.delete(req)
    res.off('finish', upgrade.answered)
    res.detachSocket(socket as Socket)
    upgrade.headerLines.push(`X-Request-Id: ${request.id}`)
    for (let i = 0; i < limitHeaders.length; i += 2) upgrade.headerLines.push(`${limitHeaders[i] as string}: ${limitHeaders[i + 1] as string}`)
    let client: WebSocket | undefined
    // Synchronous: ws completes the handshake at once (no verifyClient), or destroys a socket already closed.
    this.#current = upgrade
    try {
      this.#serverFor(integration.bodyLimit).handleUpgrade(req, socket, head, (ws) => { client = ws })
    } finally {
      this.#current = undefined
    }
    // The upgrade's access line and metrics: Fastify writes them on the response's 'finish'.
    res.statusCode = 101
    res.emit('finish')
    return client
  }

  /** The handshake server for messages of at most `maxPayload` bytes from the client (its integration's bodyLimit). */
  #serverFor (maxPayload: number): WebSocketServer {
    let server = this.#servers.get(maxPayload)
    if (server === undefined) {
      server = new WebSocketServer({
        noServer: true,
        clientTracking: false,
        perMessageDeflate: false,
        maxPayload,
        autoPong: false,
        handleProtocols: () => this.#current?.protocol ?? false
      })
      server.on('headers', (lines: string[]) => { if (this.#current !== undefined) lines.push(...this.#current.headerLines) })
      this.#servers.set(maxPayload, server)
    }
    return server
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

  /** Checks again the credential of every socket of `clientId` (of every client: undefined), closing those now refused. */
  #recheckClient (clientId: string | undefined): void {
    const sessions = clientId === undefined ? [...this.#byClient.values()].flatMap((s) => [...s]) : [...this.#byClient.get(clientId) ?? []]
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

function destroySocket (this: Duplex): void {
  this.destroy()
}

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
