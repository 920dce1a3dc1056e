import { setTimeout as sleep } from 'node:timers/promises'
import { GerbangError } from '../errors.js'
import type { LimitStore } from '../store/types.js'

// Guessing passwords is slowed three ways, with counts kept in the store so
// every gateway process shares them, and scrypt runs a few at a time, because
// each verification takes ~128 MiB and a quarter second of CPU.
//
// - One address guessing one account is stopped after PAIR_FAILURES.
// - One address guessing many accounts is stopped after ADDRESS_FAILURES.
// - An account guessed at from many addresses is never locked (knowing an
//   admin's email must not be enough to lock them out): each further attempt
//   is answered more slowly, up to ACCOUNT_DELAY_MAX_MS, the right password too.
// The address is the client's as GERBANG_TRUST_PROXY defines it, so behind a
// load balancer one client's failures never lock out everyone else.

export const LOGIN_WINDOW_MS = 15 * 60_000
/** Failed sign-ins to one account from one address per window; then that pair waits for the window's end. */
export const PAIR_FAILURES = 5
/** Failed sign-ins from one address per window, to any account: an office behind one NAT may hold several admins. */
export const ADDRESS_FAILURES = 20
/** Failed sign-ins to one account, from anywhere, before each further attempt is slowed. */
export const ACCOUNT_FAILURES_BEFORE_DELAY = 5
const ACCOUNT_DELAY_BASE_MS = 250
export const ACCOUNT_DELAY_MAX_MS = 8_000
/** A limit never reached: the account's counter only counts. */
const COUNT_ONLY = 1_000_000
const CONCURRENT_VERIFICATIONS = 2
const QUEUED_VERIFICATIONS = 16
const GROUP = 'admin-login'

export interface LoginAttempt {
  /** Gives the attempt back: a successful login does not count as a failure. */
  succeeded: () => Promise<void>
}

/** How long an attempt on an account waits after `failures` failures on it from anywhere. */
export function accountDelayMs (failures: number): number {
  if (failures < ACCOUNT_FAILURES_BEFORE_DELAY) return 0
  return Math.min(ACCOUNT_DELAY_BASE_MS * 2 ** (failures - ACCOUNT_FAILURES_BEFORE_DELAY), ACCOUNT_DELAY_MAX_MS)
}

export class LoginGuard {
  readonly #store: LimitStore
  #running = 0
  readonly #waiting: Array<() => void> = []

  constructor (store: LimitStore) {
    this.#store = store
  }

  /**
   * Counts one attempt before the password is checked: a 429 error when the
   * address, or the address on this account, has no attempts left; a delay
   * first when the account has failed often.
   */
  async begin (email: string, address: string): Promise<LoginAttempt | GerbangError> {
    const account = email.toLowerCase()
    const keys = [`pair:${account}|${address}`, `ip:${address}`, `acct:${account}`]
    const lease = await this.#store.lease(GROUP, [
      { key: keys[0] as string, limit: PAIR_FAILURES, windowMs: LOGIN_WINDOW_MS },
      { key: keys[1] as string, limit: ADDRESS_FAILURES, windowMs: LOGIN_WINDOW_MS },
      { key: keys[2] as string, limit: COUNT_ONLY, windowMs: LOGIN_WINDOW_MS }
    ], 1, 1)
    if (lease.granted === 0) {
      const waitMs = Math.max(...lease.resetMs.filter((_ms, i) => (lease.remaining[i] ?? 0) <= 0), 1000)
      const seconds = Math.ceil(waitMs / 1000)
      return new GerbangError('RATE_LIMITED', `too many failed logins from this address; try again in ${seconds} s`,
        { retryAfter: seconds, lockout: true }, { 'retry-after': String(seconds) })
    }
    const delay = accountDelayMs(COUNT_ONLY - (lease.remaining[2] ?? COUNT_ONLY) - 1)
    if (delay > 0) await sleep(delay)
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
