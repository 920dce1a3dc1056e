import type { ChangeFeed, StoreChange } from '../change-feed.js'
import { DiskPart, isBusy, type DiskDatabase } from './database.js'
import { CHANGES_KEEP_MS } from './sweep.js'

const POLL_MS = 200

const SQL = {
  insertChange: 'INSERT INTO changes (change, at) VALUES (?, ?)',
  lastChange: 'SELECT max(seq) AS seq FROM changes',
  changesAfter: 'SELECT seq, change FROM changes WHERE seq > ? ORDER BY seq LIMIT 1000'
}

/**
 * DiskStore's ChangeFeed: the table changes of runtime.db. publishChange
 * adds a row, and every subscribed process polls for rows past the last it
 * saw (pollMs, one indexed read that usually finds nothing).
 */
export class DiskChangeFeed extends DiskPart<typeof SQL> implements ChangeFeed {
  readonly #pollMs: number
  #poll: NodeJS.Timeout | undefined
  readonly #listeners: Array<{ onChange: (change: StoreChange) => void, onResync: () => void }> = []
  /** The change feed position this process has delivered up to. */
  #seen = 0
  #lastPoll = Date.now()
  /** Changes this process published and already delivered to its own listeners. */
  readonly #own = new Set<number>()

  constructor (database: DiskDatabase, pollMs = POLL_MS) {
    super(database, SQL, database.rt)
    this.#pollMs = pollMs
    database.onClose(() => {
      clearInterval(this.#poll)
      this.#listeners.length = 0
    })
  }

  async publishChange (change: StoreChange): Promise<void> {
    const seq = await this.database.run(() => Number(this.sql.insertChange.run(JSON.stringify(change),
      Date.now()).lastInsertRowid))
    // This process's own listeners hear it now; the poll skips it.
    if (this.#listeners.length > 0) {
      this.#own.add(seq)
      for (const { onChange } of this.#listeners) onChange(structuredClone(change))
    }
  }

  async subscribe (onChange: (change: StoreChange) => void, onResync: () => void): Promise<void> {
    if (this.#poll === undefined) {
      this.#seen = await this.database.run(() => (this.sql.lastChange.get() as { seq: number | null }).seq ?? 0)
      this.#lastPoll = Date.now()
      this.#poll = setInterval(() => { this.#pollChanges() }, this.#pollMs)
      this.#poll.unref()
    }
    this.#listeners.push({ onChange, onResync })
  }

  #pollChanges (): void {
    if (this.database.closed) return
    const now = Date.now()
    let rows: Array<{ seq: number, change: string }>
    try {
      rows = this.sql.changesAfter.all(this.#seen) as Array<{ seq: number, change: string }>
      this.database.available = true
    } catch (err) {
      // Locked for a moment: the next poll reads it. Anything else: the store is in trouble.
      if (!isBusy(err)) this.database.available = false
      return
    }
    // Asleep for longer than the feed keeps changes (a suspended machine): some may be gone.
    const gap = now - this.#lastPoll > CHANGES_KEEP_MS / 2
    this.#lastPoll = now
    if (gap) for (const { onResync } of this.#listeners) onResync()
    for (const { seq, change } of rows) {
      this.#seen = seq
      if (this.#own.delete(seq)) continue
      let parsed: StoreChange
      try {
        parsed = JSON.parse(change) as StoreChange
      } catch {
        continue
      }
      for (const { onChange } of this.#listeners) onChange(structuredClone(parsed))
    }
  }
}
