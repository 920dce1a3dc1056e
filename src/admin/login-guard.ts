import { GerbangError } from '../errors.js'
import type { Store } from '../store/types.js'

// Guessing passwords is slowed twice over: failed logins are counted per
// account and per source address in the store (so every gateway process
// shares the count), and scrypt runs a few at a time, because each
// verification takes ~128 MiB and a quarter second of CPU.

export const LOGIN_WINDOW_MS = 15 * 60_000
/** Failed logins per account per window. Low, since only people log in here. */
export const ACCOUNT_FAILURES = 5
/** Failed logins per source address per window: an office behind one NAT may hold several admins. */
export const ADDRESS_FAILURES = 20
const CONCURRENT_VERIFICATIONS = 2
const QUEUED_VERIFICATIONS = 16
const GROUP = 'admin-login'

export interface LoginAttempt {
  /** Gives the attempt back: a successful login does not count as a failure. */
  succeeded: () => Promise<void>
}

export class LoginGuard {
  readonly #store: Store
  #running = 0
  readonly #waiting: Array<() => void> = []

  constructor (store: Store) {
    this.#store = store
  }

  /**
   * Counts one attempt against the account and the address before the
   * password is checked; a 429 error when either has no attempts left.
   */
  async begin (email: string, address: string): Promise<LoginAttempt | GerbangError> {
    const keys = [`acct:${email.toLowerCase()}`, `ip:${address}`]
    const lease = await this.#store.lease(GROUP, [
      { key: keys[0] as string, limit: ACCOUNT_FAILURES, windowMs: LOGIN_WINDOW_MS },
      { key: keys[1] as string, limit: ADDRESS_FAILURES, windowMs: LOGIN_WINDOW_MS }
    ], 1, 1)
    if (lease.granted === 0) {
      const waitMs = Math.max(...lease.resetMs.filter((_ms, i) => (lease.remaining[i] ?? 0) <= 0), 1000)
      const seconds = Math.ceil(waitMs / 1000)
      return new GerbangError('RATE_LIMITED', `too many failed logins; try again in ${seconds} s`,
        { retryAfter: seconds }, { 'retry-after': String(seconds) })
    }
    return { succeeded: async () => { await this.#store.release(GROUP, keys, 1) } }
  }

  /** Runs a password verification when a slot is free; undefined when too many are waiting. */
  async verify<T> (work: () => Promise<T>): Promise<T | undefined> {
    if (this.#running >= CONCURRENT_VERIFICATIONS) {
      if (this.#waiting.length >= QUEUED_VERIFICATIONS) return undefined
      await new Promise<void>((resolve) => { this.#waiting.push(resolve) })
    } else {
      this.#running++
    }
    try {
      return await work()
    } finally {
      // The slot passes straight to the next waiter, or is freed.
      const next = this.#waiting.shift()
      if (next !== undefined) next()
      else this.#running--
    }
  }
}
