import type { Dispatcher } from 'undici'

// When a failed attempt may be sent again, and after how long: pure
// functions of the request and the failure, used by the forwarder
// (src/proxy/upstream-attempts.ts) for retries and for failover to another target.

/**
 * Failures of the connection itself, before any response byte: refused,
 * reset, closed while the request was written or before the upstream
 * answered. Timeouts are not among them: a retry would wait as long again.
 */
const RETRYABLE_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET'])

/**
 * The backoff before retry n (0-based) is BACKOFF_BASE_MS × 2^n, jittered by
 * × 0.5–1.5 so clients that failed together do not come back together.
 */
const BACKOFF_BASE_MS = 25

/** Whether the failure (an error code) was the connection's, so that another attempt may succeed. */
export function isConnectionFailure (code: string): boolean {
  return RETRYABLE_CODES.has(code)
}

/** RFC 9110 section 9.2.2: sending these twice has the effect of sending them once. */
export function isIdempotent (method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS' || method === 'PUT' || method === 'DELETE'
}

/**
 * Whether the request can be sent again as it is: idempotent or with an
 * Idempotency-Key, and no streamed body (a stream is consumed by the first
 * attempt; a body kept whole can be sent again).
 */
export function isReplayable (options: Dispatcher.DispatchOptions, idempotencyKey: unknown): boolean {
  return (options.body === null || Buffer.isBuffer(options.body)) &&
    (isIdempotent(options.method) || idempotencyKey !== undefined)
}

/** How long to wait before retry `retry` (0-based); `random` in [0, 1). */
export function backoffMs (retry: number, random: number): number {
  return BACKOFF_BASE_MS * 2 ** retry * (0.5 + random)
}
