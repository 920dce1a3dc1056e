import {
  applyKeyRequestChanges, DEFAULT_KEY_REQUEST_LIMIT, KEY_REQUEST_STATUSES, noKeyRequests,
  type KeyRequest, type KeyRequestChanges, type KeyRequestStatus, type KeyRequestStore, type ListKeyRequestsOptions
} from '../key-requests.js'
import { StoreConflictError, StoreUnavailableError } from '../types.js'
import { runCommand as run } from './connection.js'
import { RedisPart } from './part.js'

// The key-request queue of RedisStore: the `{k}` keys (src/store/redis/keys.ts),
// so each script stays in one Redis Cluster slot. The JSON is built in
// JavaScript and swapped by compare-and-set (cjson would turn an empty list
// into an object).

/** RedisStore's KeyRequestStore. */
export class RedisKeyRequests extends RedisPart implements KeyRequestStore {
  #k (suffix: string): string {
    return this.keys.k(suffix)
  }

  async createKeyRequest (request: KeyRequest, maxPending: number): Promise<boolean> {
    const created = await run(async () => await this.redis.gerbangCreateKeyRequest(
      this.#k(`req:${request.id}`), this.#k('reqs'), this.#k(`reqs:${request.status}`),
      JSON.stringify(request), request.id, Date.parse(request.createdAt), maxPending))
    if (created === -1) throw new StoreConflictError(`a key request with id '${request.id}' already exists`)
    return created === 1
  }

  async getKeyRequest (id: string): Promise<KeyRequest | undefined> {
    const json = await run(async () => await this.redis.get(this.#k(`req:${id}`)))
    return json === null ? undefined : JSON.parse(json) as KeyRequest
  }

  async listKeyRequests (options: ListKeyRequestsOptions = {}): Promise<KeyRequest[]> {
    const limit = options.limit ?? DEFAULT_KEY_REQUEST_LIMIT
    const offset = Math.max(0, options.offset ?? 0)
    // ZREVRANGE with a stop of -1 would be the whole set, not nothing.
    if (limit <= 0) return []
    const set = this.#k(options.status === undefined ? 'reqs' : `reqs:${options.status}`)
    const ids = await run(async () => await this.redis.zrevrange(set, offset, offset + limit - 1))
    if (ids.length === 0) return []
    const jsons = await run(async () => await this.redis.mget(ids.map((id) => this.#k(`req:${id}`))))
    return jsons.filter((json) => json !== null).map((json) => JSON.parse(json) as KeyRequest)
  }

  async countKeyRequests (): Promise<Record<KeyRequestStatus, number>> {
    const sizes = await run(async () => await Promise.all(KEY_REQUEST_STATUSES.map(async (s) => await this.redis.zcard(this.#k(`reqs:${s}`)))))
    const counts = noKeyRequests()
    KEY_REQUEST_STATUSES.forEach((s, i) => { counts[s] = sizes[i] ?? 0 })
    return counts
  }

  async updateKeyRequest (
    id: string, from: KeyRequestStatus, changes: KeyRequestChanges
  ): Promise<KeyRequest | undefined> {
    const key = this.#k(`req:${id}`)
    // Another write in between (a link opened twice at once) makes the compare fail: read again.
    for (let attempt = 0; attempt < 10; attempt++) {
      const before = await run(async () => await this.redis.get(key))
      if (before === null) return undefined
      const current = JSON.parse(before) as KeyRequest
      if (current.status !== from) return undefined
      const next = applyKeyRequestChanges(current, changes)
      const relinked = current.linkHash !== next.linkHash
      const done = await run(async () => await this.redis.gerbangUpdateKeyRequest(
        key, this.#k(`reqs:${current.status}`), this.#k(`reqs:${next.status}`),
        this.#k(`link:${current.linkHash ?? '-'}`), this.#k(`link:${next.linkHash ?? '-'}`),
        before, JSON.stringify(next), id, Date.parse(next.createdAt),
        relinked && current.linkHash !== undefined ? '1' : '0', relinked && next.linkHash !== undefined ? '1' : '0'))
      if (done === 1) return next
    }
    throw new StoreUnavailableError(`the key request ${id} kept changing while it was being updated`)
  }

  async findKeyRequestByLink (linkHash: string): Promise<KeyRequest | undefined> {
    const id = await run(async () => await this.redis.get(this.#k(`link:${linkHash}`)))
    if (id === null) return undefined
    const request = await this.getKeyRequest(id)
    return request?.linkHash === linkHash ? request : undefined
  }
}
