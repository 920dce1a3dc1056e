import { EventEmitter } from 'node:events'
import {
  AUDIT_KEEP, StoreConflictError,
  type Client, type ListClientsOptions, type ResolvedCredential, type Store, type StoreChange, type User,
  type Lease, type WindowCounter, type Role, type Session, type AuditEntry, type CounterBucket,
  type LegacyImportOutcome, type LegacyMark, type LegacySummary, type ClientChanges, applyClientChanges
} from './types.js'
import { MemoryKeyRequests } from './key-requests-memory.js'

interface Expiring {
  clientId: string
  /** Epoch ms, or undefined for never. */
  expiresAt: number | undefined
}

interface TokenEntry {
  clientId: string
  /** The key the token was minted with: it resolves only while that key does. */
  keyHash: string
  expiresAt: number
}

const DEFAULT_LIST_LIMIT = 100
// The audit array may run this far past AUDIT_KEEP before it is cut back, so
// that a full log is not shifted on every append.
const AUDIT_SLACK = 1000
// Expired sessions, tokens and counter buckets are dropped when read; ones
// never read again are swept at most this often, on a write.
const SWEEP_EVERY_MS = 60_000

/** The entry under `key` unless it has expired, in which case it is dropped. */
function live<T extends { expiresAt: number }> (entries: Map<string, T>, key: string, now = Date.now()): T | undefined {
  const entry = entries.get(key)
  if (entry === undefined || entry.expiresAt > now) return entry
  entries.delete(key)
  return undefined
}

/** Orders by a string key in code-unit order, as Redis orders its sorted-set members. */
function byKey<T> (key: (item: T) => string): (a: T, b: T) => number {
  return (a, b) => {
    const x = key(a)
    const y = key(b)
    return x < y ? -1 : x > y ? 1 : 0
  }
}

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
  readonly #tokens = new Map<string, TokenEntry>()
  readonly #users = new Map<string, User>()
  readonly #events = new EventEmitter()
  readonly #windows = new Map<string, { count: number, resetAt: number }>()
  readonly #roles = new Map<string, Role>()
  readonly #sessions = new Map<string, { session: Session, expiresAt: number }>()
  /** Oldest first; listAudit reads it from the end. */
  readonly #audit: AuditEntry[] = []
  readonly #counters = new Map<string, { expiresAt: number, counts: Map<string, number> }>()
  /** Ids of the clients imported from the old API manager, and their keys' lengths. */
  readonly #legacy = new Set<string>()
  readonly #legacyKeyLengths = new Set<number>()
  #nextSweep = Date.now() + SWEEP_EVERY_MS
  // Key requests: src/store/key-requests-memory.ts.
  readonly #keyRequests = new MemoryKeyRequests()
  readonly createKeyRequest: Store['createKeyRequest'] = async (request, maxPending) => await this.#keyRequests.create(request, maxPending)
  readonly getKeyRequest: Store['getKeyRequest'] = async (id) => await this.#keyRequests.get(id)
  readonly listKeyRequests: Store['listKeyRequests'] = async (options) => await this.#keyRequests.list(options)
  readonly countKeyRequests: Store['countKeyRequests'] = async () => await this.#keyRequests.count()
  readonly updateKeyRequest: Store['updateKeyRequest'] = async (id, from, changes) => await this.#keyRequests.update(id, from, changes)
  readonly findKeyRequestByLink: Store['findKeyRequestByLink'] = async (linkHash) => await this.#keyRequests.findByLink(linkHash)

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
    const limit = options.limit ?? DEFAULT_LIST_LIMIT
    let skip = Math.max(0, options.offset ?? 0)
    const names = [...this.#names.keys()].sort()
    const found: Client[] = []
    for (const name of names) {
      if (found.length >= limit) break
      if (fragment !== undefined && !name.includes(fragment)) continue
      if (skip > 0) {
        skip -= 1
        continue
      }
      found.push(structuredClone(this.#clients.get(this.#names.get(name) as string) as Client))
    }
    return found
  }

  async countClients (): Promise<number> {
    return this.#clients.size
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

  async updateClient (id: string, changes: ClientChanges): Promise<Client | undefined> {
    const client = this.#clients.get(id)
    if (client === undefined) return undefined
    const next = applyClientChanges(structuredClone(client), structuredClone(changes))
    this.#clients.set(id, next)
    return structuredClone(next)
  }

  async deleteClient (id: string): Promise<boolean> {
    const client = this.#clients.get(id)
    if (client?.revokedAt === undefined) return false
    this.#clients.delete(id)
    if (this.#names.get(client.name.toLowerCase()) === id) this.#names.delete(client.name.toLowerCase())
    for (const [hash, entry] of this.#keys) if (entry.clientId === id) this.#keys.delete(hash)
    for (const [hash, entry] of this.#tokens) if (entry.clientId === id) this.#tokens.delete(hash)
    this.#legacy.delete(id)
    return true
  }

  async importClient (client: Client, keyHash: string, keyLength: number, dryRun: boolean): Promise<LegacyImportOutcome> {
    const owner = this.#resolve(this.#keys, keyHash)
    if (owner !== undefined) return { outcome: 'key-taken', clientId: owner.client.id }
    const named = this.#names.get(client.name.toLowerCase())
    if (named !== undefined) return { outcome: 'name-taken', clientId: named }
    if (dryRun) return { outcome: 'created' }
    await this.createClient(client, keyHash)
    this.#legacy.add(client.id)
    this.#legacyKeyLengths.add(keyLength)
    return { outcome: 'created' }
  }

  async legacySummary (): Promise<LegacySummary> {
    return { clients: this.#legacy.size, keyLengths: [...this.#legacyKeyLengths].sort((a, b) => a - b) }
  }

  async setLegacyMark (id: string, mark: LegacyMark): Promise<Client | undefined> {
    const client = this.#clients.get(id)
    if (client === undefined) return undefined
    client.legacy = structuredClone(mark)
    return structuredClone(client)
  }

  async saveToken (tokenHash: string, clientId: string, keyHash: string, ttlMs: number): Promise<void> {
    const now = this.#sweepIfDue()
    this.#tokens.set(tokenHash, { clientId, keyHash, expiresAt: now + ttlMs })
  }

  async resolveToken (tokenHash: string): Promise<ResolvedCredential | undefined> {
    const token = live(this.#tokens, tokenHash)
    if (token === undefined) return undefined
    // The key it was minted with must still be this client's, and alive.
    const key = this.#resolve(this.#keys, token.keyHash)
    if (key === undefined || key.client.id !== token.clientId) {
      this.#tokens.delete(tokenHash)
      return undefined
    }
    return { client: key.client, expiresAt: Math.min(token.expiresAt, key.expiresAt ?? Infinity) }
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

  async listUsers (): Promise<User[]> {
    return [...this.#users].sort(byKey(([email]) => email)).map(([, user]) => structuredClone(user))
  }

  async updateUser (user: User): Promise<boolean> {
    const email = user.email.toLowerCase()
    if (!this.#users.has(email)) return false
    this.#users.set(email, structuredClone(user))
    return true
  }

  async deleteUser (email: string): Promise<boolean> {
    return this.#users.delete(email.toLowerCase())
  }

  async listRoles (): Promise<Role[]> {
    return [...this.#roles.values()].sort(byKey((role) => role.name)).map((role) => structuredClone(role))
  }

  async getRole (name: string): Promise<Role | undefined> {
    const role = this.#roles.get(name)
    return role === undefined ? undefined : structuredClone(role)
  }

  async saveRole (role: Role): Promise<void> {
    this.#roles.set(role.name, structuredClone(role))
  }

  async deleteRole (name: string): Promise<boolean> {
    return this.#roles.delete(name)
  }

  async saveSession (idHash: string, session: Session, ttlMs: number): Promise<void> {
    const now = this.#sweepIfDue()
    this.#sessions.set(idHash, { session: structuredClone(session), expiresAt: now + ttlMs })
  }

  async getSession (idHash: string): Promise<Session | undefined> {
    const entry = live(this.#sessions, idHash)
    return entry === undefined ? undefined : structuredClone(entry.session)
  }

  async touchSession (idHash: string, ttlMs: number): Promise<void> {
    const entry = live(this.#sessions, idHash)
    if (entry !== undefined) entry.expiresAt = Date.now() + ttlMs
  }

  async deleteSession (idHash: string): Promise<void> {
    this.#sessions.delete(idHash)
  }

  async appendAudit (entry: AuditEntry): Promise<void> {
    this.#audit.push(structuredClone(entry))
    if (this.#audit.length > AUDIT_KEEP + AUDIT_SLACK) this.#audit.splice(0, this.#audit.length - AUDIT_KEEP)
  }

  async listAudit (offset: number, limit: number): Promise<AuditEntry[]> {
    const newest = this.#audit.length - 1 - Math.max(0, offset)
    // Entries past AUDIT_KEEP are only waiting to be cut off.
    const oldest = Math.max(newest - limit + 1, this.#audit.length - AUDIT_KEEP, 0)
    const found: AuditEntry[] = []
    for (let i = newest; i >= oldest; i--) found.push(structuredClone(this.#audit[i] as AuditEntry))
    return found
  }

  async addCounts (buckets: readonly CounterBucket[]): Promise<void> {
    const now = this.#sweepIfDue()
    for (const { bucket, ttlMs, counts } of buckets) {
      let entry = live(this.#counters, bucket, now)
      for (const [field, count] of counts) {
        if (count === 0) continue
        if (entry === undefined) {
          entry = { expiresAt: 0, counts: new Map() }
          this.#counters.set(bucket, entry)
        }
        entry.counts.set(field, (entry.counts.get(field) ?? 0) + count)
        entry.expiresAt = now + ttlMs
      }
    }
  }

  async readCounts (buckets: readonly string[]): Promise<Array<Map<string, number>>> {
    const now = Date.now()
    return buckets.map((bucket) => new Map(live(this.#counters, bucket, now)?.counts))
  }

  async readCountFields (bucket: string, fields: readonly string[]): Promise<number[]> {
    const counts = live(this.#counters, bucket)?.counts
    return fields.map((field) => counts?.get(field) ?? 0)
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
    this.#sweepIfDue()
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

  // Sessions and buckets nobody reads again would otherwise stay for good.
  #sweepIfDue (): number {
    const now = Date.now()
    if (now < this.#nextSweep) return now
    this.#nextSweep = now + SWEEP_EVERY_MS
    for (const [id, entry] of this.#sessions) if (entry.expiresAt <= now) this.#sessions.delete(id)
    for (const [bucket, entry] of this.#counters) if (entry.expiresAt <= now) this.#counters.delete(bucket)
    for (const [hash, entry] of this.#tokens) if (entry.expiresAt <= now) this.#tokens.delete(hash)
    return now
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
