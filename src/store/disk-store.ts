import { closeSync, existsSync, mkdirSync, openSync, rmSync } from 'node:fs'
import { createHmac, randomBytes } from 'node:crypto'
import { join, resolve } from 'node:path'
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  AUDIT_KEEP, StoreConflictError, StoreUnavailableError,
  type Client, type ListClientsOptions, type ResolvedCredential, type Store, type StoreChange, type User,
  type Lease, type WindowCounter, type Role, type Session, type AuditEntry, type CounterBucket,
  type LegacyImportOutcome, type LegacyMark, type LegacySummary, type ClientChanges, applyClientChanges
} from './types.js'
import { DiskKeyRequests, KEY_REQUESTS_SCHEMA } from './key-requests-disk.js'

// The embedded store on disk (CONTRACT.md section 12): SQLite through
// node:sqlite, in GERBANG_DATA_DIR, shared by every process on the machine
// (the gateway, its --workers, the gerbang commands). Two files:
//
//   gerbang.db   what must never be lost: clients, key hashes, tokens, users,
//                roles, sessions, audit, traffic counters. WAL, synchronous=FULL:
//                a write is on disk before its promise resolves.
//   runtime.db   what lives only while gateways run: rate-limit windows, the
//                live processes, the change feed. WAL, synchronous=NORMAL
//                (no fsync per commit; survives kill -9, may lose the last
//                commits to a power cut, never corrupts); rebuilt when unreadable.
//
// node:sqlite is synchronous. Every statement here is a primary-key or index
// lookup of microseconds; waiting for another process's write lock never
// blocks the event loop: the busy timeout is 0 and a locked database is
// retried on a timer (#run) for up to BUSY_DEADLINE_MS.
//
// Changes reach other processes through the change feed: publishChange adds
// a row, and every subscribed process polls for rows past the last it saw
// (POLL_MS, one indexed read that usually finds nothing).

export const DATA_FILE = 'gerbang.db'
export const RUNTIME_FILE = 'runtime.db'
/** The schema this code writes; a file with a newer one is refused. */
export const SCHEMA_VERSION = 1
const POLL_MS = 200
const BUSY_DEADLINE_MS = 5000
const DEFAULT_LIST_LIMIT = 100
/** Expired tokens, sessions, keys and counter buckets are deleted at most this often. */
const SWEEP_EVERY_MS = 60_000
/** Change feed rows older than this are deleted; a process that polled less recently drops its cache. */
const CHANGES_KEEP_MS = 10 * 60_000
// SQLite result codes (primary code: the low byte).
const SQLITE_BUSY = 5
const SQLITE_LOCKED = 6
// IOERR, CORRUPT, FULL, CANTOPEN, NOTADB: the disk or the file is in trouble.
const UNAVAILABLE_CODES = new Set([10, 11, 13, 14, 26])

const DATA_SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS clients (
  id TEXT PRIMARY KEY,
  name_lower TEXT NOT NULL UNIQUE,
  json TEXT NOT NULL,
  last_used TEXT
);
CREATE TABLE IF NOT EXISTS keys (hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, expires_at INTEGER) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS keys_by_client ON keys (client_id);
CREATE TABLE IF NOT EXISTS tokens (hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, key_hash TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tokens_by_expiry ON tokens (expires_at);
CREATE TABLE IF NOT EXISTS legacy_clients (id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS legacy_key_lengths (length INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS users (email_lower TEXT PRIMARY KEY, json TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS roles (name TEXT PRIMARY KEY, json TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sessions (hash TEXT PRIMARY KEY, json TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions (expires_at);
CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS buckets (bucket TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS buckets_by_expiry ON buckets (expires_at);
CREATE TABLE IF NOT EXISTS counters (bucket TEXT NOT NULL, field TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (bucket, field)) WITHOUT ROWID;
`

const RUNTIME_SCHEMA = `
CREATE TABLE IF NOT EXISTS windows (name TEXT PRIMARY KEY, count INTEGER NOT NULL, reset_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS windows_by_reset ON windows (reset_at);
CREATE TABLE IF NOT EXISTS processes (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, change TEXT NOT NULL, at INTEGER NOT NULL);
`

/** The tables of gerbang.db. */
export type DataTable = 'clients' | 'keys' | 'tokens' | 'users' | 'roles' | 'sessions' | 'audit' | 'legacy_clients' |
  'legacy_key_lengths' | 'buckets' | 'counters'

/** There is no embedded store in the directory (and the caller did not ask for one to be made). */
export class StoreMissingError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'StoreMissingError'
  }
}

export interface DiskStoreOptions {
  /** GERBANG_DATA_DIR. */
  dir: string
  /** Make the directory and the database when they do not exist yet; default true. */
  create?: boolean
  /**
   * 'full' (the default): every write is on disk before its promise resolves.
   * 'off': no fsync at all, for seeding benches and tests with many clients only.
   */
  synchronous?: 'full' | 'off'
  /** How often subscribers look for changes made by other processes; default 200 ms. */
  pollMs?: number
}

interface ClientRow { json: string, last_used: string | null }
interface ResolveRow extends ClientRow { expires_at: number | null }
interface TokenRow extends ClientRow { token_expires: number, key_expires: number | null }

/** The paths of the embedded store in `dir`. */
export function storeFiles (dir: string): { dir: string, data: string, runtime: string } {
  const abs = resolve(dir)
  return { dir: abs, data: join(abs, DATA_FILE), runtime: join(abs, RUNTIME_FILE) }
}

/** Whether `dir` holds an embedded store. */
export function storeExists (dir: string): boolean {
  return existsSync(storeFiles(dir).data)
}

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

function errcode (err: unknown): number | undefined {
  const code = (err as { errcode?: unknown }).errcode
  return typeof code === 'number' ? code : undefined
}

function isBusy (err: unknown): boolean {
  const code = errcode(err)
  return code !== undefined && ((code & 0xff) === SQLITE_BUSY || (code & 0xff) === SQLITE_LOCKED)
}

/** Creates an empty file readable by its owner only, so the database and its -wal/-shm (which copy its mode) are private. */
function createPrivate (file: string): void {
  if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600))
}

/**
 * Opens a database with a busy timeout for the one-off work of opening it,
 * then none (see #run). Processes starting together (`--workers`, a command
 * beside a starting gateway) can still meet SQLITE_BUSY without the busy
 * handler being asked (switching a new file to WAL, a lock upgrade SQLite
 * calls a deadlock): the whole opening is tried again until BUSY_DEADLINE_MS.
 * Start-up only, so waiting here blocks nothing that serves requests.
 */
function openDatabase (file: string, synchronous: 'FULL' | 'NORMAL' | 'OFF', schema: string): DatabaseSync {
  const deadline = Date.now() + BUSY_DEADLINE_MS
  for (;;) {
    try {
      return openDatabaseOnce(file, synchronous, schema)
    } catch (err) {
      if (!isBusy(err) || Date.now() >= deadline) throw err
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20 + Math.random() * 30)
    }
  }
}

function openDatabaseOnce (file: string, synchronous: 'FULL' | 'NORMAL' | 'OFF', schema: string): DatabaseSync {
  const db = new DatabaseSync(file, { timeout: BUSY_DEADLINE_MS })
  try {
    db.exec('PRAGMA journal_mode = WAL')
    db.exec(`PRAGMA synchronous = ${synchronous}`)
    db.exec('BEGIN IMMEDIATE')
    try {
      db.exec(schema)
      db.exec('COMMIT')
    } catch (err) {
      db.exec('ROLLBACK')
      throw err
    }
    db.exec('PRAGMA busy_timeout = 0')
    return db
  } catch (err) {
    db.close()
    throw err
  }
}

/** The pepper's fingerprint, kept instead of the pepper itself when GERBANG_KEY_PEPPER gave it. */
function fingerprint (pepper: string): string {
  return createHmac('sha256', pepper).update('gerbang key pepper check').digest('hex')
}

/**
 * The embedded store on disk. Construct it with the data directory; it is
 * ready at once (opening is synchronous and takes milliseconds).
 */
export class DiskStore implements Store {
  readonly kind = 'disk'
  readonly files: { dir: string, data: string, runtime: string }
  readonly #db: DatabaseSync
  readonly #rt: DatabaseSync
  readonly #pollMs: number
  readonly #s: ReturnType<typeof prepareData>
  readonly #r: ReturnType<typeof prepareRuntime>
  #closed = false
  #available = true
  #nextSweep = Date.now() + SWEEP_EVERY_MS
  #poll: NodeJS.Timeout | undefined
  readonly #listeners: Array<{ onChange: (change: StoreChange) => void, onResync: () => void }> = []
  /** The change feed position this process has delivered up to. */
  #seen = 0
  #lastPoll = Date.now()
  /** Changes this process published and already delivered to its own listeners. */
  readonly #own = new Set<number>()
  /** The process ids this instance announced: they are gone once it closes. */
  readonly #announced = new Set<string>()
  // Key requests: src/store/key-requests-disk.ts.
  readonly #keyRequests: DiskKeyRequests
  readonly createKeyRequest: Store['createKeyRequest'] = async (request, maxPending) => await this.#keyRequests.create(request, maxPending)
  readonly getKeyRequest: Store['getKeyRequest'] = async (id) => await this.#keyRequests.get(id)
  readonly listKeyRequests: Store['listKeyRequests'] = async (options) => await this.#keyRequests.list(options)
  readonly countKeyRequests: Store['countKeyRequests'] = async () => await this.#keyRequests.count()
  readonly updateKeyRequest: Store['updateKeyRequest'] = async (id, from, changes) => await this.#keyRequests.update(id, from, changes)
  readonly findKeyRequestByLink: Store['findKeyRequestByLink'] = async (linkHash) => await this.#keyRequests.findByLink(linkHash)

  constructor (options: DiskStoreOptions) {
    this.files = storeFiles(options.dir)
    this.#pollMs = options.pollMs ?? POLL_MS
    const exists = existsSync(this.files.data)
    if (!exists && options.create === false) {
      throw new StoreMissingError(`there is no embedded store in ${this.files.dir} (no ${DATA_FILE})`)
    }
    mkdirSync(this.files.dir, { recursive: true, mode: 0o700 })
    createPrivate(this.files.data)
    this.#db = openDatabase(this.files.data, options.synchronous === 'off' ? 'OFF' : 'FULL', DATA_SCHEMA + KEY_REQUESTS_SCHEMA)
    try {
      this.#checkSchema()
      this.#rt = this.#openRuntime(options.synchronous === 'off' ? 'OFF' : 'NORMAL')
    } catch (err) {
      this.#db.close()
      throw err
    }
    this.#s = prepareData(this.#db)
    this.#r = prepareRuntime(this.#rt)
    this.#keyRequests = new DiskKeyRequests(this.#db, {
      run: async (work) => await this.#run(work),
      transaction: (work) => this.#transaction(work)
    })
  }

  #checkSchema (): void {
    const row = this.#db.prepare('SELECT value FROM meta WHERE name = \'schemaVersion\'').get() as { value: string } | undefined
    if (row === undefined) {
      // Another process may be opening the same new store: wait for its lock here, as when opening.
      this.#db.exec('PRAGMA busy_timeout = ' + String(BUSY_DEADLINE_MS))
      try {
        this.#db.prepare('INSERT OR IGNORE INTO meta (name, value) VALUES (\'schemaVersion\', ?), (\'createdAt\', ?)')
          .run(String(SCHEMA_VERSION), new Date().toISOString())
      } finally {
        this.#db.exec('PRAGMA busy_timeout = 0')
      }
    } else if (Number(row.value) > SCHEMA_VERSION) {
      throw new Error(`${this.files.data} was written by a newer Gerbang (schema ${row.value}, this one knows ${SCHEMA_VERSION}): upgrade Gerbang`)
    }
  }

  // The runtime file holds nothing that must survive: when it cannot be
  // opened (a power cut during its first write, a disk error), it starts over.
  #openRuntime (synchronous: 'NORMAL' | 'OFF'): DatabaseSync {
    createPrivate(this.files.runtime)
    try {
      return openDatabase(this.files.runtime, synchronous, RUNTIME_SCHEMA)
    } catch (err) {
      const code = errcode(err)
      if (code === undefined || ![11, 26].includes(code & 0xff)) throw err
      for (const suffix of ['', '-wal', '-shm']) rmSync(this.files.runtime + suffix, { force: true })
      createPrivate(this.files.runtime)
      return openDatabase(this.files.runtime, synchronous, RUNTIME_SCHEMA)
    }
  }

  /**
   * The key pepper: GERBANG_KEY_PEPPER when given, else one this store made
   * at its creation and keeps. A store made with GERBANG_KEY_PEPPER keeps
   * only its fingerprint, and refuses to work with another one (every key
   * would stop matching).
   */
  keyPepper (fromEnv: string | undefined): string {
    const read = (name: string): string | undefined =>
      (this.#db.prepare('SELECT value FROM meta WHERE name = ?').get(name) as { value: string } | undefined)?.value
    this.#db.exec('PRAGMA busy_timeout = ' + String(BUSY_DEADLINE_MS))
    this.#db.exec('BEGIN IMMEDIATE')
    try {
      const stored = read('keyPepper')
      const check = read('keyPepperCheck')
      let pepper: string
      if (fromEnv !== undefined) {
        if ((stored !== undefined && stored !== fromEnv) || (check !== undefined && check !== fingerprint(fromEnv))) {
          throw new Error(`GERBANG_KEY_PEPPER is not the pepper the keys in ${this.files.data} were made with: ` +
            'with it, no key would match. Unset it' + (stored !== undefined ? ' (this store keeps its own pepper)' : '') +
            ', or set the one used before')
        }
        if (stored === undefined && check === undefined) {
          this.#db.prepare('INSERT INTO meta (name, value) VALUES (\'keyPepperCheck\', ?)').run(fingerprint(fromEnv))
        }
        pepper = fromEnv
      } else if (stored !== undefined) {
        pepper = stored
      } else if (check !== undefined) {
        throw new Error(`the keys in ${this.files.data} were made with GERBANG_KEY_PEPPER, which is not set: set it to the same value`)
      } else {
        pepper = randomBytes(32).toString('base64url')
        this.#db.prepare('INSERT INTO meta (name, value) VALUES (\'keyPepper\', ?)').run(pepper)
      }
      this.#db.exec('COMMIT')
      return pepper
    } catch (err) {
      this.#db.exec('ROLLBACK')
      throw err
    } finally {
      this.#db.exec('PRAGMA busy_timeout = 0')
    }
  }

  /** Whether the store keeps its own pepper (false: GERBANG_KEY_PEPPER gave it). */
  ownsPepper (): boolean {
    return this.#db.prepare('SELECT 1 FROM meta WHERE name = \'keyPepper\'').get() !== undefined
  }

  async createClient (client: Client, keyHash: string): Promise<void> {
    const created = await this.#run(() => this.#transaction(() => this.#insertClient(client, keyHash)))
    if (!created) throw new StoreConflictError(`a client named '${client.name}' already exists`)
  }

  #insertClient (client: Client, keyHash: string): boolean {
    const inserted = this.#s.insertClient.run(client.id, client.name.toLowerCase(), clientJson(client), client.lastUsedAt ?? null)
    if (inserted.changes === 0) return false
    this.#s.putKey.run(keyHash, client.id, null)
    return true
  }

  async getClient (id: string): Promise<Client | undefined> {
    const row = await this.#run(() => this.#s.getClient.get(id) as ClientRow | undefined)
    return row === undefined ? undefined : parseClient(row)
  }

  async listClients (options: ListClientsOptions = {}): Promise<Client[]> {
    const limit = options.limit ?? DEFAULT_LIST_LIMIT
    const offset = Math.max(0, options.offset ?? 0)
    if (limit <= 0) return []
    const rows = await this.#run(() => (options.search === undefined || options.search === ''
      ? this.#s.listClients.all(limit, offset)
      : this.#s.searchClients.all(options.search.toLowerCase(), limit, offset)) as unknown as ClientRow[])
    return rows.map(parseClient)
  }

  async countClients (): Promise<number> {
    return await this.#run(() => (this.#s.countClients.get() as { n: number }).n)
  }

  async revokeClient (id: string, at: string): Promise<Client | undefined> {
    return await this.#run(() => this.#transaction(() => {
      const row = this.#s.getClient.get(id) as ClientRow | undefined
      if (row === undefined) return undefined
      const client = parseClient(row)
      if (client.revokedAt !== undefined) return client
      client.revokedAt = at
      this.#s.setClientJson.run(clientJson(client), id)
      return client
    }))
  }

  async rotateKey (id: string, newKeyHash: string, graceMs: number): Promise<boolean> {
    return await this.#run(() => this.#transaction(() => {
      const row = this.#s.getClient.get(id) as ClientRow | undefined
      if (row === undefined || parseClient(row).revokedAt !== undefined) return false
      const now = Date.now()
      const grace = Math.max(0, Math.round(graceMs))
      // Keys already past their grace go; the others get this grace unless theirs ends sooner.
      this.#s.dropClientKeys.run(id, grace, now)
      if (grace > 0) this.#s.limitClientKeys.run(now + grace, id, now + grace)
      this.#s.putKey.run(newKeyHash, id, null)
      return true
    }))
  }

  async resolveKey (keyHash: string): Promise<ResolvedCredential | undefined> {
    const row = await this.#run(() => this.#s.resolveKey.get(keyHash) as ResolveRow | undefined)
    if (row === undefined || (row.expires_at !== null && row.expires_at <= Date.now())) return undefined
    return { client: parseClient(row), expiresAt: row.expires_at ?? undefined }
  }

  async touchClients (lastUsed: ReadonlyMap<string, string>): Promise<void> {
    if (lastUsed.size === 0) return
    await this.#run(() => this.#transaction(() => {
      for (const [id, at] of lastUsed) this.#s.touchClient.run(at, id, at)
    }))
  }

  async importClient (client: Client, keyHash: string, keyLength: number, dryRun: boolean): Promise<LegacyImportOutcome> {
    return await this.#run(() => this.#transaction(() => {
      const owner = this.#s.resolveKey.get(keyHash) as ResolveRow | undefined
      if (owner !== undefined && (owner.expires_at === null || owner.expires_at > Date.now())) {
        return { outcome: 'key-taken', clientId: parseClient(owner).id }
      }
      const named = this.#s.clientIdByName.get(client.name.toLowerCase()) as { id: string } | undefined
      if (named !== undefined) return { outcome: 'name-taken', clientId: named.id }
      if (dryRun) return { outcome: 'created' }
      this.#insertClient(client, keyHash)
      this.#s.addLegacyClient.run(client.id)
      this.#s.addLegacyLength.run(keyLength)
      return { outcome: 'created' }
    }))
  }

  async legacySummary (): Promise<LegacySummary> {
    return await this.#run(() => ({
      clients: (this.#s.countLegacy.get() as { n: number }).n,
      keyLengths: (this.#s.legacyLengths.all() as Array<{ length: number }>).map((r) => r.length)
    }))
  }

  async setLegacyMark (id: string, mark: LegacyMark): Promise<Client | undefined> {
    return await this.#run(() => this.#transaction(() => {
      const row = this.#s.getClient.get(id) as ClientRow | undefined
      if (row === undefined) return undefined
      const client = parseClient(row)
      client.legacy = mark
      this.#s.setClientJson.run(clientJson(client), id)
      return client
    }))
  }

  async updateClient (id: string, changes: ClientChanges): Promise<Client | undefined> {
    return await this.#run(() => this.#transaction(() => {
      const row = this.#s.getClient.get(id) as ClientRow | undefined
      if (row === undefined) return undefined
      const client = applyClientChanges(parseClient(row), changes)
      this.#s.setClientJson.run(clientJson(client), id)
      return client
    }))
  }

  async deleteClient (id: string): Promise<boolean> {
    return await this.#run(() => this.#transaction(() => {
      const row = this.#s.getClient.get(id) as ClientRow | undefined
      if (row === undefined || parseClient(row).revokedAt === undefined) return false
      // Tokens resolve only through their key (resolveToken joins keys), so they die with it.
      this.#db.prepare('DELETE FROM keys WHERE client_id = ?').run(id)
      this.#db.prepare('DELETE FROM tokens WHERE client_id = ?').run(id)
      this.#db.prepare('DELETE FROM legacy_clients WHERE id = ?').run(id)
      this.#db.prepare('DELETE FROM clients WHERE id = ?').run(id)
      return true
    }))
  }

  async saveToken (tokenHash: string, clientId: string, keyHash: string, ttlMs: number): Promise<void> {
    await this.#run(() => { this.#s.putToken.run(tokenHash, clientId, keyHash, Date.now() + ttlMs) })
  }

  async resolveToken (tokenHash: string): Promise<ResolvedCredential | undefined> {
    const row = await this.#run(() => this.#s.resolveToken.get(tokenHash) as TokenRow | undefined)
    const now = Date.now()
    if (row === undefined || row.token_expires <= now || (row.key_expires !== null && row.key_expires <= now)) return undefined
    return { client: parseClient(row), expiresAt: Math.min(row.token_expires, row.key_expires ?? Infinity) }
  }

  async createUser (user: User): Promise<void> {
    const created = await this.#run(() => this.#s.insertUser.run(user.email.toLowerCase(), JSON.stringify(user)).changes)
    if (created === 0) throw new StoreConflictError(`a user with email '${user.email}' already exists`)
  }

  async getUser (email: string): Promise<User | undefined> {
    const row = await this.#run(() => this.#s.getUser.get(email.toLowerCase()) as { json: string } | undefined)
    return row === undefined ? undefined : JSON.parse(row.json) as User
  }

  async listUsers (): Promise<User[]> {
    const rows = await this.#run(() => this.#s.listUsers.all() as Array<{ json: string }>)
    return rows.map((row) => JSON.parse(row.json) as User)
  }

  async updateUser (user: User): Promise<boolean> {
    return await this.#run(() => this.#s.updateUser.run(JSON.stringify(user), user.email.toLowerCase()).changes) === 1
  }

  async deleteUser (email: string): Promise<boolean> {
    return await this.#run(() => this.#s.deleteUser.run(email.toLowerCase()).changes) === 1
  }

  async listRoles (): Promise<Role[]> {
    const rows = await this.#run(() => this.#s.listRoles.all() as Array<{ json: string }>)
    return rows.map((row) => JSON.parse(row.json) as Role)
  }

  async getRole (name: string): Promise<Role | undefined> {
    const row = await this.#run(() => this.#s.getRole.get(name) as { json: string } | undefined)
    return row === undefined ? undefined : JSON.parse(row.json) as Role
  }

  async saveRole (role: Role): Promise<void> {
    await this.#run(() => { this.#s.putRole.run(role.name, JSON.stringify(role)) })
  }

  async deleteRole (name: string): Promise<boolean> {
    return await this.#run(() => this.#s.deleteRole.run(name).changes) === 1
  }

  async saveSession (idHash: string, session: Session, ttlMs: number): Promise<void> {
    await this.#run(() => { this.#s.putSession.run(idHash, JSON.stringify(session), Date.now() + ttlMs) })
  }

  async getSession (idHash: string): Promise<Session | undefined> {
    const row = await this.#run(() => this.#s.getSession.get(idHash, Date.now()) as { json: string } | undefined)
    return row === undefined ? undefined : JSON.parse(row.json) as Session
  }

  async touchSession (idHash: string, ttlMs: number): Promise<void> {
    await this.#run(() => {
      const now = Date.now()
      this.#s.touchSession.run(now + ttlMs, idHash, now)
    })
  }

  async deleteSession (idHash: string): Promise<void> {
    await this.#run(() => { this.#s.deleteSession.run(idHash) })
  }

  async appendAudit (entry: AuditEntry): Promise<void> {
    await this.#run(() => this.#transaction(() => {
      const { lastInsertRowid } = this.#s.insertAudit.run(JSON.stringify(entry))
      const cut = Number(lastInsertRowid) - AUDIT_KEEP
      if (cut > 0) this.#s.trimAudit.run(cut)
    }))
  }

  async listAudit (offset: number, limit: number): Promise<AuditEntry[]> {
    if (limit <= 0) return []
    const rows = await this.#run(() => this.#s.listAudit.all(limit, Math.max(0, offset)) as Array<{ json: string }>)
    return rows.map((row) => JSON.parse(row.json) as AuditEntry)
  }

  async addCounts (buckets: readonly CounterBucket[]): Promise<void> {
    const written = buckets.filter(({ counts }) => [...counts.values()].some((count) => count !== 0))
    if (written.length === 0) return
    await this.#run(() => this.#transaction(() => {
      const now = Date.now()
      for (const { bucket, ttlMs, counts } of written) {
        const expiry = this.#s.bucketExpiry.get(bucket) as { expires_at: number } | undefined
        // A write after expiry starts from zero.
        if (expiry !== undefined && expiry.expires_at <= now) this.#s.clearBucket.run(bucket)
        for (const [field, count] of counts) if (count !== 0) this.#s.addCount.run(bucket, field, count)
        this.#s.putBucket.run(bucket, now + ttlMs)
      }
    }))
  }

  async readCounts (buckets: readonly string[]): Promise<Array<Map<string, number>>> {
    return await this.#run(() => {
      const now = Date.now()
      return buckets.map((bucket) => {
        const expiry = this.#s.bucketExpiry.get(bucket) as { expires_at: number } | undefined
        if (expiry === undefined || expiry.expires_at <= now) return new Map<string, number>()
        const rows = this.#s.readBucket.all(bucket) as Array<{ field: string, count: number }>
        return new Map(rows.map((r) => [r.field, r.count]))
      })
    })
  }

  async readCountFields (bucket: string, fields: readonly string[]): Promise<number[]> {
    if (fields.length === 0) return []
    return await this.#run(() => {
      const expiry = this.#s.bucketExpiry.get(bucket) as { expires_at: number } | undefined
      if (expiry === undefined || expiry.expires_at <= Date.now()) return fields.map(() => 0)
      return fields.map((field) => (this.#s.readField.get(bucket, field) as { count: number } | undefined)?.count ?? 0)
    })
  }

  // Windows live in runtime.db, where a commit costs no fsync: a lease is
  // one short transaction, taken once per granted batch of requests, never
  // per request (src/limits/rate-limiter.ts). Across processes it is as
  // exact as Redis: the write lock serialises the leases.
  async lease (group: string, counters: readonly WindowCounter[], liveProcesses: number, cap: number): Promise<Lease> {
    return await this.#run(() => this.#transaction(() => {
      const now = Date.now()
      const used: number[] = []
      const ttl: number[] = []
      let room = Infinity
      counters.forEach(({ key, limit, windowMs }, i) => {
        const row = this.#r.getWindow.get(`${group}:${key}`) as { count: number, reset_at: number } | undefined
        const live = row !== undefined && row.reset_at > now
        used[i] = live ? row.count : 0
        ttl[i] = live ? row.reset_at - now : windowMs
        room = Math.min(room, limit - (used[i] as number))
      })
      room = Math.max(0, room === Infinity ? 0 : room)
      const granted = Math.min(room, Math.max(1, Math.min(cap, Math.floor(room / (4 * Math.max(1, liveProcesses))))))
      if (granted > 0) {
        counters.forEach(({ key }, i) => {
          this.#r.putWindow.run(`${group}:${key}`, (used[i] as number) + granted, now + (ttl[i] as number))
        })
      }
      return {
        granted,
        remaining: counters.map((c, i) => c.limit - (used[i] as number) - granted),
        resetMs: ttl
      }
    }, this.#rt))
  }

  async release (group: string, keys: readonly string[], tokens: number): Promise<void> {
    if (keys.length === 0 || tokens <= 0) return
    await this.#run(() => this.#transaction(() => {
      const now = Date.now()
      for (const key of keys) this.#r.releaseWindow.run(tokens, `${group}:${key}`, now)
    }, this.#rt))
  }

  async heartbeat (processId: string, ttlMs: number): Promise<number> {
    this.#announced.add(processId)
    const alive = await this.#run(() => this.#transaction(() => {
      const now = Date.now()
      this.#r.putProcess.run(processId, now + ttlMs)
      this.#r.dropProcesses.run(now)
      return (this.#r.countProcesses.get() as { n: number }).n
    }, this.#rt))
    await this.#sweepIfDue()
    return alive
  }

  /** How many processes (gateways and workers) announced themselves alive and have not stopped since. */
  async liveProcesses (): Promise<number> {
    return await this.#run(() => (this.#r.countLiveProcesses.get(Date.now()) as { n: number }).n)
  }

  async publishChange (change: StoreChange): Promise<void> {
    const seq = await this.#run(() => Number(this.#r.insertChange.run(JSON.stringify(change), Date.now()).lastInsertRowid))
    // This process's own listeners hear it now; the poll skips it.
    if (this.#listeners.length > 0) {
      this.#own.add(seq)
      for (const { onChange } of this.#listeners) onChange(structuredClone(change))
    }
  }

  async subscribe (onChange: (change: StoreChange) => void, onResync: () => void): Promise<void> {
    if (this.#poll === undefined) {
      this.#seen = await this.#run(() => (this.#r.lastChange.get() as { seq: number | null }).seq ?? 0)
      this.#lastPoll = Date.now()
      this.#poll = setInterval(() => { this.#pollChanges() }, this.#pollMs)
      this.#poll.unref()
    }
    this.#listeners.push({ onChange, onResync })
  }

  #pollChanges (): void {
    if (this.#closed) return
    const now = Date.now()
    let rows: Array<{ seq: number, change: string }>
    try {
      rows = this.#r.changesAfter.all(this.#seen) as Array<{ seq: number, change: string }>
      this.#available = true
    } catch (err) {
      // Locked for a moment: the next poll reads it. Anything else: the store is in trouble.
      if (!isBusy(err)) this.#available = false
      return
    }
    // Asleep for longer than the feed keeps changes (a suspended machine): some may be gone.
    const gap = now - this.#lastPoll > CHANGES_KEEP_MS / 2
    this.#lastPoll = now
    if (gap) for (const { onResync } of this.#listeners) onResync()
    for (const { seq, change } of rows) {
      this.#seen = seq
      if (this.#own.delete(seq)) continue
      let parsed: StoreChange
      try {
        parsed = JSON.parse(change) as StoreChange
      } catch {
        continue
      }
      for (const { onChange } of this.#listeners) onChange(structuredClone(parsed))
    }
  }

  isAvailable (): boolean {
    return !this.#closed && this.#available
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#poll)
    this.#listeners.length = 0
    // A stopped gateway is no longer alive (gerbang restore asks, the rate limits divide by it).
    for (const id of this.#announced) {
      try {
        this.#r.dropProcess.run(id)
      } catch { /* it expires anyway */ }
    }
    for (const db of [this.#db, this.#rt]) {
      try {
        db.close()
      } catch { /* already closed */ }
    }
  }

  /**
   * Writes a consistent copy of gerbang.db to `file` (which must not exist),
   * while other processes keep reading and writing: SQLite's VACUUM INTO
   * reads one snapshot and writes a compact database.
   */
  async backupTo (file: string): Promise<void> {
    await this.#run(() => { this.#db.prepare('VACUUM INTO ?').run(file) })
  }

  /** Every row of a table of gerbang.db (the audit log oldest first), for `gerbang migrate`. */
  * rows<T> (table: DataTable): Generator<T> {
    yield * this.#db.prepare(`SELECT * FROM ${table}${table === 'audit' ? ' ORDER BY seq' : ''}`).iterate() as IterableIterator<T>
  }

  /** The counters of one traffic bucket, expired or not, for `gerbang migrate`. */
  counterFields (bucket: string): Array<{ field: string, count: number }> {
    return this.#s.readBucket.all(bucket) as Array<{ field: string, count: number }>
  }

  /** How many rows each table of gerbang.db holds, for the backup and restore reports. */
  counts (): Record<'clients' | 'users' | 'audit', number> {
    const n = (table: string): number => (this.#db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n
    return { clients: n('clients'), users: n('users'), audit: n('audit') }
  }

  /** Runs `work` in one write transaction (BEGIN IMMEDIATE: the write lock is taken first, so it never has to be upgraded). */
  #transaction<T>(work: () => T, db = this.#db): T {
    db.exec('BEGIN IMMEDIATE')
    try {
      const result = work()
      db.exec('COMMIT')
      return result
    } catch (err) {
      if (db.isTransaction) db.exec('ROLLBACK')
      throw err
    }
  }

  /**
   * Runs synchronous database work. Another process holding the write lock
   * (SQLITE_BUSY) is waited for on a timer, never by blocking the event
   * loop; disk errors make the store unavailable (StoreUnavailableError).
   */
  async #run<T>(work: () => T): Promise<T> {
    const deadline = Date.now() + BUSY_DEADLINE_MS
    for (let attempt = 0; ; attempt++) {
      if (this.#closed) throw new StoreUnavailableError('the store is closed')
      try {
        const result = work()
        this.#available = true
        return result
      } catch (err) {
        if (isBusy(err) && Date.now() < deadline) {
          await sleep(Math.min(1 + attempt, 20))
          continue
        }
        if (isBusy(err)) throw new StoreUnavailableError(`the store in ${this.files.dir} stayed locked for ${BUSY_DEADLINE_MS / 1000} s`, { cause: err })
        const code = errcode(err)
        if (code !== undefined && UNAVAILABLE_CODES.has(code & 0xff)) {
          this.#available = false
          throw new StoreUnavailableError(`the store in ${this.files.dir} failed: ${(err as Error).message}`, { cause: err })
        }
        throw err
      }
    }
  }

  // Tokens, sessions, rotated keys and counter buckets past their time are
  // already invisible; this deletes them, at most once a minute, from the
  // gateway's heartbeat. Old change feed rows go too.
  async #sweepIfDue (): Promise<void> {
    const now = Date.now()
    if (now < this.#nextSweep) return
    this.#nextSweep = now + SWEEP_EVERY_MS
    try {
      await this.#run(() => this.#transaction(() => {
        this.#s.sweepTokens.run(now)
        this.#s.sweepSessions.run(now)
        this.#s.sweepKeys.run(now)
        this.#s.sweepCounters.run(now)
        this.#s.sweepBuckets.run(now)
      }))
      await this.#run(() => this.#transaction(() => {
        this.#r.sweepWindows.run(now)
        this.#r.sweepChanges.run(now - CHANGES_KEEP_MS)
      }, this.#rt))
    } catch { /* the next sweep tries again */ }
  }
}

function prepareData (db: DatabaseSync) {
  const p = (sql: string): StatementSync => db.prepare(sql)
  return {
    insertClient: p('INSERT INTO clients (id, name_lower, json, last_used) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING'),
    getClient: p('SELECT json, last_used FROM clients WHERE id = ?'),
    clientIdByName: p('SELECT id FROM clients WHERE name_lower = ?'),
    setClientJson: p('UPDATE clients SET json = ? WHERE id = ?'),
    // name_lower is UNIQUE: its index gives the order, and a search stops once it has enough.
    listClients: p('SELECT json, last_used FROM clients ORDER BY name_lower LIMIT ? OFFSET ?'),
    searchClients: p('SELECT json, last_used FROM clients WHERE instr(name_lower, ?) > 0 ORDER BY name_lower LIMIT ? OFFSET ?'),
    countClients: p('SELECT count(*) AS n FROM clients'),
    touchClient: p('UPDATE clients SET last_used = ?1 WHERE id = ?2 AND (last_used IS NULL OR last_used < ?3)'),
    putKey: p('INSERT OR REPLACE INTO keys (hash, client_id, expires_at) VALUES (?, ?, ?)'),
    dropClientKeys: p('DELETE FROM keys WHERE client_id = ?1 AND (?2 <= 0 OR (expires_at IS NOT NULL AND expires_at <= ?3))'),
    limitClientKeys: p('UPDATE keys SET expires_at = ?1 WHERE client_id = ?2 AND (expires_at IS NULL OR expires_at > ?3)'),
    resolveKey: p('SELECT c.json, c.last_used, k.expires_at FROM keys k JOIN clients c ON c.id = k.client_id WHERE k.hash = ?'),
    putToken: p('INSERT OR REPLACE INTO tokens (hash, client_id, key_hash, expires_at) VALUES (?, ?, ?, ?)'),
    // A token resolves only while the key it was minted with is still its client's.
    resolveToken: p(`SELECT c.json, c.last_used, t.expires_at AS token_expires, k.expires_at AS key_expires
      FROM tokens t JOIN keys k ON k.hash = t.key_hash AND k.client_id = t.client_id JOIN clients c ON c.id = t.client_id
      WHERE t.hash = ?`),
    addLegacyClient: p('INSERT OR IGNORE INTO legacy_clients (id) VALUES (?)'),
    addLegacyLength: p('INSERT OR IGNORE INTO legacy_key_lengths (length) VALUES (?)'),
    countLegacy: p('SELECT count(*) AS n FROM legacy_clients'),
    legacyLengths: p('SELECT length FROM legacy_key_lengths ORDER BY length'),
    insertUser: p('INSERT INTO users (email_lower, json) VALUES (?, ?) ON CONFLICT DO NOTHING'),
    getUser: p('SELECT json FROM users WHERE email_lower = ?'),
    listUsers: p('SELECT json FROM users ORDER BY email_lower'),
    updateUser: p('UPDATE users SET json = ? WHERE email_lower = ?'),
    deleteUser: p('DELETE FROM users WHERE email_lower = ?'),
    listRoles: p('SELECT json FROM roles ORDER BY name'),
    getRole: p('SELECT json FROM roles WHERE name = ?'),
    putRole: p('INSERT OR REPLACE INTO roles (name, json) VALUES (?, ?)'),
    deleteRole: p('DELETE FROM roles WHERE name = ?'),
    putSession: p('INSERT OR REPLACE INTO sessions (hash, json, expires_at) VALUES (?, ?, ?)'),
    getSession: p('SELECT json FROM sessions WHERE hash = ? AND expires_at > ?'),
    touchSession: p('UPDATE sessions SET expires_at = ?1 WHERE hash = ?2 AND expires_at > ?3'),
    deleteSession: p('DELETE FROM sessions WHERE hash = ?'),
    insertAudit: p('INSERT INTO audit (json) VALUES (?)'),
    trimAudit: p('DELETE FROM audit WHERE seq <= ?'),
    listAudit: p('SELECT json FROM audit ORDER BY seq DESC LIMIT ? OFFSET ?'),
    bucketExpiry: p('SELECT expires_at FROM buckets WHERE bucket = ?'),
    clearBucket: p('DELETE FROM counters WHERE bucket = ?'),
    putBucket: p('INSERT OR REPLACE INTO buckets (bucket, expires_at) VALUES (?, ?)'),
    addCount: p('INSERT INTO counters (bucket, field, count) VALUES (?1, ?2, ?3) ON CONFLICT DO UPDATE SET count = count + ?3'),
    readBucket: p('SELECT field, count FROM counters WHERE bucket = ?'),
    readField: p('SELECT count FROM counters WHERE bucket = ? AND field = ?'),
    sweepTokens: p('DELETE FROM tokens WHERE expires_at <= ?'),
    sweepSessions: p('DELETE FROM sessions WHERE expires_at <= ?'),
    sweepKeys: p('DELETE FROM keys WHERE expires_at IS NOT NULL AND expires_at <= ?'),
    sweepCounters: p('DELETE FROM counters WHERE bucket IN (SELECT bucket FROM buckets WHERE expires_at <= ?)'),
    sweepBuckets: p('DELETE FROM buckets WHERE expires_at <= ?')
  }
}

function prepareRuntime (db: DatabaseSync) {
  const p = (sql: string): StatementSync => db.prepare(sql)
  return {
    getWindow: p('SELECT count, reset_at FROM windows WHERE name = ?'),
    putWindow: p('INSERT OR REPLACE INTO windows (name, count, reset_at) VALUES (?, ?, ?)'),
    releaseWindow: p('UPDATE windows SET count = max(0, count - ?1) WHERE name = ?2 AND reset_at > ?3'),
    sweepWindows: p('DELETE FROM windows WHERE reset_at <= ?'),
    putProcess: p('INSERT OR REPLACE INTO processes (id, expires_at) VALUES (?, ?)'),
    dropProcesses: p('DELETE FROM processes WHERE expires_at <= ?'),
    dropProcess: p('DELETE FROM processes WHERE id = ?'),
    countProcesses: p('SELECT count(*) AS n FROM processes'),
    countLiveProcesses: p('SELECT count(*) AS n FROM processes WHERE expires_at > ?'),
    insertChange: p('INSERT INTO changes (change, at) VALUES (?, ?)'),
    lastChange: p('SELECT max(seq) AS seq FROM changes'),
    changesAfter: p('SELECT seq, change FROM changes WHERE seq > ? ORDER BY seq LIMIT 1000'),
    sweepChanges: p('DELETE FROM changes WHERE at <= ?')
  }
}
