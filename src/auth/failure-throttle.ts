// Throttling repeated invalid credentials from one address (issue 20,
// finding 6). Per process and in memory: only failures are counted, so a
// valid credential never touches it, and a flood of bad ones costs a map
// lookup each, never a store round trip.
//
// Each address gets a fixed window that starts at its first failure. Past
// `limit` failures in the window, the caller answers further failures from
// that address 429 RATE_LIMITED with Retry-After the rest of the window,
// instead of 401. Valid credentials from the address are still answered as
// usual: a hospital behind one NAT address is not locked out because one of
// its machines has a stale key.

/** Failures an address may have in one window before its failures are answered 429. */
export const FAILURE_LIMIT = 20
export const FAILURE_WINDOW_MS = 60_000
/** What a 429 for too many failures names in `violatedPolicies`. */
export const FAILURE_POLICY = 'invalid-credentials'
/** Addresses remembered at once; past it, the windows that began longest ago are forgotten. */
export const MAX_FAILURE_ADDRESSES = 10_000

export interface FailureThrottleOptions {
  limit?: number
  windowMs?: number
  maxAddresses?: number
  /** Called when an address first goes past the limit in a window (to log it once, not every refusal). */
  onLimit?: (addressKey: string, windowEndsInMs: number) => void
}

interface Window {
  count: number
  resetAt: number
}

export class FailureThrottle {
  readonly limit: number
  readonly windowMs: number
  readonly #maxAddresses: number
  readonly #onLimit: ((addressKey: string, windowEndsInMs: number) => void) | undefined
  // In the order the windows began (a new window is re-inserted), so the
  // expired ones are always at the front.
  readonly #windows = new Map<string, Window>()

  constructor (options: FailureThrottleOptions = {}) {
    this.limit = options.limit ?? FAILURE_LIMIT
    this.windowMs = options.windowMs ?? FAILURE_WINDOW_MS
    this.#maxAddresses = options.maxAddresses ?? MAX_FAILURE_ADDRESSES
    this.#onLimit = options.onLimit
    for (const [name, value] of [['limit', this.limit], ['windowMs', this.windowMs], ['maxAddresses', this.#maxAddresses]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new Error(`FailureThrottle: ${name} must be a positive integer (got ${value})`)
    }
  }

  /** How many addresses are remembered (for tests). */
  get size (): number {
    return this.#windows.size
  }

  /**
   * Counts one failed attempt from `address`. Returns 0 while the address is
   * within its limit, else the ms until its window ends (at least 1).
   * An unknown address (a socket already gone) is not counted.
   */
  fail (address: string | undefined, now = Date.now()): number {
    if (address === undefined || address === '') return 0
    const key = addressKey(address)
    let window = this.#windows.get(key)
    if (window === undefined || window.resetAt <= now) {
      if (window !== undefined) this.#windows.delete(key)
      this.#makeRoom(now)
      window = { count: 0, resetAt: now + this.windowMs }
      this.#windows.set(key, window)
    }
    window.count += 1
    if (window.count <= this.limit) return 0
    const waitMs = Math.max(1, window.resetAt - now)
    if (window.count === this.limit + 1) this.#onLimit?.(key, waitMs)
    return waitMs
  }

  #makeRoom (now: number): void {
    for (const [key, window] of this.#windows) {
      if (window.resetAt > now && this.#windows.size < this.#maxAddresses) break
      this.#windows.delete(key)
    }
  }
}

/**
 * What failures are counted under: an IPv4 address as it is (IPv4-mapped
 * IPv6 included), an IPv6 address by its /64, which one host or one
 * subscriber usually has whole, so stepping through it gains nothing.
 */
export function addressKey (address: string): string {
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7)
  if (!address.includes(':')) return address
  const zone = address.indexOf('%')
  const text = zone === -1 ? address : address.slice(0, zone)
  const gap = text.indexOf('::')
  let groups: string[]
  if (gap === -1) {
    groups = text.split(':')
  } else {
    const head = gap === 0 ? [] : text.slice(0, gap).split(':')
    const rest = text.slice(gap + 2)
    const tail = rest === '' ? [] : rest.split(':')
    // A trailing dotted IPv4 part stands for two groups.
    const tailGroups = tail.length + ((tail.at(-1) ?? '').includes('.') ? 1 : 0)
    groups = [...head, ...new Array<string>(Math.max(0, 8 - head.length - tailGroups)).fill('0'), ...tail]
  }
  let prefix = ''
  for (let i = 0; i < 4; i++) prefix += `${(Number.parseInt(groups[i] ?? '0', 16) || 0).toString(16)}:`
  return `${prefix}:/64`
}
