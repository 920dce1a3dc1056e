import { existsSync } from 'node:fs'
import { createHmac, randomBytes } from 'node:crypto'
import { join, resolve } from 'node:path'
import { composeStore, setParts } from './compose.js'
import { DiskAdmin } from './disk/admin.js'
import { DiskChangeFeed } from './disk/change-feed.js'
import { DiskCounters } from './disk/counters.js'
import { DiskCredentials } from './disk/credentials.js'
import { BUSY_DEADLINE_MS, DiskDatabase, type StoreFiles } from './disk/database.js'
import { DiskKeyRequests } from './disk/key-requests.js'
import { DiskLimits } from './disk/limits.js'
import type { DataTable } from './disk/schema.js'
import { DiskSweeper } from './disk/sweep.js'
import type { Store } from './types.js'

export { SCHEMA_VERSION, type DataTable } from './disk/schema.js'

// The embedded store on disk (docs/contract.md section 12): SQLite through
// node:sqlite, in GERBANG_DATA_DIR, shared by every process on the machine
// (the gateway, its --workers, the gerbang commands). Two files:
//
//   gerbang.db   what must never be lost: clients, key hashes, tokens, users,
//                roles, sessions, audit, traffic counters, key requests. WAL,
//                synchronous=FULL: a write is on disk before its promise resolves.
//   runtime.db   what lives only while gateways run: rate-limit windows, the
//                live processes, the change feed. WAL, synchronous=NORMAL
//                (no fsync per commit; survives kill -9, may lose the last
//                commits to a power cut, never corrupts); rebuilt when unreadable.
//
// Its parts: src/store/disk/, one module per role (credentials.ts, admin.ts,
// key-requests.ts, counters.ts, limits.ts, change-feed.ts); the schema in
// disk/schema.ts; opening the files, running statements without blocking on
// another process's lock, and closing in disk/database.ts; the once-a-minute
// sweep of what expired in disk/sweep.ts. The store is put together from
// them (src/store/compose.ts); what only this store has (the key pepper,
// backups, the rows `gerbang migrate` copies) is below.

export const DATA_FILE = 'gerbang.db'
export const RUNTIME_FILE = 'runtime.db'

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

/** The paths of the embedded store in `dir`. */
export function storeFiles (dir: string): StoreFiles {
  const abs = resolve(dir)
  return { dir: abs, data: join(abs, DATA_FILE), runtime: join(abs, RUNTIME_FILE) }
}

/** Whether `dir` holds an embedded store. */
export function storeExists (dir: string): boolean {
  return existsSync(storeFiles(dir).data)
}

/** The pepper's fingerprint, kept instead of the pepper itself when GERBANG_KEY_PEPPER gave it. */
function fingerprint (pepper: string): string {
  return createHmac('sha256', pepper).update('gerbang key pepper check').digest('hex')
}

/** Every role's methods, given to the class by composeStore below. */
export interface DiskStore extends Store {}

/**
 * The embedded store on disk. Construct it with the data directory; it is
 * ready at once (opening is synchronous and takes milliseconds).
 */
export class DiskStore {
  readonly kind = 'disk'
  readonly files: StoreFiles
  readonly #database: DiskDatabase

  constructor (options: DiskStoreOptions) {
    this.files = storeFiles(options.dir)
    if (!existsSync(this.files.data) && options.create === false) {
      throw new StoreMissingError(`there is no embedded store in ${this.files.dir} (no ${DATA_FILE})`)
    }
    const database = new DiskDatabase(this.files, options.synchronous)
    this.#database = database
    setParts(this, {
      credentials: new DiskCredentials(database),
      admin: new DiskAdmin(database),
      keyRequests: new DiskKeyRequests(database),
      counters: new DiskCounters(database),
      limits: new DiskLimits(database, new DiskSweeper(database)),
      changes: new DiskChangeFeed(database, options.pollMs)
    })
  }

  /**
   * The key pepper: GERBANG_KEY_PEPPER when given, else one this store made
   * at its creation and keeps. A store made with GERBANG_KEY_PEPPER keeps
   * only its fingerprint, and refuses to work with another one (every key
   * would stop matching).
   */
  keyPepper (fromEnv: string | undefined): string {
    const read = (name: string): string | undefined =>
      (this.#database.db.prepare('SELECT value FROM meta WHERE name = ?').get(name) as { value: string } | undefined)?.value
    this.#database.db.exec('PRAGMA busy_timeout = ' + String(BUSY_DEADLINE_MS))
    this.#database.db.exec('BEGIN IMMEDIATE')
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
          this.#database.db.prepare('INSERT INTO meta (name, value) VALUES (\'keyPepperCheck\', ?)').run(fingerprint(fromEnv))
        }
        pepper = fromEnv
      } else if (stored !== undefined) {
        pepper = stored
      } else if (check !== undefined) {
        throw new Error(`the keys in ${this.files.data} were made with GERBANG_KEY_PEPPER, which is not set: set it to the same value`)
      } else {
        pepper = randomBytes(32).toString('base64url')
        this.#database.db.prepare('INSERT INTO meta (name, value) VALUES (\'keyPepper\', ?)').run(pepper)
      }
      this.#database.db.exec('COMMIT')
      return pepper
    } catch (err) {
      this.#database.db.exec('ROLLBACK')
      throw err
    } finally {
      this.#database.db.exec('PRAGMA busy_timeout = 0')
    }
  }

  /** Whether the store keeps its own pepper (false: GERBANG_KEY_PEPPER gave it). */
  ownsPepper (): boolean {
    return this.#database.db.prepare('SELECT 1 FROM meta WHERE name = \'keyPepper\'').get() !== undefined
  }

  /** How many processes (gateways and workers) announced themselves alive and have not stopped since. */
  async liveProcesses (): Promise<number> {
    return await this.#database.run(() =>
      (this.#database.rt.prepare('SELECT count(*) AS n FROM processes WHERE expires_at > ?').get(Date.now()) as { n: number }).n)
  }

  isAvailable (): boolean {
    return !this.#database.closed && this.#database.available
  }

  async close (): Promise<void> {
    this.#database.close()
  }

  /**
   * Writes a consistent copy of gerbang.db to `file` (which must not exist),
   * while other processes keep reading and writing: SQLite's VACUUM INTO
   * reads one snapshot and writes a compact database.
   */
  async backupTo (file: string): Promise<void> {
    await this.#database.run(() => { this.#database.db.prepare('VACUUM INTO ?').run(file) })
  }

  /** Every row of a table of gerbang.db (the audit log oldest first), for `gerbang migrate`. */
  * rows<T> (table: DataTable): Generator<T> {
    yield * this.#database.db.prepare(`SELECT * FROM ${table}${table === 'audit' ? ' ORDER BY seq' : ''}`).iterate() as IterableIterator<T>
  }

  /** The counters of one traffic bucket, expired or not, for `gerbang migrate`. */
  counterFields (bucket: string): Array<{ field: string, count: number }> {
    return this.#database.db.prepare('SELECT field, count FROM counters WHERE bucket = ?').all(bucket) as Array<{ field: string, count: number }>
  }

  /** How many rows each table of gerbang.db holds, for the backup and restore reports. */
  counts (): Record<'clients' | 'users' | 'audit', number> {
    const n = (table: string): number => (this.#database.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n
    return { clients: n('clients'), users: n('users'), audit: n('audit') }
  }
}

composeStore(DiskStore, {
  credentials: DiskCredentials,
  admin: DiskAdmin,
  keyRequests: DiskKeyRequests,
  counters: DiskCounters,
  limits: DiskLimits,
  changes: DiskChangeFeed
})
