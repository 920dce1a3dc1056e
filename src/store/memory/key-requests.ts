import {
  applyKeyRequestChanges, DEFAULT_KEY_REQUEST_LIMIT, newestFirst, noKeyRequests,
  type KeyRequest, type KeyRequestChanges, type KeyRequestStatus, type KeyRequestStore, type ListKeyRequestsOptions
} from '../key-requests.js'
import { StoreConflictError } from '../types.js'

/** The key-request queue of MemoryStore: this process's own, gone when it stops. */
export class MemoryKeyRequests implements KeyRequestStore {
  readonly #requests = new Map<string, KeyRequest>()
  /** Link hash → request id; an entry stays after its link is replaced, and is checked against the request. */
  readonly #links = new Map<string, string>()

  async createKeyRequest (request: KeyRequest, maxPending: number): Promise<boolean> {
    let pending = 0
    for (const r of this.#requests.values()) if (r.status === 'pending') pending++
    if (pending >= maxPending) return false
    if (this.#requests.has(request.id)) throw new StoreConflictError(`a key request with id '${request.id}' already exists`)
    this.#requests.set(request.id, structuredClone(request))
    if (request.linkHash !== undefined) this.#links.set(request.linkHash, request.id)
    return true
  }

  async getKeyRequest (id: string): Promise<KeyRequest | undefined> {
    const request = this.#requests.get(id)
    return request === undefined ? undefined : structuredClone(request)
  }

  async listKeyRequests (options: ListKeyRequestsOptions = {}): Promise<KeyRequest[]> {
    const limit = options.limit ?? DEFAULT_KEY_REQUEST_LIMIT
    const offset = Math.max(0, options.offset ?? 0)
    if (limit <= 0) return []
    return [...this.#requests.values()]
      .filter((r) => options.status === undefined || r.status === options.status)
      .sort(newestFirst)
      .slice(offset, offset + limit)
      .map((r) => structuredClone(r))
  }

  async countKeyRequests (): Promise<Record<KeyRequestStatus, number>> {
    const counts = noKeyRequests()
    for (const r of this.#requests.values()) counts[r.status] += 1
    return counts
  }

  async updateKeyRequest (
    id: string, from: KeyRequestStatus, changes: KeyRequestChanges
  ): Promise<KeyRequest | undefined> {
    const request = this.#requests.get(id)
    if (request === undefined || request.status !== from) return undefined
    const next = applyKeyRequestChanges(request, structuredClone(changes))
    if (request.linkHash !== next.linkHash) {
      if (request.linkHash !== undefined) this.#links.delete(request.linkHash)
      if (next.linkHash !== undefined) this.#links.set(next.linkHash, id)
    }
    this.#requests.set(id, next)
    return structuredClone(next)
  }

  async findKeyRequestByLink (linkHash: string): Promise<KeyRequest | undefined> {
    const id = this.#links.get(linkHash)
    const request = id === undefined ? undefined : this.#requests.get(id)
    return request?.linkHash === linkHash ? structuredClone(request) : undefined
  }
}
