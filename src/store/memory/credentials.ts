import {
  applyClientChanges,
  type Client, type ClientChanges, type CredentialStore, type LegacyImportOutcome, type LegacyMark, type LegacySummary,
  type ListClientsOptions, type ResolvedCredential
} from '../credentials.js'
import { StoreConflictError } from '../types.js'
import { live, type MemorySweeper } from './sweeper.js'

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

/** MemoryStore's CredentialStore: clients, key hashes, tokens and the legacy import, in this process's maps. */
export class MemoryCredentials implements CredentialStore {
  readonly #clients = new Map<string, Client>()
  /** Client id by lowercased name. */
  readonly #names = new Map<string, string>()
  readonly #keys = new Map<string, Expiring>()
  readonly #tokens = new Map<string, TokenEntry>()
  /** Ids of the clients imported from the old API manager, and their keys' lengths. */
  readonly #legacy = new Set<string>()
  readonly #legacyKeyLengths = new Set<number>()
  readonly #sweeper: MemorySweeper

  constructor (sweeper: MemorySweeper) {
    this.#sweeper = sweeper
    sweeper.add((now) => {
      for (const [hash, entry] of this.#tokens) if (entry.expiresAt <= now) this.#tokens.delete(hash)
    })
  }

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
    return this.#resolve(keyHash)
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

  async importClient (
    client: Client, keyHash: string, keyLength: number, dryRun: boolean
  ): Promise<LegacyImportOutcome> {
    const owner = this.#resolve(keyHash)
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
    const now = this.#sweeper.sweepIfDue()
    this.#tokens.set(tokenHash, { clientId, keyHash, expiresAt: now + ttlMs })
  }

  async resolveToken (tokenHash: string): Promise<ResolvedCredential | undefined> {
    const token = live(this.#tokens, tokenHash)
    if (token === undefined) return undefined
    // The key it was minted with must still be this client's, and alive.
    const key = this.#resolve(token.keyHash)
    if (key === undefined || key.client.id !== token.clientId) {
      this.#tokens.delete(tokenHash)
      return undefined
    }
    return { client: key.client, expiresAt: Math.min(token.expiresAt, key.expiresAt ?? Infinity) }
  }

  #resolve (hash: string): ResolvedCredential | undefined {
    const entry = this.#keys.get(hash)
    if (entry === undefined) return undefined
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      this.#keys.delete(hash)
      return undefined
    }
    const client = this.#clients.get(entry.clientId)
    return client === undefined ? undefined : { client: structuredClone(client), expiresAt: entry.expiresAt }
  }
}
