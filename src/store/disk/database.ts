import { closeSync, existsSync, mkdirSync, openSync, rmSync } from 'node:fs'
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import { setTimeout as sleep } from 'node:timers/promises'
import { StoreUnavailableError } from '../types.js'
import { DATA_SCHEMA, KEY_REQUESTS_SCHEMA, RUNTIME_SCHEMA, SCHEMA_VERSION } from './schema.js'

// The two SQLite files of the embedded store, opened and shared by its parts
// (src/store/disk/*.ts): how a statement runs (#run below), what a write
// transaction is, whether the store answers, and closing.
//
// node:sqlite is synchronous. Every statement of the store is a primary-key
// or index lookup of microseconds; waiting for another process's write lock
// never blocks the event loop: the busy timeout is 0 and a locked database
// is retried on a timer (run) for up to BUSY_DEADLINE_MS.

export const BUSY_DEADLINE_MS = 5000
// SQLite result codes (primary code: the low byte).
const SQLITE_BUSY = 5
const SQLITE_LOCKED = 6
// IOERR, CORRUPT, FULL, CANTOPEN, NOTADB: the disk or the file is in trouble.
const UNAVAILABLE_CODES = new Set([10, 11, 13, 14, 26])

/** Where the embedded store's files are: its directory, gerbang.db and runtime.db. */
export interface StoreFiles { dir: string, data: string, runtime: string }

export function errcode (err: unknown): number | undefined {
  const code = (err as { errcode?: unknown }).errcode
  return typeof code === 'number' ? code : undefined
}

export function isBusy (err: unknown): boolean {
  const code = errcode(err)
  return code !== undefined && ((code & 0xff) === SQLITE_BUSY || (code & 0xff) === SQLITE_LOCKED)
}

/**
 * Creates an empty file readable by its owner only, so the database and its -wal/-shm (which copy its mode) are
 * private.
 */
function createPrivate (file: string): void {
  if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600))
}

/**
 * Opens a database with a busy timeout for the one-off work of opening it,
 * then none (see DiskDatabase.run). Processes starting together (`--workers`, a command
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

/** gerbang.db and runtime.db of one DiskStore, open. */
export class DiskDatabase {
  readonly files: StoreFiles
  /** gerbang.db: clients, keys, tokens, users, roles, sessions, audit, counters, key requests. */
  readonly db: DatabaseSync
  /** runtime.db: rate-limit windows, the live processes, the change feed. */
  readonly rt: DatabaseSync
  /** False after a disk error, until a statement succeeds again. */
  available = true
  #closed = false
  readonly #closing: Array<() => void> = []

  /** Makes the directory and the files when they do not exist yet, and opens them. */
  constructor (files: StoreFiles, synchronous: 'full' | 'off' = 'full') {
    this.files = files
    mkdirSync(files.dir, { recursive: true, mode: 0o700 })
    createPrivate(files.data)
    this.db = openDatabase(files.data, synchronous === 'off' ? 'OFF' : 'FULL', DATA_SCHEMA + KEY_REQUESTS_SCHEMA)
    try {
      this.#checkSchema()
      this.rt = this.#openRuntime(synchronous === 'off' ? 'OFF' : 'NORMAL')
    } catch (err) {
      this.db.close()
      throw err
    }
  }

  #checkSchema (): void {
    const row = this.db.prepare('SELECT value FROM meta WHERE name = \'schemaVersion\'').get() as { value: string } | undefined
    if (row === undefined) {
      // Another process may be opening the same new store: wait for its lock here, as when opening.
      this.db.exec('PRAGMA busy_timeout = ' + String(BUSY_DEADLINE_MS))
      try {
        this.db.prepare('INSERT OR IGNORE INTO meta (name, value) VALUES (\'schemaVersion\', ?), (\'createdAt\', ?)')
          .run(String(SCHEMA_VERSION), new Date().toISOString())
      } finally {
        this.db.exec('PRAGMA busy_timeout = 0')
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

  get closed (): boolean {
    return this.#closed
  }

  /** Adds what a part must do when the store closes, before the files are. */
  onClose (work: () => void): void {
    this.#closing.push(work)
  }

  close (): void {
    if (this.#closed) return
    this.#closed = true
    for (const work of this.#closing) work()
    for (const db of [this.db, this.rt]) {
      try {
        db.close()
      } catch { /* already closed */ }
    }
  }

  /**
   * Runs `work` in one write transaction (BEGIN IMMEDIATE: the write lock is taken first, so it never has to be
   * upgraded).
   */
  transaction<T>(work: () => T, db = this.db): T {
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
  async run<T>(work: () => T): Promise<T> {
    const deadline = Date.now() + BUSY_DEADLINE_MS
    for (let attempt = 0; ; attempt++) {
      if (this.#closed) throw new StoreUnavailableError('the store is closed')
      try {
        const result = work()
        this.available = true
        return result
      } catch (err) {
        if (isBusy(err) && Date.now() < deadline) {
          await sleep(Math.min(1 + attempt, 20))
          continue
        }
        if (isBusy(err)) throw new StoreUnavailableError(`the store in ${this.files.dir} stayed locked for ${BUSY_DEADLINE_MS / 1000} s`, { cause: err })
        const code = errcode(err)
        if (code !== undefined && UNAVAILABLE_CODES.has(code & 0xff)) {
          this.available = false
          throw new StoreUnavailableError(`the store in ${this.files.dir} failed: ${(err as Error).message}`, { cause: err })
        }
        throw err
      }
    }
  }
}

/** Prepared statements by name, from SQL by name. */
export type Statements<Sql> = { readonly [Name in keyof Sql]: StatementSync }

/**
 * What every data part of DiskStore starts from: the open files, and its
 * own statements (`sql`, by name) prepared once on gerbang.db, or on
 * runtime.db when `db` says so.
 */
export abstract class DiskPart<Sql extends Record<string, string>> {
  protected readonly database: DiskDatabase
  protected readonly sql: Statements<Sql>

  constructor (database: DiskDatabase, sql: Sql, db: DatabaseSync = database.db) {
    this.database = database
    const statements: Partial<Record<keyof Sql, StatementSync>> = {}
    for (const name of Object.keys(sql) as Array<keyof Sql>) statements[name] = db.prepare(sql[name] as string)
    this.sql = statements as Statements<Sql>
  }
}
