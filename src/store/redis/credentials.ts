import {
  applyClientChanges,
  type Client, type ClientChanges, type CredentialStore, type LegacyImportOutcome, type LegacyMark, type LegacySummary,
  type ListClientsOptions, type ResolvedCredential
} from '../credentials.js'
import { StoreConflictError, StoreUnavailableError } from '../types.js'
import { ms, runCommand as run } from './connection.js'
import { nameMember } from './keys.js'
import { RedisPart } from './part.js'
import type { ScriptResult } from './scripts.js'

const DEFAULT_LIST_LIMIT = 100
const SEARCH_SLICE = 10_000

/** RedisStore's CredentialStore: the `{c}` keys (src/store/redis/keys.ts). */
export class RedisCredentials extends RedisPart implements CredentialStore {
  #c (suffix: string): string {
    return this.keys.c(suffix)
  }

  async createClient (client: Client, keyHash: string): Promise<void> {
    const lower = client.name.toLowerCase()
    const created = await run(async () => await this.redis.gerbangCreate(
      this.#c(`name:${lower}`), this.#c(`client:${client.id}`), this.#c(`key:${keyHash}`),
      this.#c(`keys:${client.id}`), this.#c('names'),
      client.id, JSON.stringify(client), keyHash, nameMember(lower, client.id)))
    if (created !== 1) throw new StoreConflictError(`a client named '${client.name}' already exists`)
  }

  async getClient (id: string): Promise<Client | undefined> {
    const [json, lastUsed] = await run(async () => await Promise.all([
      this.redis.get(this.#c(`client:${id}`)),
      this.redis.hget(this.#c('lastused'), id)
    ]))
    return json === null ? undefined : withLastUsed(JSON.parse(json) as Client, lastUsed)
  }

  async listClients (options: ListClientsOptions = {}): Promise<Client[]> {
    const limit = options.limit ?? DEFAULT_LIST_LIMIT
    const offset = Math.max(0, options.offset ?? 0)
    // ZRANGE 0 -1 would be the whole set, not nothing.
    if (limit <= 0) return []
    const members = await run(async () => options.search === undefined || options.search === ''
      ? await this.redis.zrange(this.#c('names'), offset, offset + limit - 1)
      : (await this.#searchNames(options.search.toLowerCase(), offset + limit)).slice(offset))
    if (members.length === 0) return []
    const ids = members.map((m) => m.slice(m.indexOf('\u0000') + 1))
    const [jsons, lastUsed] = await run(async () => await Promise.all([
      this.redis.mget(ids.map((id) => this.#c(`client:${id}`))),
      this.redis.hmget(this.#c('lastused'), ...ids)
    ]))
    const clients: Client[] = []
    jsons.forEach((json, i) => {
      if (json !== null) clients.push(withLastUsed(JSON.parse(json) as Client, lastUsed[i] ?? null))
    })
    return clients
  }

  // One sorted set holds every name, in name order. It is searched inside
  // Redis a slice at a time: a plain substring match costs about half of a
  // ZSCAN glob (bench/clients.ts), and no single call blocks Redis for long.
  async #searchNames (fragment: string, limit: number): Promise<string[]> {
    const found: string[] = []
    for (let start = 0; ; start += SEARCH_SLICE) {
      const [size, ...matches] = await this.redis.gerbangSearch(this.#c('names'), start, start + SEARCH_SLICE - 1, fragment, limit - found.length)
      found.push(...matches)
      // Slices come in name order, so the first `limit` matches are the answer.
      if (found.length >= limit || size < SEARCH_SLICE) break
    }
    return found.slice(0, limit)
  }

  async countClients (): Promise<number> {
    return await run(async () => await this.redis.zcard(this.#c('names')))
  }

  async revokeClient (id: string, at: string): Promise<Client | undefined> {
    const [json, lastUsed] = await run(async () => await Promise.all([
      this.redis.gerbangRevoke(this.#c(`client:${id}`), at),
      this.redis.hget(this.#c('lastused'), id)
    ]))
    return json === null ? undefined : withLastUsed(JSON.parse(json) as Client, lastUsed)
  }

  async rotateKey (id: string, newKeyHash: string, graceMs: number): Promise<boolean> {
    const done = await run(async () => await this.redis.gerbangRotate(
      this.#c(`client:${id}`), this.#c(`keys:${id}`), this.#c(`key:${newKeyHash}`),
      id, newKeyHash, String(Math.max(0, Math.round(graceMs))), this.#c('key:')))
    return done === 1
  }

  async resolveKey (keyHash: string): Promise<ResolvedCredential | undefined> {
    return resolved(await run(async () => await this.redis.gerbangResolve(this.#c(`key:${keyHash}`), this.#c('client:'))))
  }

  async touchClients (lastUsed: ReadonlyMap<string, string>): Promise<void> {
    if (lastUsed.size === 0) return
    await run(async () => await this.redis.hset(this.#c('lastused'), Object.fromEntries(lastUsed)))
  }

  async updateClient (id: string, changes: ClientChanges): Promise<Client | undefined> {
    return await this.#replaceClient(id, (client) => applyClientChanges(client, changes), 'edited')
  }

  /**
   * Compare and set of one client's JSON: `change` is applied to what was
   * read, and a write landing in between (a revoke) makes it read again.
   */
  async #replaceClient (id: string, change: (client: Client) => Client, what: string): Promise<Client | undefined> {
    const key = this.#c(`client:${id}`)
    for (let attempt = 0; attempt < 10; attempt++) {
      const [before, lastUsed] = await run(async () => await Promise.all([
        this.redis.get(key),
        this.redis.hget(this.#c('lastused'), id)
      ]))
      if (before === null) return undefined
      const client = change(JSON.parse(before) as Client)
      if (await run(async () => await this.redis.gerbangReplaceClient(key, before, JSON.stringify(client))) === 1) {
        return withLastUsed(client, lastUsed)
      }
    }
    throw new StoreUnavailableError(`the client ${id} kept changing while it was being ${what}`)
  }

  async deleteClient (id: string): Promise<boolean> {
    const json = await run(async () => await this.redis.get(this.#c(`client:${id}`)))
    if (json === null) return false
    const lower = (JSON.parse(json) as Client).name.toLowerCase()
    const deleted = await run(async () => await this.redis.gerbangDeleteClient(
      this.#c(`client:${id}`), this.#c(`name:${lower}`), this.#c(`keys:${id}`), this.#c('names'), this.#c('legacy'), this.#c('lastused'),
      this.#c('key:'), nameMember(lower, id), id))
    return deleted === 1
  }

  async importClient (
    client: Client, keyHash: string, keyLength: number, dryRun: boolean
  ): Promise<LegacyImportOutcome> {
    const lower = client.name.toLowerCase()
    const [outcome, clientId] = await run(async () => await this.redis.gerbangImport(
      this.#c(`name:${lower}`), this.#c(`client:${client.id}`), this.#c(`key:${keyHash}`),
      this.#c(`keys:${client.id}`), this.#c('names'), this.#c('legacy'), this.#c('legacylen'),
      client.id, JSON.stringify(client), keyHash, nameMember(lower, client.id), keyLength, dryRun ? '1' : '0'))
    if (outcome === 'key-taken' || outcome === 'name-taken') return { outcome, clientId: clientId ?? '' }
    return { outcome: 'created' }
  }

  async legacySummary (): Promise<LegacySummary> {
    const [clients, lengths] = await run(async () => await Promise.all([
      this.redis.scard(this.#c('legacy')),
      this.redis.smembers(this.#c('legacylen'))
    ]))
    return { clients, keyLengths: lengths.map(Number).sort((a, b) => a - b) }
  }

  async setLegacyMark (id: string, mark: LegacyMark): Promise<Client | undefined> {
    return await this.#replaceClient(id, (client) => ({ ...client, legacy: mark }), 'given its legacy mark')
  }

  async saveToken (tokenHash: string, clientId: string, keyHash: string, ttlMs: number): Promise<void> {
    await run(async () => await this.redis.set(this.#c(`tok:${tokenHash}`), `${clientId} ${keyHash}`, 'PX', ms(ttlMs)))
  }

  async resolveToken (tokenHash: string): Promise<ResolvedCredential | undefined> {
    const found = await run(async () => await this.redis.gerbangResolveToken(this.#c(`tok:${tokenHash}`), this.#c('client:'), this.#c('key:')))
    return resolved(found)
  }
}

/** A client and the remaining life of the credential it was found by, as the resolve scripts answer. */
function resolved (found: ScriptResult): ResolvedCredential | undefined {
  if (found === null) return undefined
  const [json, pttl] = found
  return { client: JSON.parse(json) as Client, expiresAt: pttl > 0 ? Date.now() + pttl : undefined }
}

function withLastUsed (client: Client, lastUsed: string | null): Client {
  if (lastUsed !== null) client.lastUsedAt = lastUsed
  return client
}
