import type { FastifyBaseLogger } from 'fastify'
import type { CounterBucket, Store } from '../store/types.js'

// Traffic counters for the admin dashboard. A request only bumps numbers in
// this process's memory; a timer adds them to the store's per-minute
// counters in one batch, so counting never waits on the store and costs the
// hot path two Map lookups.
//
// Buckets (store counters, see Store.addCounts):
//   m:<epoch minute>    <integration> → requests, <integration>|e → 5xx answers   (kept 25 h)
//   mc:<epoch minute>   <client id> → requests                                       (kept 2 h)
//   hc:<epoch hour>     <client id> → requests                                       (kept 8 days)
//   dc:<YYYY-MM-DD>     <client id> → requests on that day in Asia/Jakarta          (kept 40 days)

export const MINUTE_MS = 60_000
export const HOUR_MS = 60 * MINUTE_MS
const DAY_MS = 24 * HOUR_MS
/** Asia/Jakarta is UTC+7 all year (no daylight saving). */
export const JAKARTA_OFFSET_MS = 7 * HOUR_MS
const DEFAULT_FLUSH_MS = 5000
/** Counts the store refused are retried with the next flush, unless they are this old. */
const MAX_RETRY_AGE_MS = 10 * MINUTE_MS

export const ERRORS_SUFFIX = '|e'
export const minuteBucket = (minute: number): string => `m:${minute}`
export const minuteClientsBucket = (minute: number): string => `mc:${minute}`
export const hourClientsBucket = (hour: number): string => `hc:${hour}`
/** The Asia/Jakarta calendar day of an instant, as YYYY-MM-DD. */
export const jakartaDay = (epochMs: number): string => new Date(epochMs + JAKARTA_OFFSET_MS).toISOString().slice(0, 10)
export const dayClientsBucket = (epochMs: number): string => `dc:${jakartaDay(epochMs)}`

interface Tally {
  requests: number
  errors: number
}

/** One minute's counts in this process. */
interface MinuteTally {
  minute: number
  integrations: Map<string, Tally>
  clients: Map<string, number>
}

export interface TrafficRecorderOptions {
  flushIntervalMs?: number
  logger?: FastifyBaseLogger
}

export class TrafficRecorder {
  readonly #store: Store
  readonly #log: FastifyBaseLogger | undefined
  readonly #timer: NodeJS.Timeout
  #current: MinuteTally = { minute: -1, integrations: new Map(), clients: new Map() }
  /** Finished minutes (and ones the store refused) waiting for the next flush. */
  #pending: MinuteTally[] = []
  #flushing: Promise<void> | undefined

  constructor (store: Store, options: TrafficRecorderOptions = {}) {
    this.#store = store
    this.#log = options.logger
    this.#timer = setInterval(() => { this.flush().catch(() => {}) }, options.flushIntervalMs ?? DEFAULT_FLUSH_MS)
    this.#timer.unref()
  }

  /** Counts one answered request; a status of 500 or more counts as an error. */
  record (integration: string, clientId: string | null, status: number): void {
    const minute = Math.floor(Date.now() / MINUTE_MS)
    let current = this.#current
    if (minute !== current.minute) {
      if (current.integrations.size > 0) this.#pending.push(current)
      current = this.#current = { minute, integrations: new Map(), clients: new Map() }
    }
    let tally = current.integrations.get(integration)
    if (tally === undefined) {
      tally = { requests: 0, errors: 0 }
      current.integrations.set(integration, tally)
    }
    tally.requests++
    if (status >= 500) tally.errors++
    if (clientId !== null) current.clients.set(clientId, (current.clients.get(clientId) ?? 0) + 1)
  }

  /** Adds everything counted so far to the store. */
  async flush (): Promise<void> {
    // One flush at a time: a slow store must not pile them up.
    if (this.#flushing !== undefined) return await this.#flushing
    this.#flushing = this.#flush()
    try {
      await this.#flushing
    } finally {
      this.#flushing = undefined
    }
  }

  async #flush (): Promise<void> {
    const batch = this.#pending
    if (this.#current.integrations.size > 0) {
      batch.push(this.#current)
      this.#current = { minute: this.#current.minute, integrations: new Map(), clients: new Map() }
    }
    this.#pending = []
    if (batch.length === 0) return
    try {
      await this.#store.addCounts(toBuckets(batch))
    } catch (err) {
      const oldest = Date.now() - MAX_RETRY_AGE_MS
      const kept = batch.filter((t) => t.minute * MINUTE_MS >= oldest)
      this.#pending.unshift(...kept)
      this.#log?.warn({ err, minutes: kept.length, dropped: batch.length - kept.length }, 'traffic counters not saved; retrying with the next flush')
    }
  }

  async close (): Promise<void> {
    clearInterval(this.#timer)
    await this.flush()
  }
}

function toBuckets (batch: readonly MinuteTally[]): CounterBucket[] {
  const byName = new Map<string, { ttlMs: number, counts: Map<string, number> }>()
  const add = (bucket: string, ttlMs: number, field: string, by: number): void => {
    let entry = byName.get(bucket)
    if (entry === undefined) {
      entry = { ttlMs, counts: new Map() }
      byName.set(bucket, entry)
    }
    entry.counts.set(field, (entry.counts.get(field) ?? 0) + by)
  }
  for (const { minute, integrations, clients } of batch) {
    const at = minute * MINUTE_MS
    for (const [name, tally] of integrations) {
      add(minuteBucket(minute), 25 * HOUR_MS, name, tally.requests)
      if (tally.errors > 0) add(minuteBucket(minute), 25 * HOUR_MS, name + ERRORS_SUFFIX, tally.errors)
    }
    for (const [id, requests] of clients) {
      add(minuteClientsBucket(minute), 2 * HOUR_MS, id, requests)
      add(hourClientsBucket(Math.floor(at / HOUR_MS)), 8 * DAY_MS, id, requests)
      add(dayClientsBucket(at), 40 * DAY_MS, id, requests)
    }
  }
  return [...byName].map(([bucket, { ttlMs, counts }]) => ({ bucket, ttlMs, counts }))
}
