import type { Cluster, Redis } from 'ioredis'
import type { DiskStore } from './disk-store.js'
import { nameMember, RedisKeys } from './redis/keys.js'
import type { Client } from './types.js'

// `gerbang migrate --to-redis`: the embedded store's contents written into an
// empty Redis in RedisStore's key layout (src/store/redis/keys.ts, shared
// with the store; the test in test/store/disk-gateway.test.ts starts a
// gateway on the result). Commands go in pipelines grouped by hash tag, so
// each stays in one Cluster slot.

/** What was copied. */
export interface MigrationCounts {
  clients: number
  keys: number
  tokens: number
  users: number
  roles: number
  sessions: number
  audit: number
  keyRequests: number
  counterBuckets: number
}

const BATCH = 500

interface ClientRow { id: string, name_lower: string, json: string, last_used: string | null }
interface KeyRow { hash: string, client_id: string, expires_at: number | null }
interface TokenRow { hash: string, client_id: string, key_hash: string, expires_at: number }
interface KeyRequestRow { id: string, created_ms: number, status: string, link_hash: string | null, json: string }

/** Runs `fill` on pipelines of at most BATCH items each. */
async function inBatches<T> (redis: Redis | Cluster, items: Iterable<T>, fill: (pipeline: ReturnType<Redis['pipeline']>, item: T) => void): Promise<number> {
  let pipeline = redis.pipeline()
  let size = 0
  let total = 0
  const flush = async (): Promise<void> => {
    if (size === 0) return
    const results = await pipeline.exec()
    const error = results?.find(([err]) => err !== null)?.[0]
    if (error !== undefined && error !== null) throw error
    pipeline = redis.pipeline()
    size = 0
  }
  for (const item of items) {
    fill(pipeline, item)
    size++
    total++
    if (size >= BATCH) await flush()
  }
  await flush()
  return total
}

/** Copies everything alive in `source` into the Redis behind `redis`, under `prefix` (RedisStore's default: `gb:`). */
export async function copyToRedis (source: DiskStore, redis: Redis | Cluster, prefix = 'gb:'): Promise<MigrationCounts> {
  const redisKeys = new RedisKeys(prefix)
  const c = (suffix: string): string => redisKeys.c(suffix)
  const u = (suffix: string): string => redisKeys.u(suffix)
  const now = Date.now()

  const clients = await inBatches(redis, source.rows<ClientRow>('clients'), (p, row) => {
    const client = JSON.parse(row.json) as Client
    p.set(c(`client:${row.id}`), JSON.stringify(client))
    p.set(c(`name:${row.name_lower}`), row.id)
    p.zadd(c('names'), 0, nameMember(row.name_lower, row.id))
    if (row.last_used !== null) p.hset(c('lastused'), row.id, row.last_used)
  })
  const liveKeys = function * (): Generator<KeyRow> {
    for (const row of source.rows<KeyRow>('keys')) if (row.expires_at === null || row.expires_at > now) yield row
  }
  const keys = await inBatches(redis, liveKeys(), (p, row) => {
    if (row.expires_at === null) p.set(c(`key:${row.hash}`), row.client_id)
    else p.set(c(`key:${row.hash}`), row.client_id, 'PX', Math.max(1, row.expires_at - now))
    p.sadd(c(`keys:${row.client_id}`), row.hash)
  })
  const liveTokens = function * (): Generator<TokenRow> {
    for (const row of source.rows<TokenRow>('tokens')) if (row.expires_at > now) yield row
  }
  const tokens = await inBatches(redis, liveTokens(), (p, row) => {
    p.set(c(`tok:${row.hash}`), `${row.client_id} ${row.key_hash}`, 'PX', Math.max(1, row.expires_at - now))
  })
  await inBatches(redis, source.rows<{ id: string }>('legacy_clients'), (p, row) => { p.sadd(c('legacy'), row.id) })
  await inBatches(redis, source.rows<{ length: number }>('legacy_key_lengths'), (p, row) => { p.sadd(c('legacylen'), String(row.length)) })

  const users = await inBatches(redis, source.rows<{ email_lower: string, json: string }>('users'), (p, row) => {
    p.set(u(`user:${row.email_lower}`), row.json)
    p.sadd(u('users'), row.email_lower)
  })
  const roles = await inBatches(redis, source.rows<{ name: string, json: string }>('roles'), (p, row) => {
    p.hset(u('roles'), row.name, row.json)
  })
  const liveSessions = function * (): Generator<{ hash: string, json: string, expires_at: number }> {
    for (const row of source.rows<{ hash: string, json: string, expires_at: number }>('sessions')) if (row.expires_at > now) yield row
  }
  const sessions = await inBatches(redis, liveSessions(), (p, row) => {
    p.set(redisKeys.session(row.hash), row.json, 'PX', Math.max(1, row.expires_at - now))
  })
  // Oldest first: LPUSH leaves the newest at the head, as appendAudit does.
  const audit = await inBatches(redis, source.rows<{ json: string }>('audit'), (p, row) => { p.lpush(redisKeys.audit(), row.json) })

  // The key-request queue as RedisKeyRequests keeps it (src/store/redis/key-requests.ts): each
  // request, its place in the time-ordered sets (all, and its status's), its current link.
  const keyRequests = await inBatches(redis, source.rows<KeyRequestRow>('key_requests'), (p, row) => {
    p.set(redisKeys.k(`req:${row.id}`), row.json)
    p.zadd(redisKeys.k('reqs'), row.created_ms, row.id)
    p.zadd(redisKeys.k(`reqs:${row.status}`), row.created_ms, row.id)
    if (row.link_hash !== null) p.set(redisKeys.k(`link:${row.link_hash}`), row.id)
  })

  // Traffic counters: one bucket (hash) at a time, each with what is left of its TTL.
  let counterBuckets = 0
  for (const bucket of source.rows<{ bucket: string, expires_at: number }>('buckets')) {
    if (bucket.expires_at <= now) continue
    const fields = source.counterFields(bucket.bucket)
    if (fields.length === 0) continue
    const key = redisKeys.traffic(bucket.bucket)
    await redis.hset(key, Object.fromEntries(fields.map((f) => [f.field, String(f.count)])))
    await redis.pexpire(key, Math.max(1, bucket.expires_at - now))
    counterBuckets++
  }
  return { clients, keys, tokens, users, roles, sessions, audit, keyRequests, counterBuckets }
}
