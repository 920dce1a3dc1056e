// The LimitStore role (src/store/types.ts): fixed-window counters shared by
// every gateway process, leased in batches (src/limits/rate-limiter.ts, the
// admin login guard, the OAuth2 token and key-request throttles), and the
// heartbeat that tells how many processes share them.
// Implemented by src/store/{memory,redis,disk}/limits.ts; its contract
// tests: test/store/contract/limits.ts.

/** One fixed-window counter: its key, limit and window. */
export interface WindowCounter {
  key: string
  limit: number
  windowMs: number
}

/** What a lease got: tokens granted, and each counter's remaining room and time to reset after it. */
export interface Lease {
  granted: number
  remaining: number[]
  resetMs: number[]
}

export interface LimitStore {
  /**
   * Takes tokens from every counter at once, atomically and in one round
   * trip: as many as all of them have room for, up to a share of that room
   * (room ÷ (4 × liveProcesses), at least 1, at most `cap`) so that processes
   * sharing a limit each get some. Windows start at a counter's first token.
   * All keys of one call share a partition (`group`), so they stay in one
   * Redis Cluster slot.
   */
  lease (group: string, counters: readonly WindowCounter[], liveProcesses: number, cap: number): Promise<Lease>
  /**
   * Gives back tokens leased but not spent, to counters whose windows are
   * still running (a daily quota outlives the minute window of its lease).
   */
  release (group: string, keys: readonly string[], tokens: number): Promise<void>
  /** Announces this process as alive for ttlMs and answers how many are alive now. */
  heartbeat (processId: string, ttlMs: number): Promise<number>
}
