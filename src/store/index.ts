import type { RedisStore } from './redis-store.js'

export type { Store } from './types.js'

/**
 * The store in Redis at REDIS_URL, for the gateway and the CLI. Loaded only when
 * asked for: a gateway or command on the embedded store (src/store/disk-store.ts)
 * never loads ioredis (~40-60 ms of every start).
 */
export async function openRedisStore (url: string): Promise<RedisStore> {
  const { RedisStore } = await import('./redis-store.js')
  return new RedisStore({ url })
}
