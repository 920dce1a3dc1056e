import type { Redis, Cluster } from 'ioredis'
import { composeStore, setParts } from './compose.js'
import { RedisAdmin } from './redis/admin.js'
import { RedisChangeFeed } from './redis/change-feed.js'
import { connectRedis, type RedisClient } from './redis/connection.js'
import { RedisCounters } from './redis/counters.js'
import { RedisCredentials } from './redis/credentials.js'
import { RedisKeyRequests } from './redis/key-requests.js'
import { RedisKeys } from './redis/keys.js'
import { RedisLimits } from './redis/limits.js'
import { defineScripts } from './redis/scripts.js'
import type { Store } from './types.js'

// The store for several machines. Its roles: src/store/redis/, one module
// each (credentials.ts, admin.ts, key-requests.ts, counters.ts, limits.ts,
// change-feed.ts); the key layout in redis/keys.ts, every Lua script in
// redis/scripts.ts, REDIS_URL and the connection's settings in
// redis/connection.ts. The store is put together from them (src/store/compose.ts).

export interface RedisStoreOptions {
  url: string
  /** Namespace for every key and the channel; default `gb:`. Tests use their own. */
  prefix?: string
}

/** Every role's methods, given to the class by composeStore below. */
export interface RedisStore extends Store {}

export class RedisStore {
  readonly kind = 'redis'
  readonly #redis: RedisClient
  #subscriber: RedisClient | undefined

  constructor (options: RedisStoreOptions) {
    const keys = new RedisKeys(options.prefix ?? 'gb:')
    const redis = connectRedis(options.url)
    // Registered once; ioredis sends EVALSHA and falls back to EVAL once per script.
    const scripted = defineScripts(redis)
    // Errors surface through the commands that fail; an 'error' listener keeps
    // ioredis from reporting each reconnect attempt as unhandled.
    redis.on('error', () => {})
    this.#redis = redis
    setParts(this, {
      credentials: new RedisCredentials(scripted, keys),
      admin: new RedisAdmin(scripted, keys),
      keyRequests: new RedisKeyRequests(scripted, keys),
      counters: new RedisCounters(scripted, keys),
      limits: new RedisLimits(scripted, keys),
      changes: new RedisChangeFeed(redis, keys.channel(), (subscriber) => { this.#subscriber = subscriber })
    })
  }

  /** The underlying connection, for health checks and tests. */
  get redis (): Redis | Cluster {
    return this.#redis
  }

  isAvailable (): boolean {
    return this.#redis.status === 'ready'
  }

  async close (): Promise<void> {
    await Promise.all([this.#redis, this.#subscriber].map(async (r) => {
      if (r === undefined) return
      try {
        await r.quit()
      } catch {
        r.disconnect()
      }
    }))
  }
}

composeStore(RedisStore, {
  credentials: RedisCredentials,
  admin: RedisAdmin,
  keyRequests: RedisKeyRequests,
  counters: RedisCounters,
  limits: RedisLimits,
  changes: RedisChangeFeed
})
