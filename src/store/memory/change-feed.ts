import type { EventEmitter } from 'node:events'
import type { ChangeFeed, StoreChange } from '../change-feed.js'

/** MemoryStore's ChangeFeed: an EventEmitter, heard by this process only (the only one sharing the store). */
export class MemoryChangeFeed implements ChangeFeed {
  readonly #events: EventEmitter

  /** MemoryStore keeps `events` to remove the listeners when it closes. */
  constructor (events: EventEmitter) {
    this.#events = events
  }

  async publishChange (change: StoreChange): Promise<void> {
    this.#events.emit('change', change)
  }

  async subscribe (onChange: (change: StoreChange) => void): Promise<void> {
    this.#events.on('change', onChange)
  }
}
