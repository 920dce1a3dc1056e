import { MemoryStore } from './memory-store.js'
import { RedisStore } from './redis-store.js'
import type { Store } from './types.js'

export type { Store } from './types.js'

/** The store for REDIS_URL, or the embedded one when it is unset. */
export function createStore (redisUrl: string | undefined, prefix?: string): Store {
  return redisUrl === undefined ? new MemoryStore() : new RedisStore({ url: redisUrl, ...(prefix !== undefined ? { prefix } : {}) })
}
