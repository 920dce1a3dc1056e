import type { RedisKeys } from './keys.js'
import type { ScriptedRedis } from './scripts.js'

/** What every data part of RedisStore works with: the connection (with the scripts) and the key names. */
export abstract class RedisPart {
  protected readonly redis: ScriptedRedis
  protected readonly keys: RedisKeys

  constructor (redis: ScriptedRedis, keys: RedisKeys) {
    this.redis = redis
    this.keys = keys
  }
}
