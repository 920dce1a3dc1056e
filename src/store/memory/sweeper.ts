// What the in-memory store's parts share: reading entries that expire, and
// dropping the expired ones nobody reads again.

// Expired sessions, tokens and counter buckets are dropped when read; ones
// never read again are swept at most this often, on a write.
const SWEEP_EVERY_MS = 60_000

/** The entry under `key` unless it has expired, in which case it is dropped. */
export function live<T extends { expiresAt: number }> (
  entries: Map<string, T>, key: string, now = Date.now()
): T | undefined {
  const entry = entries.get(key)
  if (entry === undefined || entry.expiresAt > now) return entry
  entries.delete(key)
  return undefined
}

/** Orders by a string key in code-unit order, as Redis orders its sorted-set members. */
export function byKey<T> (key: (item: T) => string): (a: T, b: T) => number {
  return (a, b) => {
    const x = key(a)
    const y = key(b)
    return x < y ? -1 : x > y ? 1 : 0
  }
}

/**
 * One sweep for the whole store: a write to any part (a token, a session, a
 * counter, a heartbeat) sweeps every part's expired entries, at most once a
 * minute.
 */
export class MemorySweeper {
  #next = Date.now() + SWEEP_EVERY_MS
  readonly #sweeps: Array<(now: number) => void> = []

  /** Adds a part's sweep: it deletes what expired by `now`. */
  add (sweep: (now: number) => void): void {
    this.#sweeps.push(sweep)
  }

  /** Now, after a sweep when one is due. */
  sweepIfDue (): number {
    const now = Date.now()
    if (now < this.#next) return now
    this.#next = now + SWEEP_EVERY_MS
    for (const sweep of this.#sweeps) sweep(now)
    return now
  }
}
