// Every error Gerbang itself answers with is defined here, once, with its HTTP
// status and code (CONTRACT.md section 6). Nothing else in the codebase invents
// a status for an error: it throws or sends a GerbangError with one of these.

export const codes = {
  // Client side
  BAD_REQUEST: { status: 400, title: 'Bad Request' },
  CREDENTIALS_MISSING: { status: 401, title: 'Unauthorized' },
  CREDENTIALS_INVALID: { status: 401, title: 'Unauthorized' },
  INTEGRATION_FORBIDDEN: { status: 403, title: 'Forbidden' },
  CORS_ORIGIN_FORBIDDEN: { status: 403, title: 'Forbidden' },
  ROUTE_NOT_FOUND: { status: 404, title: 'Not Found' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method Not Allowed' },
  REQUEST_TIMEOUT: { status: 408, title: 'Request Timeout' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Content Too Large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported Media Type' },
  RATE_LIMITED: { status: 429, title: 'Too Many Requests' },
  HEADERS_TOO_LARGE: { status: 431, title: 'Request Header Fields Too Large' },
  NOT_READY: { status: 503, title: 'Service Unavailable' },

  // Admin API (/admin/api/*)
  SESSION_REQUIRED: { status: 401, title: 'Unauthorized' },
  LOGIN_FAILED: { status: 401, title: 'Unauthorized' },
  CSRF_INVALID: { status: 403, title: 'Forbidden' },
  PERMISSION_DENIED: { status: 403, title: 'Forbidden' },
  NOT_FOUND: { status: 404, title: 'Not Found' },
  CONFLICT: { status: 409, title: 'Conflict' },

  // Gateway side
  INTERNAL_ERROR: { status: 500, title: 'Internal Server Error' },
  SHUTTING_DOWN: { status: 503, title: 'Service Unavailable' },
  OVERLOADED: { status: 503, title: 'Service Unavailable' },
  STORE_UNAVAILABLE: { status: 503, title: 'Service Unavailable' },

  // Upstream side
  UPSTREAM_UNAVAILABLE: { status: 502, title: 'Bad Gateway' },
  UPSTREAM_ERROR: { status: 502, title: 'Bad Gateway' },
  UPSTREAM_AUTH_FAILED: { status: 502, title: 'Bad Gateway' },
  UPSTREAM_CIRCUIT_OPEN: { status: 503, title: 'Service Unavailable' },
  UPSTREAM_TIMEOUT: { status: 504, title: 'Gateway Timeout' }
} as const satisfies Record<string, { status: number, title: string }>

export type ErrorCode = keyof typeof codes

/** Extra members a problem document may carry (RFC 9457 extension members). */
export type ProblemExtras = Record<string, string | number | boolean | string[] | undefined>

export class GerbangError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly extras: ProblemExtras | undefined
  /** Response headers that belong with this error, e.g. Retry-After or Allow. */
  readonly headers: Record<string, string> | undefined

  constructor (code: ErrorCode, detail: string, extras?: ProblemExtras, headers?: Record<string, string>) {
    super(detail)
    this.name = 'GerbangError'
    this.code = code
    this.status = codes[code].status
    this.extras = extras
    this.headers = headers
  }
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

/** Serialises an RFC 9457 problem document with the members CONTRACT.md promises. */
export function problemJson (err: GerbangError, instance: string, requestId: string): string {
  const spec = codes[err.code]
  const body: Record<string, unknown> = {
    type: 'about:blank',
    title: spec.title,
    status: spec.status,
    code: err.code,
    detail: err.message,
    instance,
    requestId,
    timestamp: new Date().toISOString()
  }
  if (err.extras !== undefined) {
    for (const key in err.extras) {
      if (err.extras[key] !== undefined) body[key] = err.extras[key]
    }
  }
  return JSON.stringify(body)
}

// ---------------------------------------------------------------------------
// Upstream failures (STYLE.md, "Upstream failure → status")

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
