import { DEFAULT_DATA_DIR } from '../config/env.js'
import type { Store } from './types.js'

export type { Store } from './types.js'

/**
 * The store for REDIS_URL, or the embedded one on disk in `dataDir` (GERBANG_DATA_DIR) when it is unset.
 * Each is loaded only when asked for: a gateway on the embedded store never loads ioredis (~40 ms of every start).
 */
export async function createStore (
  redisUrl: string | undefined, prefix?: string, dataDir = DEFAULT_DATA_DIR
): Promise<Store> {
  if (redisUrl === undefined) {
    const { DiskStore } = await import('./disk-store.js')
    return new DiskStore({ dir: dataDir })
  }
  const { RedisStore } = await import('./redis-store.js')
  return new RedisStore({ url: redisUrl, ...(prefix !== undefined ? { prefix } : {}) })
}
