import type { IncomingMessage } from 'node:http'
import type { Integration } from '../config/routes-loader.js'
import { GerbangError } from '../errors.js'

// The WebSocket opening handshake (RFC 6455 section 4) as the gateway checks
// it before credentials are looked at, and the handshake headers it does
// not pass on to the upstream (src/proxy/websocket.ts opens its own).

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
export function offeredProtocols (req: IncomingMessage): string[] | undefined {
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

/**
 * The flat header list built for HTTP as the `headers` object the ws client takes, without the client's handshake
 * headers.
 */
export function handshakeHeaders (flat: string[]): Record<string, string> {
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
