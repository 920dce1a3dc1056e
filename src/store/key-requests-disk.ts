import type { DatabaseSync, StatementSync } from 'node:sqlite'
import {
  applyKeyRequestChanges, DEFAULT_KEY_REQUEST_LIMIT, noKeyRequests,
  type KeyRequest, type KeyRequestChanges, type KeyRequestStatus, type ListKeyRequestsOptions
} from './key-requests.js'
import { StoreConflictError } from './types.js'

// The key-request queue of DiskStore, in gerbang.db (synchronous=FULL: an
// acknowledged request or decision survives a crash). The columns beside the
// JSON are what the queries need: status and time for the lists, the link
// hash for opening a link. A new table in an existing file needs no schema
// version: CREATE TABLE IF NOT EXISTS adds it at the next start, and an older
// Gerbang ignores it.

export const KEY_REQUESTS_SCHEMA = `
CREATE TABLE IF NOT EXISTS key_requests (
  id TEXT PRIMARY KEY,
  created_ms INTEGER NOT NULL,
  status TEXT NOT NULL,
  link_hash TEXT,
  json TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS key_requests_by_time ON key_requests (created_ms, id);
CREATE INDEX IF NOT EXISTS key_requests_by_status ON key_requests (status, created_ms, id);
CREATE INDEX IF NOT EXISTS key_requests_by_link ON key_requests (link_hash) WHERE link_hash IS NOT NULL;
`

/** DiskStore's way to run work: waiting out another process's lock, in one write transaction when asked. */
export interface DiskRunner {
  run: <T>(work: () => T) => Promise<T>
  transaction: <T>(work: () => T) => T
}

function prepare (db: DatabaseSync) {
  const p = (sql: string): StatementSync => db.prepare(sql)
  return {
    countPending: p('SELECT count(*) AS n FROM key_requests WHERE status = \'pending\''),
    insert: p('INSERT INTO key_requests (id, created_ms, status, link_hash, json) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING'),
    get: p('SELECT json FROM key_requests WHERE id = ?'),
    list: p('SELECT json FROM key_requests ORDER BY created_ms DESC, id DESC LIMIT ? OFFSET ?'),
    listStatus: p('SELECT json FROM key_requests WHERE status = ? ORDER BY created_ms DESC, id DESC LIMIT ? OFFSET ?'),
    count: p('SELECT status, count(*) AS n FROM key_requests GROUP BY status'),
    update: p('UPDATE key_requests SET status = ?, link_hash = ?, json = ? WHERE id = ?'),
    byLink: p('SELECT json FROM key_requests WHERE link_hash = ?')
  }
}

const parse = (row: { json: string } | undefined): KeyRequest | undefined => row === undefined ? undefined : JSON.parse(row.json) as KeyRequest

export class DiskKeyRequests {
  readonly #s: ReturnType<typeof prepare>
  readonly #runner: DiskRunner

  /** `db` already holds KEY_REQUESTS_SCHEMA (DiskStore creates it with the rest). */
  constructor (db: DatabaseSync, runner: DiskRunner) {
    this.#s = prepare(db)
    this.#runner = runner
  }

  async create (request: KeyRequest, maxPending: number): Promise<boolean> {
    const outcome = await this.#runner.run(() => this.#runner.transaction(() => {
      if ((this.#s.countPending.get() as { n: number }).n >= maxPending) return 'full'
      const inserted = this.#s.insert.run(request.id, Date.parse(request.createdAt), request.status, request.linkHash ?? null, JSON.stringify(request))
      return inserted.changes === 1 ? 'created' : 'taken'
    }))
    if (outcome === 'taken') throw new StoreConflictError(`a key request with id '${request.id}' already exists`)
    return outcome === 'created'
  }

  async get (id: string): Promise<KeyRequest | undefined> {
    return parse(await this.#runner.run(() => this.#s.get.get(id) as { json: string } | undefined))
  }

  async list (options: ListKeyRequestsOptions = {}): Promise<KeyRequest[]> {
    const limit = options.limit ?? DEFAULT_KEY_REQUEST_LIMIT
    const offset = Math.max(0, options.offset ?? 0)
    if (limit <= 0) return []
    const rows = await this.#runner.run(() => (options.status === undefined
      ? this.#s.list.all(limit, offset)
      : this.#s.listStatus.all(options.status, limit, offset)) as Array<{ json: string }>)
    return rows.map((row) => JSON.parse(row.json) as KeyRequest)
  }

  async count (): Promise<Record<KeyRequestStatus, number>> {
    const rows = await this.#runner.run(() => this.#s.count.all() as Array<{ status: KeyRequestStatus, n: number }>)
    const counts = noKeyRequests()
    for (const { status, n } of rows) if (status in counts) counts[status] = n
    return counts
  }

  async update (id: string, from: KeyRequestStatus, changes: KeyRequestChanges): Promise<KeyRequest | undefined> {
    return await this.#runner.run(() => this.#runner.transaction(() => {
      const current = parse(this.#s.get.get(id) as { json: string } | undefined)
      if (current === undefined || current.status !== from) return undefined
      const next = applyKeyRequestChanges(current, changes)
      this.#s.update.run(next.status, next.linkHash ?? null, JSON.stringify(next), id)
      return next
    }))
  }

  async findByLink (linkHash: string): Promise<KeyRequest | undefined> {
    return parse(await this.#runner.run(() => this.#s.byLink.get(linkHash) as { json: string } | undefined))
  }
}
