import { DEFAULT_DATA_DIR } from '../config/env.js'
import { DiskStore } from './disk-store.js'
import { RedisStore } from './redis-store.js'
import type { Store } from './types.js'

export type { Store } from './types.js'

/** The store for REDIS_URL, or the embedded one on disk in `dataDir` (GERBANG_DATA_DIR) when it is unset. */
export function createStore (redisUrl: string | undefined, prefix?: string, dataDir = DEFAULT_DATA_DIR): Store {
  return redisUrl === undefined
    ? new DiskStore({ dir: dataDir })
    : new RedisStore({ url: redisUrl, ...(prefix !== undefined ? { prefix } : {}) })
}
