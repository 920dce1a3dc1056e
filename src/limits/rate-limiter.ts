import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { Rate } from '../config/units.js'
import { GerbangError } from '../errors.js'
import type { Lease, LimitStore, StoreStatus, WindowCounter } from '../store/types.js'

// Per-client, per-integration limits (docs/contract.md section 5).
//
// A round trip to Redis for every request would cost more than the rest of
// the request (bench/: about 60 µs of CPU each). Instead each process leases
// tokens from the shared counters, atomically, and spends them locally:
// a share of the room left (room ÷ (4 × live processes), 1 to 1000 tokens),
// so leases shrink to one token as a window fills up. The sum of all leases
// never passes the limit, so limits are never exceeded however many
// processes share them; tokens a process leased but did not spend before
// the window ended are lost, which can only make a limit stricter.
// A refusal is remembered until the window ends, so a client hammering past
// its limit costs no round trips either. A busy bucket (a lease of at least
// REFILL_AHEAD_MIN tokens) asks for its next lease when a quarter of the
// last one is left, so its requests do not wait for the store in steady
// state; as a window fills up, leases shrink below that and each process
// again asks only when it has nothing left, so no tokens are stranded.
//
// When the store cannot lease, each process limits alone, with every limit
// divided by the number of processes that last announced themselves alive.

/** A named limit: `default` is the per-integration rate, `daily` the client's quota. */
export interface Policy {
  readonly name: string
  readonly rate: Rate
  /** `"default";q=60;w=60`, built once. */
  readonly header: string
}

export function policy (name: string, rate: Rate): Policy {
  return { name, rate, header: `"${name}";q=${rate.limit};w=${Math.ceil(rate.windowMs / 1000)}` }
}

export interface LimitResult {
  /** Headers for the response, as a flat [name, value, …] list. */
  headers: string[]
  /** Set when the request is over a limit. */
  error: GerbangError | undefined
}

export interface RateLimiterOptions {
  logger?: FastifyBaseLogger
  /** How often this process announces itself and learns how many are alive. */
  heartbeatMs?: number
  /**
   * The clock windows and leases are timed by, in epoch milliseconds; Date.now
   * unless told (unit tests pass a clock they move by hand). Read once per check.
   */
  now?: () => number
}

const HEARTBEAT_MS = 2000
const MAX_LEASE = 1000
const MAX_BUCKETS = 100_000
const REFILL_AHEAD_MIN = 64

/** Tokens this process holds for one client and integration, and what it knows of the shared counters. */
interface Bucket {
  /** Its key in #buckets. */
  name: string
  partition: string
  counters: WindowCounter[]
  tokens: number
  /** Per policy: room left in the store after our last lease, and local time of its window's end. */
  remaining: number[]
  resetAt: number[]
  /** The earliest window end: past it, the tokens are void. */
  expiresAt: number
  /** Names of the policies with no room left when the store last said so. */
  violated: string[] | undefined
  /** A lease under way; requests arriving meanwhile wait for it instead of asking again. */
  pending: Promise<void> | undefined
  /** The size of the last lease granted. */
  granted: number
  /** A lease asked for ahead of need (tokens still held); requests wait for it only once none are left. */
  refill: Promise<void> | undefined
}

export class RateLimiter {
  readonly #store: LimitStore & StoreStatus
  readonly #logger: FastifyBaseLogger | undefined
  readonly #processId = randomUUID()
  readonly #heartbeatMs: number
  readonly #timer: NodeJS.Timeout
  #liveProcesses = 1
  #announced = false
  #buckets = new Map<string, Bucket>()
  #local = new Map<string, { count: number, resetAt: number }>()
  #fallingBack = false
  readonly #now: () => number

  constructor (store: LimitStore & StoreStatus, options: RateLimiterOptions = {}) {
    this.#store = store
    this.#logger = options.logger
    this.#now = options.now ?? Date.now
    this.#heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS
    this.#timer = setInterval(() => { this.#heartbeat() }, this.#heartbeatMs)
    this.#timer.unref()
    this.#heartbeat()
  }

  close (): void {
    clearInterval(this.#timer)
  }

  /** The processes counted as alive, for the local fallback (and tests). */
  get liveProcesses (): number {
    return this.#liveProcesses
  }

  /**
   * Counts a request of `partition` (a client id, or `ip:<address>` on open
   * integrations) against the policies. Synchronous while this process holds
   * tokens (or knows the client is over its limit); never waits on a store
   * that is down.
   */
  check (partition: string, integration: string, policies: readonly Policy[]): LimitResult | Promise<LimitResult> {
    const name = partition + '\u0000' + integration
    const now = this.#now()
    let bucket = this.#buckets.get(name)
    if (bucket !== undefined && bucket.expiresAt <= now && bucket.pending === undefined) {
      this.#retire(name, bucket, now)
      bucket = undefined
    }
    if (bucket !== undefined && bucket.pending === undefined) {
      if (bucket.tokens > 0) return this.#spend(bucket, policies, now)
      if (bucket.violated !== undefined) return refusal(bucket, policies, now)
    }
    if (!this.#store.isAvailable()) return this.#checkLocally(name, policies, now)
    return this.#leaseAndSpend(name, partition, integration, policies)
  }

  async #leaseAndSpend (
    name: string, partition: string, integration: string, policies: readonly Policy[]
  ): Promise<LimitResult> {
    for (;;) {
      let bucket = this.#buckets.get(name)
      const now = this.#now()
      if (bucket?.pending !== undefined) {
        await bucket.pending
        continue
      }
      if (bucket?.refill !== undefined && bucket.tokens <= 0) {
        await bucket.refill
        continue
      }
      if (bucket !== undefined && bucket.expiresAt > now) {
        if (bucket.tokens > 0) return this.#spend(bucket, policies, now)
        if (bucket.violated !== undefined) return refusal(bucket, policies, now)
      }
      if (bucket !== undefined && bucket.expiresAt <= now) this.#retire(name, bucket, now)
      else if (bucket === undefined && this.#buckets.size >= MAX_BUCKETS) this.#sweep(now)
      if (bucket === undefined || bucket.expiresAt <= now) {
        bucket = {
          name,
          partition,
          counters: counters(integration, policies),
          tokens: 0,
          remaining: [],
          resetAt: [],
          expiresAt: 0,
          violated: undefined,
          pending: undefined,
          granted: 0,
          refill: undefined
        }
        this.#buckets.set(name, bucket)
      }
      const target = bucket
      let failed = false
      target.pending = this.#store.lease(partition, target.counters, this.#liveProcesses, MAX_LEASE)
        .then((lease) => { this.#fill(target, policies, lease) }, () => { failed = true })
        .finally(() => { target.pending = undefined })
      await target.pending
      if (failed) {
        this.#buckets.delete(name)
        return this.#checkLocally(name, policies, this.#now())
      }
      if (this.#fallingBack) {
        this.#fallingBack = false
        this.#local = new Map()
        this.#logger?.info('rate limits are counted in the store again')
      }
    }
  }

  #fill (bucket: Bucket, policies: readonly Policy[], lease: Lease): void {
    const now = this.#now()
    bucket.tokens += lease.granted
    bucket.granted = lease.granted
    bucket.remaining = lease.remaining
    bucket.resetAt = lease.resetMs.map((ms) => now + ms)
    bucket.expiresAt = Math.min(...bucket.resetAt)
    let violated: string[] | undefined
    if (lease.granted === 0) {
      for (let i = 0; i < policies.length; i++) {
        if ((lease.remaining[i] as number) <= 0) (violated ??= []).push((policies[i] as Policy).name)
      }
      // Refused until the latest of the exhausted windows ends.
      bucket.expiresAt = Math.max(...bucket.resetAt.filter((_, i) => (lease.remaining[i] as number) <= 0))
    }
    bucket.violated = violated
  }

  #spend (bucket: Bucket, policies: readonly Policy[], now: number): LimitResult {
    bucket.tokens--
    if (bucket.granted >= REFILL_AHEAD_MIN && bucket.tokens <= bucket.granted >> 2 && bucket.refill === undefined) {
      this.#refillAhead(bucket, policies)
    }
    return allowed(policies, bucket.remaining, bucket.tokens, bucket.resetAt, now)
  }

  /** Leases the next tokens of a busy bucket while it still holds some (see the top of this file). */
  #refillAhead (bucket: Bucket, policies: readonly Policy[]): void {
    if (!this.#store.isAvailable()) return
    bucket.refill = this.#store.lease(
      bucket.partition, bucket.counters, this.#liveProcesses, MAX_LEASE
    ).then((lease) => {
      const now = this.#now()
      if (this.#buckets.get(bucket.name) !== bucket) {
        // Retired meanwhile (its window ended): the tokens go back to the counters still running.
        const running = bucket.counters.filter((_, i) => (lease.resetMs[i] as number) > 1000).map((c) => c.key)
        if (lease.granted > 0 && running.length > 0) {
          this.#store.release(bucket.partition, running, lease.granted).catch(() => {})
        }
        return
      }
      // None left: the bucket asks again when its tokens run out, and hears the refusal then.
      if (lease.granted === 0) return
      // Leased in a new window: what is left of the old one is void there.
      if (now + Math.min(...lease.resetMs) > bucket.expiresAt + 1000) bucket.tokens = 0
      this.#fill(bucket, policies, lease)
    }, () => { /* the next lease that is needed reports the store */ }).finally(() => { bucket.refill = undefined })
  }

  #checkLocally (name: string, policies: readonly Policy[], now: number): LimitResult {
    if (!this.#fallingBack) {
      this.#fallingBack = true
      this.#logger?.warn({ liveProcesses: this.#liveProcesses },
        'the store cannot count requests: each process now limits alone, at its share of every limit')
    }
    let blocked: string[] | undefined
    const remaining: number[] = []
    const resetAt: number[] = []
    for (const p of policies) {
      const key = name + '\u0000' + p.name
      let window = this.#local.get(key)
      if (window === undefined || window.resetAt <= now) {
        window = { count: 0, resetAt: now + p.rate.windowMs }
        this.#local.set(key, window)
      }
      const share = Math.max(1, Math.floor(p.rate.limit / this.#liveProcesses))
      if (blocked === undefined && window.count >= share) blocked = [p.name]
      remaining.push(share - window.count)
      resetAt.push(window.resetAt)
    }
    if (this.#local.size > MAX_BUCKETS) {
      for (const [key, window] of this.#local) if (window.resetAt <= now) this.#local.delete(key)
    }
    if (blocked !== undefined) {
      return refusal({ remaining, resetAt, violated: blocked }, policies, now)
    }
    for (const p of policies) (this.#local.get(name + '\u0000' + p.name) as { count: number }).count++
    return allowed(policies, remaining.map((r) => r - 1), 0, resetAt, now)
  }

  /**
   * Drops a bucket whose first window ended. Its unspent tokens go back to
   * the counters still running (the daily quota), which would otherwise
   * lose a lease's worth every minute.
   */
  #retire (name: string, bucket: Bucket, now: number): void {
    this.#buckets.delete(name)
    if (bucket.tokens <= 0) return
    const running = bucket.counters.filter((_, i) => (bucket.resetAt[i] as number) > now + 1000).map((c) => c.key)
    if (running.length > 0) this.#store.release(bucket.partition, running, bucket.tokens).catch(() => {})
  }

  #sweep (now: number): void {
    for (const [name, bucket] of this.#buckets) {
      if (bucket.expiresAt <= now && bucket.pending === undefined) this.#retire(name, bucket, now)
    }
  }

  #heartbeat (): void {
    this.#store.heartbeat(this.#processId, this.#heartbeatMs * 3).then((alive) => {
      this.#liveProcesses = Math.max(1, alive)
      this.#announced = true
    }, () => {
      // Keep the last known number while the store is away; until this
      // process has announced itself once, try again soon (at start the
      // connection is usually not up yet).
      if (!this.#announced) setTimeout(() => { this.#heartbeat() }, 100).unref()
    })
    this.#sweep(this.#now())
  }
}

function counters (integration: string, policies: readonly Policy[]): WindowCounter[] {
  // The first policy counts per integration; the others (the daily quota)
  // across all of the client's integrations.
  return policies.map((p, i) =>
    ({ key: i === 0 ? integration : p.name, limit: p.rate.limit, windowMs: p.rate.windowMs }))
}

function seconds (resetAt: number, now: number): number {
  return Math.max(0, Math.ceil((resetAt - now) / 1000))
}

/**
 * The response headers (docs/contract.md section 5). `remaining` is what the store
 * had left after this process's lease, plus the tokens this process still
 * holds: exact with one process, an upper bound with several.
 */
function limitHeaders (
  policies: readonly Policy[], remaining: readonly number[], held: number, resetAt: readonly number[], now: number
): string[] {
  let policyField = ''
  let limitField = ''
  let tightest = 0
  let tightestRemaining = Infinity
  for (let i = 0; i < policies.length; i++) {
    const p = policies[i] as Policy
    const r = Math.max(0, (remaining[i] as number) + held)
    policyField += (i === 0 ? '' : ', ') + p.header
    limitField += `${i === 0 ? '' : ', '}"${p.name}";r=${r};t=${seconds(resetAt[i] as number, now)}`
    if (r < tightestRemaining) {
      tightest = i
      tightestRemaining = r
    }
  }
  return [
    'ratelimit-policy', policyField,
    'ratelimit', limitField,
    'x-ratelimit-limit', String((policies[tightest] as Policy).rate.limit),
    'x-ratelimit-remaining', String(tightestRemaining),
    'x-ratelimit-reset', String(seconds(resetAt[tightest] as number, now))
  ]
}

function allowed (
  policies: readonly Policy[], remaining: readonly number[], held: number, resetAt: readonly number[], now: number
): LimitResult {
  return { headers: limitHeaders(policies, remaining, held, resetAt, now), error: undefined }
}

function refusal (bucket: Pick<Bucket, 'remaining' | 'resetAt' | 'violated'>, policies: readonly Policy[], now: number): LimitResult {
  const violated = bucket.violated ?? [(policies[0] as Policy).name]
  let retryAfter = 1
  for (let i = 0; i < policies.length; i++) {
    if (violated.includes((policies[i] as Policy).name)) {
      retryAfter = Math.max(retryAfter, seconds(bucket.resetAt[i] as number, now))
    }
  }
  const headers = limitHeaders(policies, bucket.remaining, 0, bucket.resetAt, now)
  const headerObject: Record<string, string> = { 'retry-after': String(retryAfter) }
  for (let i = 0; i < headers.length; i += 2) headerObject[headers[i] as string] = headers[i + 1] as string
  return {
    headers,
    error: new GerbangError('RATE_LIMITED', `over the limit of ${violated.join(' and ')}; retry after ${retryAfter} s`,
      { violatedPolicies: violated }, headerObject)
  }
}
