import type { CounterBucket, CounterStore } from '../counters.js'
import { live, type MemorySweeper } from './sweeper.js'

/** MemoryStore's CounterStore: buckets of counters in this process's memory. */
export class MemoryCounters implements CounterStore {
  readonly #counters = new Map<string, { expiresAt: number, counts: Map<string, number> }>()
  readonly #sweeper: MemorySweeper

  constructor (sweeper: MemorySweeper) {
    this.#sweeper = sweeper
    sweeper.add((now) => {
      for (const [bucket, entry] of this.#counters) if (entry.expiresAt <= now) this.#counters.delete(bucket)
    })
  }

  async addCounts (buckets: readonly CounterBucket[]): Promise<void> {
    const now = this.#sweeper.sweepIfDue()
    for (const { bucket, ttlMs, counts } of buckets) {
      let entry = live(this.#counters, bucket, now)
      for (const [field, count] of counts) {
        if (count === 0) continue
        if (entry === undefined) {
          entry = { expiresAt: 0, counts: new Map() }
          this.#counters.set(bucket, entry)
        }
        entry.counts.set(field, (entry.counts.get(field) ?? 0) + count)
        entry.expiresAt = now + ttlMs
      }
    }
  }

  async readCounts (buckets: readonly string[]): Promise<Array<Map<string, number>>> {
    const now = Date.now()
    return buckets.map((bucket) => new Map(live(this.#counters, bucket, now)?.counts))
  }

  async readCountFields (bucket: string, fields: readonly string[]): Promise<number[]> {
    const counts = live(this.#counters, bucket)?.counts
    return fields.map((field) => counts?.get(field) ?? 0)
  }
}
