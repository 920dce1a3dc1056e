// The store contract: everything Gerbang keeps outside one process, split by
// the role each consumer needs, so that each takes only its own:
//
//   CredentialStore  clients, key hashes, OAuth2 tokens, the legacy import  credentials.ts
//   AdminStore       admin users, roles, sessions, audit log, key requests  admin.ts, key-requests.ts
//   CounterStore     traffic counters in expiring buckets                    counters.ts
//   LimitStore       rate-limit windows (leases) and the process heartbeat   limits.ts
//   ChangeFeed       changes announced to every gateway process              change-feed.ts
//   StoreBase        kind, isAvailable, close (below)
//
// `Store` is all of them: what openRedisStore (src/store/index.ts) and DiskStore open, and
// what owns a store (the app, the server, the CLI, `gerbang migrate`).
// Three implementations, each made of one object per role
// (src/store/compose.ts), pass the same contract suite (test/store/contract/):
// Redis for several machines (redis-store.ts, redis/), the embedded one on
// disk (SQLite: disk-store.ts, disk/) for one server and the demo, and an
// in-memory one for in-process tests (memory-store.ts, memory/).
//
// Secrets never reach the store: keys and tokens arrive as HMAC-SHA256 hashes
// (src/auth/secrets.ts), passwords as scrypt hashes.

import type { AdminStore } from './admin.js'
import type { ChangeFeed } from './change-feed.js'
import type { CounterStore } from './counters.js'
import type { CredentialStore } from './credentials.js'
import type { LimitStore } from './limits.js'

export * from './admin.js'
export * from './change-feed.js'
export * from './counters.js'
export * from './credentials.js'
export * from './key-requests.js'
export * from './limits.js'

/** What any holder of a store may ask it: which kind it is, and whether it answers. */
export interface StoreStatus {
  /** 'redis', 'disk' or 'memory', for logs and /readyz. */
  readonly kind: string
  /** Whether the store answers right now (no waiting). */
  isAvailable (): boolean
}

/** What every store has besides its roles; `close` is for its owner only. */
export interface StoreBase extends StoreStatus {
  close (): Promise<void>
}

/** Every role at once. */
export type Store = StoreBase & CredentialStore & AdminStore & CounterStore & LimitStore & ChangeFeed

export class StoreConflictError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'StoreConflictError'
  }
}

/** The store could not be reached or did not answer in time. */
export class StoreUnavailableError extends Error {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StoreUnavailableError'
  }
}
