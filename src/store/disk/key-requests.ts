import {
  applyKeyRequestChanges, DEFAULT_KEY_REQUEST_LIMIT, noKeyRequests,
  type KeyRequest, type KeyRequestChanges, type KeyRequestStatus, type KeyRequestStore, type ListKeyRequestsOptions
} from '../key-requests.js'
import { StoreConflictError } from '../types.js'
import { DiskPart, type DiskDatabase } from './database.js'

const SQL = {
  countPending: 'SELECT count(*) AS n FROM key_requests WHERE status = \'pending\'',
  insert: 'INSERT INTO key_requests (id, created_ms, status, link_hash, json) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
  get: 'SELECT json FROM key_requests WHERE id = ?',
  list: 'SELECT json FROM key_requests ORDER BY created_ms DESC, id DESC LIMIT ? OFFSET ?',
  listStatus: 'SELECT json FROM key_requests WHERE status = ? ORDER BY created_ms DESC, id DESC LIMIT ? OFFSET ?',
  count: 'SELECT status, count(*) AS n FROM key_requests GROUP BY status',
  update: 'UPDATE key_requests SET status = ?, link_hash = ?, json = ? WHERE id = ?',
  byLink: 'SELECT json FROM key_requests WHERE link_hash = ?'
}

const parse = (row: { json: string } | undefined): KeyRequest | undefined =>
  row === undefined ? undefined : JSON.parse(row.json) as KeyRequest

/**
 * DiskStore's KeyRequestStore: the table key_requests of gerbang.db (KEY_REQUESTS_SCHEMA, src/store/disk/schema.ts).
 */
export class DiskKeyRequests extends DiskPart<typeof SQL> implements KeyRequestStore {
  constructor (database: DiskDatabase) {
    super(database, SQL)
  }

  async createKeyRequest (request: KeyRequest, maxPending: number): Promise<boolean> {
    const outcome = await this.database.run(() => this.database.transaction(() => {
      if ((this.sql.countPending.get() as { n: number }).n >= maxPending) return 'full'
      const inserted = this.sql.insert.run(request.id, Date.parse(request.createdAt), request.status,
        request.linkHash ?? null, JSON.stringify(request))
      return inserted.changes === 1 ? 'created' : 'taken'
    }))
    if (outcome === 'taken') throw new StoreConflictError(`a key request with id '${request.id}' already exists`)
    return outcome === 'created'
  }

  async getKeyRequest (id: string): Promise<KeyRequest | undefined> {
    return parse(await this.database.run(() => this.sql.get.get(id) as { json: string } | undefined))
  }

  async listKeyRequests (options: ListKeyRequestsOptions = {}): Promise<KeyRequest[]> {
    const limit = options.limit ?? DEFAULT_KEY_REQUEST_LIMIT
    const offset = Math.max(0, options.offset ?? 0)
    if (limit <= 0) return []
    const rows = await this.database.run(() => (options.status === undefined
      ? this.sql.list.all(limit, offset)
      : this.sql.listStatus.all(options.status, limit, offset)) as Array<{ json: string }>)
    return rows.map((row) => JSON.parse(row.json) as KeyRequest)
  }

  async countKeyRequests (): Promise<Record<KeyRequestStatus, number>> {
    const rows = await this.database.run(() => this.sql.count.all() as Array<{ status: KeyRequestStatus, n: number }>)
    const counts = noKeyRequests()
    for (const { status, n } of rows) if (status in counts) counts[status] = n
    return counts
  }

  async updateKeyRequest (
    id: string, from: KeyRequestStatus, changes: KeyRequestChanges
  ): Promise<KeyRequest | undefined> {
    return await this.database.run(() => this.database.transaction(() => {
      const current = parse(this.sql.get.get(id) as { json: string } | undefined)
      if (current === undefined || current.status !== from) return undefined
      const next = applyKeyRequestChanges(current, changes)
      this.sql.update.run(next.status, next.linkHash ?? null, JSON.stringify(next), id)
      return next
    }))
  }

  async findKeyRequestByLink (linkHash: string): Promise<KeyRequest | undefined> {
    return parse(await this.database.run(() => this.sql.byLink.get(linkHash) as { json: string } | undefined))
  }
}
