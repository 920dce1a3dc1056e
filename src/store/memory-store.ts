import { EventEmitter } from 'node:events'
import {
  StoreConflictError,
  type Client, type ListClientsOptions, type ResolvedCredential, type Store, type StoreChange, type User,
  type Lease, type WindowCounter
} from './types.js'

interface Expiring {
  clientId: string
  /** Epoch ms, or undefined for never. */
  expiresAt: number | undefined
}

const DEFAULT_LIST_LIMIT = 100

/**
 * The embedded store: everything in this process's memory, gone when it
 * stops. For the demo and single-process trials only; several gateway
 * processes each see their own copy.
 */
export class MemoryStore implements Store {
  readonly kind = 'memory'
  readonly #clients = new Map<string, Client>()
  readonly #names = new Map<string, string>()
  readonly #keys = new Map<string, Expiring>()
  readonly #tokens = new Map<string, Expiring>()
  readonly #users = new Map<string, User>()
  readonly #events = new EventEmitter()
  readonly #windows = new Map<string, { count: number, resetAt: number }>()

  async createClient (client: Client, keyHash: string): Promise<void> {
    const name = client.name.toLowerCase()
    if (this.#names.has(name)) throw new StoreConflictError(`a client named '${client.name}' already exists`)
    this.#names.set(name, client.id)
    this.#clients.set(client.id, structuredClone(client))
    this.#keys.set(keyHash, { clientId: client.id, expiresAt: undefined })
  }

  async getClient (id: string): Promise<Client | undefined> {
    const client = this.#clients.get(id)
    return client === undefined ? undefined : structuredClone(client)
  }

  async listClients (options: ListClientsOptions = {}): Promise<Client[]> {
    const fragment = options.search?.toLowerCase()
    const names = [...this.#names.keys()].sort()
    const found: Client[] = []
    for (const name of names) {
      if (found.length >= (options.limit ?? DEFAULT_LIST_LIMIT)) break
      if (fragment !== undefined && !name.includes(fragment)) continue
      found.push(structuredClone(this.#clients.get(this.#names.get(name) as string) as Client))
    }
    return found
  }

  async revokeClient (id: string, at: string): Promise<Client | undefined> {
    const client = this.#clients.get(id)
    if (client === undefined) return undefined
    client.revokedAt ??= at
    return structuredClone(client)
  }

  async rotateKey (id: string, newKeyHash: string, graceMs: number): Promise<boolean> {
    const client = this.#clients.get(id)
    if (client === undefined || client.revokedAt !== undefined) return false
    const until = Date.now() + graceMs
    for (const [hash, entry] of this.#keys) {
      if (entry.clientId !== id) continue
      if (graceMs <= 0) this.#keys.delete(hash)
      else entry.expiresAt = Math.min(entry.expiresAt ?? Infinity, until)
    }
    this.#keys.set(newKeyHash, { clientId: id, expiresAt: undefined })
    return true
  }

  async resolveKey (keyHash: string): Promise<ResolvedCredential | undefined> {
    return this.#resolve(this.#keys, keyHash)
  }

  async touchClients (lastUsed: ReadonlyMap<string, string>): Promise<void> {
    for (const [id, at] of lastUsed) {
      const client = this.#clients.get(id)
      if (client !== undefined && (client.lastUsedAt === undefined || client.lastUsedAt < at)) client.lastUsedAt = at
    }
  }

  async saveToken (tokenHash: string, clientId: string, ttlMs: number): Promise<void> {
    this.#tokens.set(tokenHash, { clientId, expiresAt: Date.now() + ttlMs })
  }

  async resolveToken (tokenHash: string): Promise<ResolvedCredential | undefined> {
    return this.#resolve(this.#tokens, tokenHash)
  }

  async createUser (user: User): Promise<void> {
    const email = user.email.toLowerCase()
    if (this.#users.has(email)) throw new StoreConflictError(`a user with email '${user.email}' already exists`)
    this.#users.set(email, structuredClone(user))
  }

  async getUser (email: string): Promise<User | undefined> {
    const user = this.#users.get(email.toLowerCase())
    return user === undefined ? undefined : structuredClone(user)
  }

  async lease (group: string, counters: readonly WindowCounter[], liveProcesses: number, cap: number): Promise<Lease> {
    const now = Date.now()
    const windows = counters.map(({ key, windowMs }) => {
      const name = `${group}:${key}`
      let window = this.#windows.get(name)
      if (window === undefined || window.resetAt <= now) {
        window = { count: 0, resetAt: now + windowMs }
        this.#windows.set(name, window)
      }
      return window
    })
    const room = Math.max(0, Math.min(...counters.map((c, i) => c.limit - (windows[i] as { count: number }).count)))
    const granted = Math.min(room, Math.max(1, Math.min(cap, Math.floor(room / (4 * liveProcesses)))))
    for (const window of windows) window.count += granted
    return {
      granted,
      remaining: counters.map((c, i) => c.limit - (windows[i] as { count: number }).count),
      resetMs: windows.map((w) => w.resetAt - now)
    }
  }

  async release (group: string, keys: readonly string[], tokens: number): Promise<void> {
    for (const key of keys) {
      const window = this.#windows.get(`${group}:${key}`)
      if (window !== undefined) window.count = Math.max(0, window.count - tokens)
    }
  }

  async heartbeat (): Promise<number> {
    // The embedded store is one process's own.
    this.#sweepWindows()
    return 1
  }

  async publishChange (change: StoreChange): Promise<void> {
    this.#events.emit('change', change)
  }

  async subscribe (onChange: (change: StoreChange) => void): Promise<void> {
    this.#events.on('change', onChange)
  }

  isAvailable (): boolean {
    return true
  }

  async close (): Promise<void> {
    this.#events.removeAllListeners()
  }

  // Expired windows would otherwise pile up, one per client and integration.
  #sweepWindows (): void {
    const now = Date.now()
    for (const [name, window] of this.#windows) if (window.resetAt <= now) this.#windows.delete(name)
  }

  #resolve (entries: Map<string, Expiring>, hash: string): ResolvedCredential | undefined {
    const entry = entries.get(hash)
    if (entry === undefined) return undefined
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      entries.delete(hash)
      return undefined
    }
    const client = this.#clients.get(entry.clientId)
    return client === undefined ? undefined : { client: structuredClone(client), expiresAt: entry.expiresAt }
  }
}
