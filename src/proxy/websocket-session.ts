import type { FastifyBaseLogger } from 'fastify'
import { WebSocket, type RawData } from 'ws'
import type { Authenticator } from '../auth/authenticator.js'
import type { Principal } from '../auth/principal.js'
import type { Integration } from '../config/routes-loader.js'
import { GerbangError } from '../errors.js'
import { classifyUpstreamError, upstreamErrorCode } from '../upstream-failure.js'

// One relayed WebSocket (src/proxy/websocket.ts opens them): frames passed on
// with backpressure both ways, closes relayed, idleTimeout, and the client's
// credential checked again when its client changes or expires.

/** Bytes waiting to be written to one side past which the other side is no longer read. */
const HIGH_WATER = 1024 * 1024
const LOW_WATER = 256 * 1024
/**
 * After the gateway starts a closing handshake, how long either side has to finish it before its socket is destroyed.
 */
const CLOSE_GRACE_MS = 1000
/** The most a WebSocket close reason may hold (RFC 6455 section 5.5: a 125-byte control frame less the code). */
const MAX_REASON_BYTES = 123
/** setTimeout's longest delay; an expiry further away is checked again then. */
const MAX_TIMER_MS = 2 ** 31 - 1

const BINARY = { binary: true }
const TEXT = { binary: false }

/** A code one side closed with, as the other side may be told it; undefined: close without a code. */
function relayableCode (code: number): number | undefined {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
    (code >= 3000 && code <= 4999)
    ? code
    : undefined
}

/** A close reason that fits a close frame, cut at a character boundary. */
export function reasonText (text: string): string {
  if (Buffer.byteLength(text) <= MAX_REASON_BYTES) return text
  let cut = text.slice(0, MAX_REASON_BYTES)
  while (Buffer.byteLength(cut) > MAX_REASON_BYTES - 3) cut = cut.slice(0, -1)
  return cut + '…'
}

/** What the client authenticated with, to check again when its client changes. */
export interface Credential {
  headers: { 'x-api-key'?: string, authorization?: string }
  query: string
}

/** What a session tells the relay that owns it. */
export interface SessionOwner {
  /** The upstream's side failed (counted in the metrics). */
  upstreamFailed: (integration: string, code: string) => void
  /** The session has ended on both sides. */
  removed: (session: Session) => void
  /** The session's credential is to be checked again (it expired). */
  recheckSession: (session: Session) => void
}

/**
 * One relayed WebSocket: the client's and the upstream's, messages, pings
 * and pongs passed on as they come; idleTimeout counts the silence across
 * both directions (one timer, re-armed from the time of the last frame).
 */
export class Session {
  readonly integration: Integration
  readonly clientId: string | undefined
  readonly #relay: SessionOwner
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

  constructor (relay: SessionOwner, integration: Integration, client: WebSocket, upstream: WebSocket,
    log: FastifyBaseLogger, principal: Principal | undefined, credential: Credential | undefined, address: string) {
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

  /**
   * The gateway ends the session: `code` and `reason` to the client, 1001 to the upstream; sockets destroyed after
   * CLOSE_GRACE_MS.
   */
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
        this.#log.warn({
          integration: this.integration.name,
          err: err === undefined ? undefined : { code: upstreamErrorCode(err), message: err.message }
        }, 'upstream websocket broke off; closing the client\'s with 1011')
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
