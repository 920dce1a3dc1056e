import type { StatementSync } from 'node:sqlite'
import type { DiskDatabase } from './database.js'

/** Expired tokens, sessions, keys and counter buckets are deleted at most this often. */
const SWEEP_EVERY_MS = 60_000
/** Change feed rows older than this are deleted; a process that polled less recently drops its cache. */
export const CHANGES_KEEP_MS = 10 * 60_000

/**
 * Tokens, sessions, rotated keys and counter buckets past their time are
 * already invisible; this deletes them, and old rate-limit windows and
 * change feed rows, at most once a minute, from the gateway's heartbeat
 * (src/store/disk/limits.ts): one transaction per file for every part.
 */
export class DiskSweeper {
  readonly #database: DiskDatabase
  readonly #data: StatementSync[]
  readonly #windows: StatementSync
  readonly #changes: StatementSync
  #next = Date.now() + SWEEP_EVERY_MS

  constructor (database: DiskDatabase) {
    this.#database = database
    const { db, rt } = database
    this.#data = [
      db.prepare('DELETE FROM tokens WHERE expires_at <= ?'),
      db.prepare('DELETE FROM sessions WHERE expires_at <= ?'),
      db.prepare('DELETE FROM keys WHERE expires_at IS NOT NULL AND expires_at <= ?'),
      db.prepare('DELETE FROM counters WHERE bucket IN (SELECT bucket FROM buckets WHERE expires_at <= ?)'),
      db.prepare('DELETE FROM buckets WHERE expires_at <= ?')
    ]
    this.#windows = rt.prepare('DELETE FROM windows WHERE reset_at <= ?')
    this.#changes = rt.prepare('DELETE FROM changes WHERE at <= ?')
  }

  async sweepIfDue (): Promise<void> {
    const now = Date.now()
    if (now < this.#next) return
    this.#next = now + SWEEP_EVERY_MS
    const database = this.#database
    try {
      await database.run(() => database.transaction(() => {
        for (const sweep of this.#data) sweep.run(now)
      }))
      await database.run(() => database.transaction(() => {
        this.#windows.run(now)
        this.#changes.run(now - CHANGES_KEEP_MS)
      }, database.rt))
    } catch { /* the next sweep tries again */ }
  }
}
