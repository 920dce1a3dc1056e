import type { Lease, LimitStore, WindowCounter } from '../limits.js'
import { DiskPart, type DiskDatabase } from './database.js'
import type { DiskSweeper } from './sweep.js'

const SQL = {
  getWindow: 'SELECT count, reset_at FROM windows WHERE name = ?',
  putWindow: 'INSERT OR REPLACE INTO windows (name, count, reset_at) VALUES (?, ?, ?)',
  releaseWindow: 'UPDATE windows SET count = max(0, count - ?1) WHERE name = ?2 AND reset_at > ?3',
  putProcess: 'INSERT OR REPLACE INTO processes (id, expires_at) VALUES (?, ?)',
  dropProcesses: 'DELETE FROM processes WHERE expires_at <= ?',
  dropProcess: 'DELETE FROM processes WHERE id = ?',
  countProcesses: 'SELECT count(*) AS n FROM processes'
}

/**
 * DiskStore's LimitStore: the tables windows and processes of runtime.db,
 * where a commit costs no fsync: a lease is one short transaction, taken
 * once per granted batch of requests, never per request
 * (src/limits/rate-limiter.ts). Across processes it is as exact as Redis:
 * the write lock serialises the leases.
 */
export class DiskLimits extends DiskPart<typeof SQL> implements LimitStore {
  readonly #sweeper: DiskSweeper
  /** The process ids this instance announced: they are gone once it closes. */
  readonly #announced = new Set<string>()

  constructor (database: DiskDatabase, sweeper: DiskSweeper) {
    super(database, SQL, database.rt)
    this.#sweeper = sweeper
    // A stopped gateway is no longer alive (gerbang restore asks, the rate limits divide by it).
    database.onClose(() => {
      for (const id of this.#announced) {
        try {
          this.sql.dropProcess.run(id)
        } catch { /* it expires anyway */ }
      }
    })
  }

  async lease (group: string, counters: readonly WindowCounter[], liveProcesses: number, cap: number): Promise<Lease> {
    return await this.database.run(() => this.database.transaction(() => {
      const now = Date.now()
      const used: number[] = []
      const ttl: number[] = []
      let room = Infinity
      counters.forEach(({ key, limit, windowMs }, i) => {
        const row = this.sql.getWindow.get(`${group}:${key}`) as { count: number, reset_at: number } | undefined
        const live = row !== undefined && row.reset_at > now
        used[i] = live ? row.count : 0
        ttl[i] = live ? row.reset_at - now : windowMs
        room = Math.min(room, limit - (used[i] as number))
      })
      room = Math.max(0, room === Infinity ? 0 : room)
      const granted = Math.min(room, Math.max(1, Math.min(cap, Math.floor(room / (4 * Math.max(1, liveProcesses))))))
      if (granted > 0) {
        counters.forEach(({ key }, i) => {
          this.sql.putWindow.run(`${group}:${key}`, (used[i] as number) + granted, now + (ttl[i] as number))
        })
      }
      return {
        granted,
        remaining: counters.map((c, i) => c.limit - (used[i] as number) - granted),
        resetMs: ttl
      }
    }, this.database.rt))
  }

  async release (group: string, keys: readonly string[], tokens: number): Promise<void> {
    if (keys.length === 0 || tokens <= 0) return
    await this.database.run(() => this.database.transaction(() => {
      const now = Date.now()
      for (const key of keys) this.sql.releaseWindow.run(tokens, `${group}:${key}`, now)
    }, this.database.rt))
  }

  async heartbeat (processId: string, ttlMs: number): Promise<number> {
    this.#announced.add(processId)
    const alive = await this.database.run(() => this.database.transaction(() => {
      const now = Date.now()
      this.sql.putProcess.run(processId, now + ttlMs)
      this.sql.dropProcesses.run(now)
      return (this.sql.countProcesses.get() as { n: number }).n
    }, this.database.rt))
    await this.#sweeper.sweepIfDue()
    return alive
  }
}
