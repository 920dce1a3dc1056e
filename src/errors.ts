// Every error Gerbang itself answers with is defined here, once, with its HTTP
// status and code (docs/contract.md section 6). Nothing else in the codebase invents
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
  /** A one-time key link (/doc/key) that is unknown, already opened or expired; `reason` says which. */
  KEY_LINK_GONE: { status: 410, title: 'Gone' },
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

/** Serialises an RFC 9457 problem document with the members docs/contract.md promises. */
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
