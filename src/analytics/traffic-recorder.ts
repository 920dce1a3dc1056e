import type { FastifyBaseLogger } from 'fastify'
import type { CounterBucket, CounterStore } from '../store/types.js'

// Traffic counters for the admin dashboard. A request only bumps numbers in
// this process's memory; a timer adds them to the store's per-minute
// counters in one batch, so counting never waits on the store and costs the
// hot path two Map lookups.
//
// Buckets (store counters, see Store.addCounts):
//   m:<epoch minute>    <integration> → requests, <integration>|e → 5xx answers   (kept 25 h)
//   h:<epoch hour>      the same fields per hour, for the 7-day range             (kept 8 days)
//   mc:<epoch minute>   <client id> → requests                                       (kept 2 h)
//   hc:<epoch hour>     <client id> → requests                                       (kept 8 days)
//   dc:<YYYY-MM-DD>     <client id> → requests on that day in Asia/Jakarta          (kept 40 days)
// Besides requests and |e, the m:, h:, mc: and hc: buckets hold, per
// integration or client, the 4xx answers (|4) with 401, 403 and 429 apart
// (|401, |403, |429), and a latency histogram (|l0 … |l10, LATENCY_BOUNDS_MS).

export const MINUTE_MS = 60_000
export const HOUR_MS = 60 * MINUTE_MS
const DAY_MS = 24 * HOUR_MS
/** Asia/Jakarta is UTC+7 all year (no daylight saving). */
export const JAKARTA_OFFSET_MS = 7 * HOUR_MS
const DEFAULT_FLUSH_MS = 5000
/** Counts the store refused are retried with the next flush, unless they are this old. */
const MAX_RETRY_AGE_MS = 10 * MINUTE_MS

export const ERRORS_SUFFIX = '|e'
/** Upper bounds (ms) of the latency histogram's buckets; the last one is open. */
export const LATENCY_BOUNDS_MS = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, Infinity] as const
// A tally's slots: requests, 5xx, 4xx, 401, 403, 429, then one per latency bucket.
const REQUESTS = 0
const SERVER_ERRORS = 1
const CLIENT_ERRORS = 2
const LATENCY = 6
const SLOTS = LATENCY + LATENCY_BOUNDS_MS.length
/** Each slot's field suffix in the store (the requests field is the bare name). */
export const SLOT_SUFFIXES = ['', ERRORS_SUFFIX, '|4', '|401', '|403', '|429', ...LATENCY_BOUNDS_MS.map((_b, i) => `|l${i}`)] as const
const STATUS_SLOT: Record<number, number> = { 401: 3, 403: 4, 429: 5 }

/** The latency bucket of a duration: a handful of comparisons. */
function latencySlot (ms: number): number {
  let i = 0
  while (ms > (LATENCY_BOUNDS_MS[i] as number)) i++
  return LATENCY + i
}

export const minuteBucket = (minute: number): string => `m:${minute}`
export const hourBucket = (hour: number): string => `h:${hour}`
export const minuteClientsBucket = (minute: number): string => `mc:${minute}`
export const hourClientsBucket = (hour: number): string => `hc:${hour}`
/** The Asia/Jakarta calendar day of an instant, as YYYY-MM-DD. */
export const jakartaDay = (epochMs: number): string => new Date(epochMs + JAKARTA_OFFSET_MS).toISOString().slice(0, 10)
export const dayClientsBucket = (epochMs: number): string => `dc:${jakartaDay(epochMs)}`

/** Counts by slot (see SLOT_SUFFIXES). */
type Tally = number[]

/** One minute's counts in this process. */
interface MinuteTally {
  minute: number
  integrations: Map<string, Tally>
  clients: Map<string, Tally>
}

export interface TrafficRecorderOptions {
  flushIntervalMs?: number
  logger?: FastifyBaseLogger
}

export class TrafficRecorder {
  readonly #store: CounterStore
  readonly #log: FastifyBaseLogger | undefined
  readonly #timer: NodeJS.Timeout
  #current: MinuteTally = { minute: -1, integrations: new Map(), clients: new Map() }
  /** Finished minutes (and ones the store refused) waiting for the next flush. */
  #pending: MinuteTally[] = []
  #flushing: Promise<void> | undefined

  constructor (store: CounterStore, options: TrafficRecorderOptions = {}) {
    this.#store = store
    this.#log = options.logger
    this.#timer = setInterval(() => { this.flush().catch(() => {}) }, options.flushIntervalMs ?? DEFAULT_FLUSH_MS)
    this.#timer.unref()
  }

  /**
   * Counts one answered request: its status class (5xx count as errors, 4xx
   * with 401, 403 and 429 apart) and its latency bucket, for the integration
   * and the client. Two Map lookups and a few increments.
   */
  record (integration: string, clientId: string | null, status: number, durationMs = 0): void {
    const minute = Math.floor(Date.now() / MINUTE_MS)
    let current = this.#current
    if (minute !== current.minute) {
      if (current.integrations.size > 0) this.#pending.push(current)
      current = this.#current = { minute, integrations: new Map(), clients: new Map() }
    }
    const latency = latencySlot(durationMs)
    const special = status >= 400 && status < 500 ? STATUS_SLOT[status] : undefined
    count(current.integrations, integration, status, special, latency)
    if (clientId !== null) count(current.clients, clientId, status, special, latency)
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

function count (
  tallies: Map<string, Tally>, name: string, status: number, special: number | undefined, latency: number
): void {
  let tally = tallies.get(name)
  if (tally === undefined) {
    tally = new Array<number>(SLOTS).fill(0)
    tallies.set(name, tally)
  }
  inc(tally, REQUESTS)
  if (status >= 500) inc(tally, SERVER_ERRORS)
  else if (status >= 400) {
    inc(tally, CLIENT_ERRORS)
    if (special !== undefined) inc(tally, special)
  }
  inc(tally, latency)
}

function inc (tally: Tally, slot: number): void {
  tally[slot] = (tally[slot] ?? 0) + 1
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
  const addTally = (bucket: string, ttlMs: number, name: string, tally: Tally): void => {
    for (let i = 0; i < SLOTS; i++) {
      if ((tally[i] ?? 0) > 0) add(bucket, ttlMs, name + SLOT_SUFFIXES[i], tally[i] as number)
    }
  }
  for (const { minute, integrations, clients } of batch) {
    const at = minute * MINUTE_MS
    const hour = Math.floor(at / HOUR_MS)
    for (const [name, tally] of integrations) {
      addTally(minuteBucket(minute), 25 * HOUR_MS, name, tally)
      addTally(hourBucket(hour), 8 * DAY_MS, name, tally)
    }
    for (const [id, tally] of clients) {
      addTally(minuteClientsBucket(minute), 2 * HOUR_MS, id, tally)
      addTally(hourClientsBucket(hour), 8 * DAY_MS, id, tally)
      add(dayClientsBucket(at), 40 * DAY_MS, id, tally[REQUESTS] as number)
    }
  }
  return [...byName].map(([bucket, { ttlMs, counts }]) => ({ bucket, ttlMs, counts }))
}
