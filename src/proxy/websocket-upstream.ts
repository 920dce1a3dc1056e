import type { IncomingMessage } from 'node:http'
import { WebSocket, type ClientOptions } from 'ws'
import { classifyUpstreamError, upstreamErrorCode } from '../upstream-failure.js'
import type { UpstreamConnectOptions } from './route-table.js'

// The upstream's side of a WebSocket upgrade (src/proxy/websocket.ts dials
// it once the client is admitted): the gateway's own WebSocket client, its
// deadline, and what a refusal was (a status, a timeout, a connection error).

/** One upgrade's dial, and what to do with its outcome. */
export interface UpstreamDial {
  /** ws:// or wss://, with the upstream path and query. */
  url: string
  /** The subprotocols the client offered. */
  protocols: string[] | undefined
  headers: Record<string, string>
  /** The socket options upstream HTTP connections get (DNS lookup, CA bundle). */
  connect: UpstreamConnectOptions
  /** The integration's name, for the refusal reasons. */
  name: string
  timeoutMs: number
  /** The upstream accepted: its socket is open, `handshakeMs` after the dial. */
  accepted: (upstream: WebSocket, handshakeMs: number) => void
  /** The upstream did not accept; its socket is already gone. `code` is the metrics' upstream error code. */
  refused: (code: string, reason: string, err?: Error) => void
}

// The upstream hop is the gateway's own client, not a browser: masking
// (which protects proxies on a browser's path) is done with a zero key, so
// ws sends each relayed message as it is instead of a masked copy.
function zeroMask (mask: Buffer): void {
  mask.fill(0)
}

function ignore (): void {}

/**
 * Opens the upstream's WebSocket: exactly one of `accepted` and `refused`
 * is called, later, unless the function returned (give up: the upstream's
 * socket is dropped) is called first. Throws when ws cannot start the
 * handshake at all (a URL or header it refuses).
 */
export function dialUpstream (dial: UpstreamDial): () => void {
  const options: ClientOptions & UpstreamConnectOptions = {
    ...dial.connect,
    headers: dial.headers,
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
  const upstream = new WebSocket(dial.url, dial.protocols, options)
  const { name, timeoutMs } = dial
  const startedAt = performance.now()
  let settled = false
  /** True the first time only: the outcome is decided, the listeners go. */
  const settle = (): boolean => {
    if (settled) return false
    settled = true
    clearTimeout(deadline)
    upstream.off('unexpected-response', onUnexpected)
    upstream.off('error', onError)
    upstream.off('open', onOpen)
    return true
  }
  const drop = (): void => {
    upstream.on('error', ignore)
    upstream.terminate()
  }
  const refused = (code: string, reason: string, err?: Error): void => {
    if (!settle()) return
    drop()
    dial.refused(code, reason, err)
  }
  const deadline = setTimeout(() => {
    refused('timeout', `${name} did not accept the WebSocket within ${timeoutMs} ms`)
  }, timeoutMs)
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
    if (!settle()) return
    dial.accepted(upstream, performance.now() - startedAt)
  }
  upstream.on('unexpected-response', onUnexpected)
  upstream.on('error', onError)
  upstream.on('open', onOpen)
  return () => {
    if (settle()) drop()
  }
}
