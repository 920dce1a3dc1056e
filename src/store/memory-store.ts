import { EventEmitter } from 'node:events'
import { composeStore, setParts } from './compose.js'
import { MemoryAdmin } from './memory/admin.js'
import { MemoryChangeFeed } from './memory/change-feed.js'
import { MemoryCounters } from './memory/counters.js'
import { MemoryCredentials } from './memory/credentials.js'
import { MemoryKeyRequests } from './memory/key-requests.js'
import { MemoryLimits } from './memory/limits.js'
import { MemorySweeper } from './memory/sweeper.js'
import type { Store } from './types.js'

// Its roles: src/store/memory/, one module each (credentials.ts, admin.ts,
// key-requests.ts, counters.ts, limits.ts, change-feed.ts), and sweeper.ts
// for what they share. The store is put together from them (src/store/compose.ts).

/** Every role's methods, given to the class by composeStore below. */
export interface MemoryStore extends Store {}

/**
 * The embedded store: everything in this process's memory, gone when it
 * stops. For the demo and single-process trials only; several gateway
 * processes each see their own copy.
 */
export class MemoryStore {
  readonly kind = 'memory'
  readonly #events = new EventEmitter()

  constructor () {
    const sweeper = new MemorySweeper()
    setParts(this, {
      credentials: new MemoryCredentials(sweeper),
      admin: new MemoryAdmin(sweeper),
      keyRequests: new MemoryKeyRequests(),
      counters: new MemoryCounters(sweeper),
      limits: new MemoryLimits(sweeper),
      changes: new MemoryChangeFeed(this.#events)
    })
  }

  isAvailable (): boolean {
    return true
  }

  async close (): Promise<void> {
    this.#events.removeAllListeners()
  }
}

composeStore(MemoryStore, {
  credentials: MemoryCredentials,
  admin: MemoryAdmin,
  keyRequests: MemoryKeyRequests,
  counters: MemoryCounters,
  limits: MemoryLimits,
  changes: MemoryChangeFeed
})
