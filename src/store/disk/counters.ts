import type { CounterBucket, CounterStore } from '../counters.js'
import { DiskPart, type DiskDatabase } from './database.js'

const SQL = {
  bucketExpiry: 'SELECT expires_at FROM buckets WHERE bucket = ?',
  clearBucket: 'DELETE FROM counters WHERE bucket = ?',
  putBucket: 'INSERT OR REPLACE INTO buckets (bucket, expires_at) VALUES (?, ?)',
  addCount: 'INSERT INTO counters (bucket, field, count) VALUES (?1, ?2, ?3) ON CONFLICT DO UPDATE SET count = count + ?3',
  readBucket: 'SELECT field, count FROM counters WHERE bucket = ?',
  readField: 'SELECT count FROM counters WHERE bucket = ? AND field = ?'
}

/** DiskStore's CounterStore: the tables buckets (each bucket's expiry) and counters of gerbang.db. */
export class DiskCounters extends DiskPart<typeof SQL> implements CounterStore {
  constructor (database: DiskDatabase) {
    super(database, SQL)
  }

  async addCounts (buckets: readonly CounterBucket[]): Promise<void> {
    const written = buckets.filter(({ counts }) => [...counts.values()].some((count) => count !== 0))
    if (written.length === 0) return
    await this.database.run(() => this.database.transaction(() => {
      const now = Date.now()
      for (const { bucket, ttlMs, counts } of written) {
        const expiry = this.sql.bucketExpiry.get(bucket) as { expires_at: number } | undefined
        // A write after expiry starts from zero.
        if (expiry !== undefined && expiry.expires_at <= now) this.sql.clearBucket.run(bucket)
        for (const [field, count] of counts) if (count !== 0) this.sql.addCount.run(bucket, field, count)
        this.sql.putBucket.run(bucket, now + ttlMs)
      }
    }))
  }

  async readCounts (buckets: readonly string[]): Promise<Array<Map<string, number>>> {
    return await this.database.run(() => {
      const now = Date.now()
      return buckets.map((bucket) => {
        const expiry = this.sql.bucketExpiry.get(bucket) as { expires_at: number } | undefined
        if (expiry === undefined || expiry.expires_at <= now) return new Map<string, number>()
        const rows = this.sql.readBucket.all(bucket) as Array<{ field: string, count: number }>
        return new Map(rows.map((r) => [r.field, r.count]))
      })
    })
  }

  async readCountFields (bucket: string, fields: readonly string[]): Promise<number[]> {
    if (fields.length === 0) return []
    return await this.database.run(() => {
      const expiry = this.sql.bucketExpiry.get(bucket) as { expires_at: number } | undefined
      if (expiry === undefined || expiry.expires_at <= Date.now()) return fields.map(() => 0)
      return fields.map((field) => (this.sql.readField.get(bucket, field) as { count: number } | undefined)?.count ?? 0)
    })
  }
}
