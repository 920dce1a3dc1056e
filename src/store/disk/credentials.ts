import {
  applyClientChanges,
  type Client, type ClientChanges, type CredentialStore, type LegacyImportOutcome, type LegacyMark, type LegacySummary,
  type ListClientsOptions, type ResolvedCredential
} from '../credentials.js'
import { StoreConflictError } from '../types.js'
import { DiskPart, type DiskDatabase } from './database.js'

const DEFAULT_LIST_LIMIT = 100

interface ClientRow { json: string, last_used: string | null }
interface ResolveRow extends ClientRow { expires_at: number | null }
interface TokenRow extends ClientRow { token_expires: number, key_expires: number | null }

/** A client as stored: its last use lives in a column of its own, written in batches. */
function parseClient (row: ClientRow): Client {
  const client = JSON.parse(row.json) as Client
  if (row.last_used !== null) client.lastUsedAt = row.last_used
  return client
}

function clientJson (client: Client): string {
  const { lastUsedAt: _lastUsed, ...rest } = client
  return JSON.stringify(rest)
}

const SQL = {
  insertClient: 'INSERT INTO clients (id, name_lower, json, last_used) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
  getClient: 'SELECT json, last_used FROM clients WHERE id = ?',
  clientIdByName: 'SELECT id FROM clients WHERE name_lower = ?',
  setClientJson: 'UPDATE clients SET json = ? WHERE id = ?',
  // name_lower is UNIQUE: its index gives the order, and a search stops once it has enough.
  listClients: 'SELECT json, last_used FROM clients ORDER BY name_lower LIMIT ? OFFSET ?',
  searchClients: 'SELECT json, last_used FROM clients WHERE instr(name_lower, ?) > 0 ORDER BY name_lower LIMIT ? OFFSET ?',
  countClients: 'SELECT count(*) AS n FROM clients',
  touchClient: 'UPDATE clients SET last_used = ?1 WHERE id = ?2 AND (last_used IS NULL OR last_used < ?3)',
  putKey: 'INSERT OR REPLACE INTO keys (hash, client_id, expires_at) VALUES (?, ?, ?)',
  dropClientKeys: 'DELETE FROM keys WHERE client_id = ?1 AND (?2 <= 0 OR (expires_at IS NOT NULL AND expires_at <= ?3))',
  limitClientKeys: 'UPDATE keys SET expires_at = ?1 WHERE client_id = ?2 AND (expires_at IS NULL OR expires_at > ?3)',
  resolveKey: 'SELECT c.json, c.last_used, k.expires_at FROM keys k JOIN clients c ON c.id = k.client_id WHERE k.hash = ?',
  putToken: 'INSERT OR REPLACE INTO tokens (hash, client_id, key_hash, expires_at) VALUES (?, ?, ?, ?)',
  // A token resolves only while the key it was minted with is still its client's.
  resolveToken: `SELECT c.json, c.last_used, t.expires_at AS token_expires, k.expires_at AS key_expires
    FROM tokens t JOIN keys k ON k.hash = t.key_hash AND k.client_id = t.client_id JOIN clients c ON c.id = t.client_id
    WHERE t.hash = ?`,
  addLegacyClient: 'INSERT OR IGNORE INTO legacy_clients (id) VALUES (?)',
  addLegacyLength: 'INSERT OR IGNORE INTO legacy_key_lengths (length) VALUES (?)',
  countLegacy: 'SELECT count(*) AS n FROM legacy_clients',
  legacyLengths: 'SELECT length FROM legacy_key_lengths ORDER BY length',
  deleteKeys: 'DELETE FROM keys WHERE client_id = ?',
  deleteTokens: 'DELETE FROM tokens WHERE client_id = ?',
  deleteLegacy: 'DELETE FROM legacy_clients WHERE id = ?',
  deleteClient: 'DELETE FROM clients WHERE id = ?'
}

/**
 * DiskStore's CredentialStore: the tables clients, keys, tokens, legacy_clients and legacy_key_lengths of gerbang.db.
 */
export class DiskCredentials extends DiskPart<typeof SQL> implements CredentialStore {
  constructor (database: DiskDatabase) {
    super(database, SQL)
  }

  async createClient (client: Client, keyHash: string): Promise<void> {
    const created = await this.database.run(() => this.database.transaction(() => this.#insertClient(client, keyHash)))
    if (!created) throw new StoreConflictError(`a client named '${client.name}' already exists`)
  }

  #insertClient (client: Client, keyHash: string): boolean {
    const inserted = this.sql.insertClient.run(client.id, client.name.toLowerCase(), clientJson(client),
      client.lastUsedAt ?? null)
    if (inserted.changes === 0) return false
    this.sql.putKey.run(keyHash, client.id, null)
    return true
  }

  async getClient (id: string): Promise<Client | undefined> {
    const row = await this.database.run(() => this.sql.getClient.get(id) as ClientRow | undefined)
    return row === undefined ? undefined : parseClient(row)
  }

  async listClients (options: ListClientsOptions = {}): Promise<Client[]> {
    const limit = options.limit ?? DEFAULT_LIST_LIMIT
    const offset = Math.max(0, options.offset ?? 0)
    if (limit <= 0) return []
    const rows = await this.database.run(() => (options.search === undefined || options.search === ''
      ? this.sql.listClients.all(limit, offset)
      : this.sql.searchClients.all(options.search.toLowerCase(), limit, offset)) as unknown as ClientRow[])
    return rows.map(parseClient)
  }

  async countClients (): Promise<number> {
    return await this.database.run(() => (this.sql.countClients.get() as { n: number }).n)
  }

  async revokeClient (id: string, at: string): Promise<Client | undefined> {
    return await this.database.run(() => this.database.transaction(() => {
      const row = this.sql.getClient.get(id) as ClientRow | undefined
      if (row === undefined) return undefined
      const client = parseClient(row)
      if (client.revokedAt !== undefined) return client
      client.revokedAt = at
      this.sql.setClientJson.run(clientJson(client), id)
      return client
    }))
  }

  async rotateKey (id: string, newKeyHash: string, graceMs: number): Promise<boolean> {
    return await this.database.run(() => this.database.transaction(() => {
      const row = this.sql.getClient.get(id) as ClientRow | undefined
      if (row === undefined || parseClient(row).revokedAt !== undefined) return false
      const now = Date.now()
      const grace = Math.max(0, Math.round(graceMs))
      // Keys already past their grace go; the others get this grace unless theirs ends sooner.
      this.sql.dropClientKeys.run(id, grace, now)
      if (grace > 0) this.sql.limitClientKeys.run(now + grace, id, now + grace)
      this.sql.putKey.run(newKeyHash, id, null)
      return true
    }))
  }

  async resolveKey (keyHash: string): Promise<ResolvedCredential | undefined> {
    const row = await this.database.run(() => this.sql.resolveKey.get(keyHash) as ResolveRow | undefined)
    if (row === undefined || (row.expires_at !== null && row.expires_at <= Date.now())) return undefined
    return { client: parseClient(row), expiresAt: row.expires_at ?? undefined }
  }

  async touchClients (lastUsed: ReadonlyMap<string, string>): Promise<void> {
    if (lastUsed.size === 0) return
    await this.database.run(() => this.database.transaction(() => {
      for (const [id, at] of lastUsed) this.sql.touchClient.run(at, id, at)
    }))
  }

  async importClient (
    client: Client, keyHash: string, keyLength: number, dryRun: boolean
  ): Promise<LegacyImportOutcome> {
    return await this.database.run(() => this.database.transaction(() => {
      const owner = this.sql.resolveKey.get(keyHash) as ResolveRow | undefined
      if (owner !== undefined && (owner.expires_at === null || owner.expires_at > Date.now())) {
        return { outcome: 'key-taken', clientId: parseClient(owner).id }
      }
      const named = this.sql.clientIdByName.get(client.name.toLowerCase()) as { id: string } | undefined
      if (named !== undefined) return { outcome: 'name-taken', clientId: named.id }
      if (dryRun) return { outcome: 'created' }
      this.#insertClient(client, keyHash)
      this.sql.addLegacyClient.run(client.id)
      this.sql.addLegacyLength.run(keyLength)
      return { outcome: 'created' }
    }))
  }

  async legacySummary (): Promise<LegacySummary> {
    return await this.database.run(() => ({
      clients: (this.sql.countLegacy.get() as { n: number }).n,
      keyLengths: (this.sql.legacyLengths.all() as Array<{ length: number }>).map((r) => r.length)
    }))
  }

  async setLegacyMark (id: string, mark: LegacyMark): Promise<Client | undefined> {
    return await this.database.run(() => this.database.transaction(() => {
      const row = this.sql.getClient.get(id) as ClientRow | undefined
      if (row === undefined) return undefined
      const client = parseClient(row)
      client.legacy = mark
      this.sql.setClientJson.run(clientJson(client), id)
      return client
    }))
  }

  async updateClient (id: string, changes: ClientChanges): Promise<Client | undefined> {
    return await this.database.run(() => this.database.transaction(() => {
      const row = this.sql.getClient.get(id) as ClientRow | undefined
      if (row === undefined) return undefined
      const client = applyClientChanges(parseClient(row), changes)
      this.sql.setClientJson.run(clientJson(client), id)
      return client
    }))
  }

  async deleteClient (id: string): Promise<boolean> {
    return await this.database.run(() => this.database.transaction(() => {
      const row = this.sql.getClient.get(id) as ClientRow | undefined
      if (row === undefined || parseClient(row).revokedAt === undefined) return false
      // Tokens resolve only through their key (resolveToken joins keys), so they die with it.
      this.sql.deleteKeys.run(id)
      this.sql.deleteTokens.run(id)
      this.sql.deleteLegacy.run(id)
      this.sql.deleteClient.run(id)
      return true
    }))
  }

  async saveToken (tokenHash: string, clientId: string, keyHash: string, ttlMs: number): Promise<void> {
    await this.database.run(() => { this.sql.putToken.run(tokenHash, clientId, keyHash, Date.now() + ttlMs) })
  }

  async resolveToken (tokenHash: string): Promise<ResolvedCredential | undefined> {
    const row = await this.database.run(() => this.sql.resolveToken.get(tokenHash) as TokenRow | undefined)
    const now = Date.now()
    if (row === undefined || row.token_expires <= now || (row.key_expires !== null && row.key_expires <= now)) {
      return undefined
    }
    return { client: parseClient(row), expiresAt: Math.min(row.token_expires, row.key_expires ?? Infinity) }
  }
}
