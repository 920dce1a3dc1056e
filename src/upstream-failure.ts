// Upstream failures (docs/errors.md): what an error
// thrown by undici or Node while talking to an upstream means for the
// client's answer, the retry decision, logs and metrics. The error codes
// themselves are src/errors.ts's; this module depends on them, not the reverse.
import type { ErrorCode } from './errors.js'

export type UpstreamFailure =
  | { kind: 'timeout', phase: 'connect' | 'response' }
  | { kind: 'unavailable', reason: string }
  | { kind: 'client-closed' }

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT'
])

const UNAVAILABLE_REASONS: Record<string, string> = {
  ECONNREFUSED: 'refused the connection',
  ECONNRESET: 'reset the connection',
  EPIPE: 'closed the connection while the request was being sent',
  UND_ERR_SOCKET: 'closed the connection',
  EHOSTUNREACH: 'is unreachable',
  ENETUNREACH: 'is unreachable',
  ENOTFOUND: 'could not be resolved (DNS)',
  EAI_AGAIN: 'could not be resolved (DNS lookup failed temporarily)',
  UND_ERR_HEADERS_OVERFLOW: 'sent response headers that are too large',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'sent a body that does not match its Content-Length',
  UND_ERR_INFO: 'sent a malformed response'
}

interface CodedError { code?: unknown, cause?: unknown, name?: unknown }

function errorCode (err: unknown): string | undefined {
  const e = err as CodedError | null
  if (e === null || typeof e !== 'object') return undefined
  return typeof e.code === 'string' ? e.code : undefined
}

/**
 * The first code on the error's cause chain (undici wraps Node's errors), for
 * metrics, logs and the retry decision; 'unknown' when there is none.
 */
export function upstreamErrorCode (err: unknown): string {
  let current: unknown = err
  for (let depth = 0; depth < 4 && current != null; depth++) {
    const code = errorCode(current)
    if (code !== undefined) return code
    current = (current as CodedError).cause
  }
  return 'unknown'
}

/**
 * The upstream broke off a response already under way. An operational event
 * like any upstream failure: the access line is a warning, and carries no
 * stack (it says nothing about the gateway's code).
 */
export class UpstreamCutOffError extends Error {
  constructor (code: string) {
    super(`upstream failed after the response started (${code})`)
    this.name = 'UpstreamCutOffError'
    this.stack = `${this.name}: ${this.message}`
  }
}

/**
 * Classifies an error thrown by undici or Node while talking to an upstream.
 * Libraries wrap errors, so the cause chain is read too.
 */
export function classifyUpstreamError (err: unknown): UpstreamFailure {
  let current: unknown = err
  for (let depth = 0; depth < 4 && current != null; depth++) {
    const code = errorCode(current)
    if (code !== undefined) {
      if (code === 'UND_ERR_ABORTED') return { kind: 'client-closed' }
      if (TIMEOUT_CODES.has(code)) {
        return { kind: 'timeout', phase: code === 'UND_ERR_CONNECT_TIMEOUT' ? 'connect' : 'response' }
      }
      const reason = UNAVAILABLE_REASONS[code]
      if (reason !== undefined) return { kind: 'unavailable', reason }
      if (code.startsWith('HPE_')) return { kind: 'unavailable', reason: 'sent a malformed HTTP response' }
      if (code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || code.includes('CERT') || code.startsWith('UNABLE_TO_')) {
        return { kind: 'unavailable', reason: 'failed the TLS handshake' }
      }
    }
    // undici's parser errors carry no code when llhttp gives none.
    if ((current as CodedError).name === 'HTTPParserError') return { kind: 'unavailable', reason: 'sent a malformed HTTP response' }
    current = (current as CodedError).cause
  }
  return { kind: 'unavailable', reason: 'failed' }
}

/**
 * What to answer when the upstream itself answered with an error status.
 * 503 is passed through untouched (maintenance, with its Retry-After);
 * everything under 500 is the upstream's business and passes through too.
 */
export function upstreamStatusError (status: number): ErrorCode | undefined {
  if (status < 500 || status === 503) return undefined
  if (status === 504) return 'UPSTREAM_TIMEOUT'
  return 'UPSTREAM_ERROR'
}

/** Logs an upstream error by its code and message, never its stack or request options. */
export function errorSummary (err: Error): { code: unknown, message: string, cause?: unknown } {
  const cause = (err as { cause?: { code?: unknown, message?: unknown } }).cause
  return {
    code: (err as { code?: unknown }).code,
    message: err.message,
    ...(cause !== undefined ? { cause: { code: cause.code, message: cause.message } } : {})
  }
}

/** How the forwarder ends an attempt whose client left; classified as client-closed. */
export class ClientClosedError extends Error {
  readonly code = 'UND_ERR_ABORTED'
  constructor () {
    super('client closed the connection')
  }
}
