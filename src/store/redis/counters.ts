import type { CounterBucket, CounterStore } from '../counters.js'
import { ms, runCommand as run } from './connection.js'
import { RedisPart } from './part.js'

/** RedisStore's CounterStore: one hash per bucket (`<p>tr:<bucket>`), with the bucket's TTL. */
export class RedisCounters extends RedisPart implements CounterStore {
  async addCounts (buckets: readonly CounterBucket[]): Promise<void> {
    // One command at a time, never a MULTI: buckets may live in different
    // Cluster slots. Auto-pipelining sends them together all the same.
    await run(async () => {
      const sent: Array<Promise<unknown>> = []
      for (const { bucket, ttlMs, counts } of buckets) {
        const key = this.keys.traffic(bucket)
        let written = false
        for (const [field, count] of counts) {
          if (count === 0) continue
          sent.push(this.redis.hincrby(key, field, count))
          written = true
        }
        // After the increments on the same connection, so the hash exists by then.
        if (written) sent.push(this.redis.pexpire(key, ms(ttlMs)))
      }
      await Promise.all(sent)
    })
  }

  async readCounts (buckets: readonly string[]): Promise<Array<Map<string, number>>> {
    const hashes = await run(async () =>
      await Promise.all(buckets.map(async (bucket) => await this.redis.hgetall(this.keys.traffic(bucket)))))
    return hashes.map((hash) => new Map(Object.entries(hash).map(([field, count]) => [field, Number(count)])))
  }

  async readCountFields (bucket: string, fields: readonly string[]): Promise<number[]> {
    // HMGET needs at least one field.
    if (fields.length === 0) return []
    const counts = await run(async () => await this.redis.hmget(this.keys.traffic(bucket), ...fields))
    return counts.map((count) => count === null ? 0 : Number(count))
  }
}
