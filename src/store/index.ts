import type { Store } from './types.js'

export type { Store } from './types.js'

/**
 * The store in Redis at REDIS_URL. Loaded only when asked for: a gateway on the
 * embedded store (src/store/disk-store.ts, opened by src/server.ts) never loads
 * ioredis (~40 ms of every start).
 */
export async function openRedisStore (url: string): Promise<Store> {
  const { RedisStore } = await import('./redis-store.js')
  return new RedisStore({ url })
}
