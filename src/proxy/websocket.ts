import { randomUUID } from 'node:crypto'
import { ServerResponse, type IncomingMessage, type Server } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import { WebSocket, WebSocketServer, type ClientOptions, type RawData } from 'ws'
import type { Authenticator, Principal } from '../auth/authenticator.js'
import type { Integration } from '../config/routes-loader.js'
import { classifyUpstreamError, GerbangError, PROBLEM_CONTENT_TYPE, problemJson, upstreamErrorCode } from '../errors.js'
import { pathOnly, sendProblem } from '../http/problem.js'
import type { GatewayMetrics } from '../ops/metrics.js'
import { saneRequestId, upstreamRequestHeaders } from './headers.js'
import type { Route, UpstreamConnectOptions } from './route-table.js'

// WebSocket on integrations with `websocket: true` (CONTRACT.md section 9).
//
// An upgrade request is served by the same Fastify route as any request:
// the listener below gives it a ServerResponse on its socket and hands it to
// the server's request handler, so the Host check, the hooks (load
// shedding), routing, credentials, grants and the rate limit are the ones
// every request meets, and a refusal is the usual problem+json, access line
// and metrics included. The proxy route (src/proxy/index.ts) asks
// `webSocketRefusal` before authenticating and, once the request is
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
// here), with backpressure: a side whose peer has more than HIGH_WATER bytes
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

/** Bytes waiting to be written to one side past which the other side is no longer read. */
const HIGH_WATER = 1024 * 1024
const LOW_WATER = 256 * 1024
/** After the gateway starts a closing handshake, how long either side has to finish it before its socket is destroyed. */
const CLOSE_GRACE_MS = 1000
/** The most a WebSocket close reason may hold (RFC 6455 section 5.5: a 125-byte control frame less the code). */
const MAX_REASON_BYTES = 123
/** setTimeout's longest delay; an expiry further away is checked again then. */
const MAX_TIMER_MS = 2 ** 31 - 1

const BINARY = { binary: true }
const TEXT = { binary: false }

// Handshake headers of the client's hop: the gateway's connection to the
// upstream makes its own. Upgrade and Connection are hop-by-hop already.
const HANDSHAKE_HEADERS = new Set(['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions',
  'sec-websocket-protocol', 'sec-websocket-accept'])

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** Whether a request asks to become a WebSocket (its Upgrade names `websocket`). */
export function isWebSocketUpgrade (req: IncomingMessage): boolean {
  const upgrade = req.headers.upgrade
  if (upgrade === undefined) return false
  if (upgrade.length === 9 && upgrade.toLowerCase() === 'websocket') return true
  return upgrade.split(',').some((token) => token.trim().toLowerCase() === 'websocket')
}

/** The subprotocols the client offers, or undefined when its Sec-WebSocket-Protocol is malformed. */
function offeredProtocols (req: IncomingMessage): string[] | undefined {
  const header = req.headers['sec-websocket-protocol']
  if (header === undefined) return []
  const protocols = header.split(',').map((p) => p.trim())
  if (protocols.some((p) => !TOKEN.test(p)) || new Set(protocols).size !== protocols.length) return undefined
  return protocols
}

/**
 * Why a WebSocket upgrade to `integration` is refused before its
 * credentials are even looked at, or undefined: the integration does not
 * accept WebSocket, or the handshake is not one RFC 6455 allows.
 */
export function webSocketRefusal (req: IncomingMessage, integration: Integration): GerbangError | undefined {
  if (!integration.websocket) {
    return new GerbangError('BAD_REQUEST', `${integration.name} does not accept WebSocket connections`)
  }
  if (req.method !== 'GET') return new GerbangError('BAD_REQUEST', 'a WebSocket upgrade must be a GET request')
  if (req.headers['sec-websocket-version'] !== '13') {
    return new GerbangError('BAD_REQUEST', 'the WebSocket upgrade must say Sec-WebSocket-Version: 13', undefined,
      { 'sec-websocket-version': '13' })
  }
  const key = req.headers['sec-websocket-key']
  if (key === undefined || !/^[+/0-9A-Za-z]{21}[AQgw]==$/.test(key)) {
    return new GerbangError('BAD_REQUEST', 'the WebSocket upgrade has no valid Sec-WebSocket-Key')
  }
  if (offeredProtocols(req) === undefined) return new GerbangError('BAD_REQUEST', 'the Sec-WebSocket-Protocol header is malformed')
  if (req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0') {
    return new GerbangError('BAD_REQUEST', 'a WebSocket upgrade has no body')
  }
  return undefined
}

/** A code one side closed with, as the other side may be told it; undefined: close without a code. */
function relayableCode (code: number): number | undefined {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999)
    ? code
    : undefined
}

/** A close reason that fits a close frame, cut at a character boundary. */
function reasonText (text: string): string {
  if (Buffer.byteLength(text) <= MAX_REASON_BYTES) return text
  let cut = text.slice(0, MAX_REASON_BYTES)
  while (Buffer.byteLength(cut) > MAX_REASON_BYTES - 3) cut = cut.slice(0, -1)
  return cut + '…'
}

/** The flat header list built for HTTP as the `headers` object the ws client takes, without the client's handshake headers. */
function handshakeHeaders (flat: string[]): Record<string, string> {
  const headers: Record<string, string> = {}
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i] as string
    if (HANDSHAKE_HEADERS.has(name)) continue
    const value = flat[i + 1] as string
    const seen = headers[name]
    headers[name] = seen === undefined ? value : `${seen}${name === 'cookie' ? '; ' : ', '}${value}`
  }
  return headers
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

/** What the client authenticated with, to check again when its client changes. */
interface Credential {
  headers: { 'x-api-key'?: string, authorization?: string }
  query: string
}

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
function zeroMask (mask: Buffer): void {
  mask.fill(0)
}

export class WebSocketRelay {
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

/**
 * One relayed WebSocket: the client's and the upstream's, messages, pings
 * and pongs passed on as they come; idleTimeout counts the silence across
 * both directions (one timer, re-armed from the time of the last frame).
 */
export class Session {
  readonly integration: Integration
  readonly clientId: string | undefined
  readonly #relay: WebSocketRelay
  readonly #client: WebSocket
  readonly #upstream: WebSocket
  readonly #log: FastifyBaseLogger
  readonly #credential: Credential | undefined
  readonly #address: string
  readonly #openedAt = performance.now()
  #last = this.#openedAt
  #timer: NodeJS.Timeout | undefined
  #expiry: NodeJS.Timeout | undefined
  #clientPaused = false
  #upstreamPaused = false
  /** The gateway started the closing handshake (idle, revoked, reload, shutdown). */
  #closing = false
  #closedBy: 'client' | 'upstream' | 'gateway' | undefined
  #closeCode = 0
  #closeReason = ''
  #upstreamError: Error | undefined
  #ended = false
  #messagesIn = 0
  #messagesOut = 0
  #bytesIn = 0
  #bytesOut = 0

  constructor (relay: WebSocketRelay, integration: Integration, client: WebSocket, upstream: WebSocket, log: FastifyBaseLogger,
    principal: Principal | undefined, credential: Credential | undefined, address: string) {
    this.#relay = relay
    this.integration = integration
    this.clientId = principal?.id
    this.#client = client
    this.#upstream = upstream
    this.#log = log
    this.#credential = credential
    this.#address = address
    this.#timer = setTimeout(this.#onTimer, integration.idleTimeoutMs)
    if (principal !== undefined) this.#watchExpiry(principal)

    client.on('message', (data: RawData, isBinary: boolean) => {
      this.#last = performance.now()
      this.#messagesIn++
      this.#bytesIn += (data as Buffer).length
      if (upstream.readyState !== WebSocket.OPEN) return
      upstream.send(data, isBinary ? BINARY : TEXT, this.#sentUpstream)
      if (!this.#clientPaused && upstream.bufferedAmount > HIGH_WATER) {
        this.#clientPaused = true
        client.pause()
      }
    })
    upstream.on('message', (data: RawData, isBinary: boolean) => {
      this.#last = performance.now()
      this.#messagesOut++
      this.#bytesOut += (data as Buffer).length
      if (client.readyState !== WebSocket.OPEN) return
      client.send(data, isBinary ? BINARY : TEXT, this.#sentClient)
      if (!this.#upstreamPaused && client.bufferedAmount > HIGH_WATER) {
        this.#upstreamPaused = true
        upstream.pause()
      }
    })
    client.on('ping', (data: Buffer) => { this.#control(upstream, 'ping', data) })
    client.on('pong', (data: Buffer) => { this.#control(upstream, 'pong', data) })
    upstream.on('ping', (data: Buffer) => { this.#control(client, 'ping', data) })
    upstream.on('pong', (data: Buffer) => { this.#control(client, 'pong', data) })
    client.on('error', (err: Error) => {
      this.#log.debug({ err: { code: upstreamErrorCode(err), message: err.message }, integration: integration.name }, 'websocket client error')
    })
    upstream.on('error', (err: Error) => { this.#upstreamError = err })
    client.on('close', (code: number, reason: Buffer) => { this.#clientClosed(code, reason) })
    upstream.on('close', (code: number, reason: Buffer) => { this.#upstreamClosed(code, reason) })
  }

  readonly #sentUpstream = (err?: Error): void => {
    if (err !== undefined && err !== null) return
    this.#last = performance.now()
    if (this.#clientPaused && this.#upstream.bufferedAmount <= LOW_WATER) {
      this.#clientPaused = false
      this.#client.resume()
    }
  }

  readonly #sentClient = (err?: Error): void => {
    if (err !== undefined && err !== null) return
    this.#last = performance.now()
    if (this.#upstreamPaused && this.#client.bufferedAmount <= LOW_WATER) {
      this.#upstreamPaused = false
      this.#upstream.resume()
    }
  }

  #control (to: WebSocket, kind: 'ping' | 'pong', data: Buffer): void {
    this.#last = performance.now()
    if (to.readyState !== WebSocket.OPEN) return
    if (kind === 'ping') to.ping(data)
    else to.pong(data)
  }

  /** Idle check, or the end of the grace a closing handshake had. */
  readonly #onTimer = (): void => {
    this.#timer = undefined
    if (this.#closing) {
      this.#client.terminate()
      this.#upstream.terminate()
      return
    }
    const idleMs = this.integration.idleTimeoutMs
    const silentMs = performance.now() - this.#last
    if (silentMs < idleMs) {
      this.#timer = setTimeout(this.#onTimer, idleMs - silentMs)
      return
    }
    this.#log.info({ integration: this.integration.name, idleMs }, 'websocket idle for idleTimeout; closing it')
    this.close(1001, `no message either way for ${idleMs} ms (idleTimeout)`)
  }

  /** The gateway ends the session: `code` and `reason` to the client, 1001 to the upstream; sockets destroyed after CLOSE_GRACE_MS. */
  close (code: number, reason: string): void {
    if (this.#closing || this.#ended) return
    this.#closing = true
    if (this.#closedBy === undefined) {
      this.#closedBy = 'gateway'
      this.#closeCode = code
      this.#closeReason = reason
    }
    clearTimeout(this.#timer)
    this.#timer = setTimeout(this.#onTimer, CLOSE_GRACE_MS)
    const text = reasonText(reason)
    if (this.#client.readyState === WebSocket.OPEN) this.#client.close(code, text)
    if (this.#upstream.readyState === WebSocket.OPEN) this.#upstream.close(1001, text)
  }

  #clientClosed (code: number, reason: Buffer): void {
    if (this.#closedBy === undefined) {
      this.#closedBy = 'client'
      this.#closeCode = code
      this.#closeReason = reason.toString()
    }
    const upstream = this.#upstream
    if (upstream.readyState === WebSocket.OPEN) {
      const relay = relayableCode(code)
      if (relay !== undefined) upstream.close(relay, reason)
      else upstream.close(code === 1005 ? undefined : 1001, code === 1005 ? undefined : 'the client went away')
    }
    this.#maybeEnd()
  }

  #upstreamClosed (code: number, reason: Buffer): void {
    const client = this.#client
    if (this.#closedBy === undefined) {
      this.#closedBy = 'upstream'
      this.#closeCode = code
      this.#closeReason = reason.toString()
      if (code === 1006) {
        // The upstream's connection broke without a closing handshake.
        const err = this.#upstreamError
        const failure = err === undefined ? 'closed the connection' : classifyUpstreamError(err)
        const why = typeof failure === 'string' ? failure : failure.kind === 'unavailable' ? failure.reason : 'failed'
        this.#log.warn({ integration: this.integration.name, err: err === undefined ? undefined : { code: upstreamErrorCode(err), message: err.message } },
          'upstream websocket broke off; closing the client\'s with 1011')
        this.#relay.upstreamFailed(this.integration.name, err === undefined ? 'websocket_closed' : upstreamErrorCode(err))
        if (client.readyState === WebSocket.OPEN) client.close(1011, reasonText(`${this.integration.name} ${why} unexpectedly`))
      }
    }
    if (client.readyState === WebSocket.OPEN) {
      const relay = relayableCode(code)
      if (relay !== undefined) client.close(relay, reason)
      else client.close(code === 1005 ? undefined : 1011, code === 1005 ? undefined : `${this.integration.name} went away`)
    }
    this.#maybeEnd()
  }

  #maybeEnd (): void {
    if (this.#ended || this.#client.readyState !== WebSocket.CLOSED || this.#upstream.readyState !== WebSocket.CLOSED) {
      // The other side is still closing: its 'close' comes (or the grace timer ends it).
      if (!this.#closing && !this.#ended) {
        this.#closing = true
        clearTimeout(this.#timer)
        this.#timer = setTimeout(this.#onTimer, CLOSE_GRACE_MS)
      }
      return
    }
    this.#ended = true
    clearTimeout(this.#timer)
    clearTimeout(this.#expiry)
    this.#relay.removed(this)
    this.#log.info({
      integration: this.integration.name,
      client: this.clientId,
      durationMs: Math.round(performance.now() - this.#openedAt),
      closedBy: this.#closedBy,
      code: this.#closeCode === 0 ? undefined : this.#closeCode,
      reason: this.#closeReason === '' ? undefined : this.#closeReason,
      messagesIn: this.#messagesIn,
      messagesOut: this.#messagesOut,
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut
    }, 'websocket closed')
  }

  /** The credential as a key for sharing one look-up between sockets. */
  credentialKey (): string {
    const c = this.#credential
    return c === undefined ? '' : `${c.headers['x-api-key'] ?? ''}\n${c.headers.authorization ?? ''}\n${c.query}\n${this.integration.name}\n${this.#address}`
  }

  /** Authenticates the socket's credential again (the client changed, or the credential expires now). */
  async authenticate (authenticator: Authenticator): Promise<Principal | GerbangError> {
    const credential = this.#credential
    if (credential === undefined) return new GerbangError('INTERNAL_ERROR', 'nothing to check')
    return await authenticator.authenticate(credential.headers, credential.query, this.integration, this.#address)
  }

  /** The outcome of `authenticate`: a refusal closes the socket with 1008 (policy violation). */
  rechecked (outcome: Principal | GerbangError): void {
    if (this.#ended || this.#credential === undefined) return
    if (!(outcome instanceof GerbangError)) {
      this.#watchExpiry(outcome)
      return
    }
    // Unknown for now: the socket stays until the store answers again.
    if (outcome.code === 'STORE_UNAVAILABLE' || outcome.code === 'INTERNAL_ERROR') return
    this.#log.info({ integration: this.integration.name, client: this.clientId, code: outcome.code }, `websocket closed: ${outcome.message}`)
    this.close(1008, outcome.message)
  }

  /** A credential that expires is checked again then (an expired one is refused). */
  #watchExpiry (principal: Principal): void {
    clearTimeout(this.#expiry)
    this.#expiry = undefined
    if (principal.expiresAt === Infinity) return
    const relay = this.#relay
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, principal.expiresAt - Date.now() + 1))
    this.#expiry = setTimeout(() => { relay.recheckSession(this) }, delay)
  }
}
