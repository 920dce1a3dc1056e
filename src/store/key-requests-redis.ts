import type { RedisClient } from './redis-connection.js'
import {
  applyKeyRequestChanges, DEFAULT_KEY_REQUEST_LIMIT, KEY_REQUEST_STATUSES, noKeyRequests,
  type KeyRequest, type KeyRequestChanges, type KeyRequestStatus, type ListKeyRequestsOptions
} from './key-requests.js'
import { StoreConflictError, StoreUnavailableError } from './types.js'

// The key-request queue of RedisStore. Every key shares the `{k}` hash tag,
// so each script stays in one Redis Cluster slot:
//   <p>{k}:req:<id>        the request, JSON
//   <p>{k}:reqs            sorted set of every request id by creation time (ms)
//   <p>{k}:reqs:<status>   the same, per status (ZCARD of pending is the queue's length)
//   <p>{k}:link:<sha256>   request id by its one-time link's hash
// The JSON is built in JavaScript and swapped by compare-and-set (cjson
// would turn an empty list into an object).

// KEYS: request, every request, pending. ARGV: json, id, score, max pending.
const CREATE = `
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[4]) then return 0 end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX') then return -1 end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
return 1`

// KEYS: request, its status's set, the new status's set, the old link, the new link.
// ARGV: JSON read, JSON to write, id, score, drop the old link ('1'), index the new one ('1').
const UPDATE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
if KEYS[2] ~= KEYS[3] then
  redis.call('ZREM', KEYS[2], ARGV[3])
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
end
if ARGV[5] == '1' then redis.call('DEL', KEYS[4]) end
if ARGV[6] == '1' then redis.call('SET', KEYS[5], ARGV[3]) end
return 1`

interface Scripts {
  gerbangCreateKeyRequest: (request: string, all: string, pending: string, json: string, id: string, score: number, maxPending: number) => Promise<number>
  gerbangUpdateKeyRequest: (request: string, from: string, to: string, oldLink: string, newLink: string,
    before: string, after: string, id: string, score: number, dropLink: string, setLink: string) => Promise<number>
}

type Run = <T>(command: () => Promise<T>) => Promise<T>

export class RedisKeyRequests {
  readonly #redis: RedisClient & Scripts
  readonly #p: string
  readonly #run: Run

  /** `run` is RedisStore's: connection failures become StoreUnavailableError. */
  constructor (redis: RedisClient, prefix: string, run: Run) {
    redis.defineCommand('gerbangCreateKeyRequest', { numberOfKeys: 3, lua: CREATE })
    redis.defineCommand('gerbangUpdateKeyRequest', { numberOfKeys: 5, lua: UPDATE })
    this.#redis = redis as RedisClient & Scripts
    this.#p = prefix
    this.#run = run
  }

  #k (suffix: string): string {
    return `${this.#p}{k}:${suffix}`
  }

  async create (request: KeyRequest, maxPending: number): Promise<boolean> {
    const created = await this.#run(async () => await this.#redis.gerbangCreateKeyRequest(
      this.#k(`req:${request.id}`), this.#k('reqs'), this.#k(`reqs:${request.status}`),
      JSON.stringify(request), request.id, Date.parse(request.createdAt), maxPending))
    if (created === -1) throw new StoreConflictError(`a key request with id '${request.id}' already exists`)
    return created === 1
  }

  async get (id: string): Promise<KeyRequest | undefined> {
    const json = await this.#run(async () => await this.#redis.get(this.#k(`req:${id}`)))
    return json === null ? undefined : JSON.parse(json) as KeyRequest
  }

  async list (options: ListKeyRequestsOptions = {}): Promise<KeyRequest[]> {
    const limit = options.limit ?? DEFAULT_KEY_REQUEST_LIMIT
    const offset = Math.max(0, options.offset ?? 0)
    // ZREVRANGE with a stop of -1 would be the whole set, not nothing.
    if (limit <= 0) return []
    const set = this.#k(options.status === undefined ? 'reqs' : `reqs:${options.status}`)
    const ids = await this.#run(async () => await this.#redis.zrevrange(set, offset, offset + limit - 1))
    if (ids.length === 0) return []
    const jsons = await this.#run(async () => await this.#redis.mget(ids.map((id) => this.#k(`req:${id}`))))
    return jsons.filter((json) => json !== null).map((json) => JSON.parse(json) as KeyRequest)
  }

  async count (): Promise<Record<KeyRequestStatus, number>> {
    const sizes = await this.#run(async () => await Promise.all(KEY_REQUEST_STATUSES.map(async (s) => await this.#redis.zcard(this.#k(`reqs:${s}`)))))
    const counts = noKeyRequests()
    KEY_REQUEST_STATUSES.forEach((s, i) => { counts[s] = sizes[i] ?? 0 })
    return counts
  }

  async update (id: string, from: KeyRequestStatus, changes: KeyRequestChanges): Promise<KeyRequest | undefined> {
    const key = this.#k(`req:${id}`)
    // Another write in between (a link opened twice at once) makes the compare fail: read again.
    for (let attempt = 0; attempt < 10; attempt++) {
      const before = await this.#run(async () => await this.#redis.get(key))
      if (before === null) return undefined
      const current = JSON.parse(before) as KeyRequest
      if (current.status !== from) return undefined
      const next = applyKeyRequestChanges(current, changes)
      const relinked = current.linkHash !== next.linkHash
      const done = await this.#run(async () => await this.#redis.gerbangUpdateKeyRequest(
        key, this.#k(`reqs:${current.status}`), this.#k(`reqs:${next.status}`),
        this.#k(`link:${current.linkHash ?? '-'}`), this.#k(`link:${next.linkHash ?? '-'}`),
        before, JSON.stringify(next), id, Date.parse(next.createdAt),
        relinked && current.linkHash !== undefined ? '1' : '0', relinked && next.linkHash !== undefined ? '1' : '0'))
      if (done === 1) return next
    }
    throw new StoreUnavailableError(`the key request ${id} kept changing while it was being updated`)
  }

  async findByLink (linkHash: string): Promise<KeyRequest | undefined> {
    const id = await this.#run(async () => await this.#redis.get(this.#k(`link:${linkHash}`)))
    if (id === null) return undefined
    const request = await this.get(id)
    return request?.linkHash === linkHash ? request : undefined
  }
}
