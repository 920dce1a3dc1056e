import {
  AUDIT_KEEP,
  type AuditEntry, type AuditStore, type Role, type RoleStore, type Session, type SessionStore, type User,
  type UserStore
} from '../admin.js'
import { StoreConflictError } from '../types.js'
import { DiskPart, type DiskDatabase } from './database.js'

const SQL = {
  insertUser: 'INSERT INTO users (email_lower, json) VALUES (?, ?) ON CONFLICT DO NOTHING',
  getUser: 'SELECT json FROM users WHERE email_lower = ?',
  listUsers: 'SELECT json FROM users ORDER BY email_lower',
  updateUser: 'UPDATE users SET json = ? WHERE email_lower = ?',
  deleteUser: 'DELETE FROM users WHERE email_lower = ?',
  listRoles: 'SELECT json FROM roles ORDER BY name',
  getRole: 'SELECT json FROM roles WHERE name = ?',
  putRole: 'INSERT OR REPLACE INTO roles (name, json) VALUES (?, ?)',
  deleteRole: 'DELETE FROM roles WHERE name = ?',
  putSession: 'INSERT OR REPLACE INTO sessions (hash, json, expires_at) VALUES (?, ?, ?)',
  getSession: 'SELECT json FROM sessions WHERE hash = ? AND expires_at > ?',
  touchSession: 'UPDATE sessions SET expires_at = ?1 WHERE hash = ?2 AND expires_at > ?3',
  deleteSession: 'DELETE FROM sessions WHERE hash = ?',
  insertAudit: 'INSERT INTO audit (json) VALUES (?)',
  trimAudit: 'DELETE FROM audit WHERE seq <= ?',
  listAudit: 'SELECT json FROM audit ORDER BY seq DESC LIMIT ? OFFSET ?'
}

/**
 * DiskStore's users, roles, sessions and audit log, in gerbang.db (AdminStore but its key requests: key-requests.ts).
 */
export class DiskAdmin extends DiskPart<typeof SQL> implements UserStore, RoleStore, SessionStore, AuditStore {
  constructor (database: DiskDatabase) {
    super(database, SQL)
  }

  async createUser (user: User): Promise<void> {
    const created = await this.database.run(() =>
      this.sql.insertUser.run(user.email.toLowerCase(), JSON.stringify(user)).changes)
    if (created === 0) throw new StoreConflictError(`a user with email '${user.email}' already exists`)
  }

  async getUser (email: string): Promise<User | undefined> {
    const row = await this.database.run(() => this.sql.getUser.get(email.toLowerCase()) as { json: string } | undefined)
    return row === undefined ? undefined : JSON.parse(row.json) as User
  }

  async listUsers (): Promise<User[]> {
    const rows = await this.database.run(() => this.sql.listUsers.all() as Array<{ json: string }>)
    return rows.map((row) => JSON.parse(row.json) as User)
  }

  async updateUser (user: User): Promise<boolean> {
    return await this.database.run(() =>
      this.sql.updateUser.run(JSON.stringify(user), user.email.toLowerCase()).changes) === 1
  }

  async deleteUser (email: string): Promise<boolean> {
    return await this.database.run(() => this.sql.deleteUser.run(email.toLowerCase()).changes) === 1
  }

  async listRoles (): Promise<Role[]> {
    const rows = await this.database.run(() => this.sql.listRoles.all() as Array<{ json: string }>)
    return rows.map((row) => JSON.parse(row.json) as Role)
  }

  async getRole (name: string): Promise<Role | undefined> {
    const row = await this.database.run(() => this.sql.getRole.get(name) as { json: string } | undefined)
    return row === undefined ? undefined : JSON.parse(row.json) as Role
  }

  async saveRole (role: Role): Promise<void> {
    await this.database.run(() => { this.sql.putRole.run(role.name, JSON.stringify(role)) })
  }

  async deleteRole (name: string): Promise<boolean> {
    return await this.database.run(() => this.sql.deleteRole.run(name).changes) === 1
  }

  async saveSession (idHash: string, session: Session, ttlMs: number): Promise<void> {
    await this.database.run(() => { this.sql.putSession.run(idHash, JSON.stringify(session), Date.now() + ttlMs) })
  }

  async getSession (idHash: string): Promise<Session | undefined> {
    const row = await this.database.run(() =>
      this.sql.getSession.get(idHash, Date.now()) as { json: string } | undefined)
    return row === undefined ? undefined : JSON.parse(row.json) as Session
  }

  async touchSession (idHash: string, ttlMs: number): Promise<void> {
    await this.database.run(() => {
      const now = Date.now()
      this.sql.touchSession.run(now + ttlMs, idHash, now)
    })
  }

  async deleteSession (idHash: string): Promise<void> {
    await this.database.run(() => { this.sql.deleteSession.run(idHash) })
  }

  async appendAudit (entry: AuditEntry): Promise<void> {
    await this.database.run(() => this.database.transaction(() => {
      const { lastInsertRowid } = this.sql.insertAudit.run(JSON.stringify(entry))
      const cut = Number(lastInsertRowid) - AUDIT_KEEP
      if (cut > 0) this.sql.trimAudit.run(cut)
    }))
  }

  async listAudit (offset: number, limit: number): Promise<AuditEntry[]> {
    if (limit <= 0) return []
    const rows = await this.database.run(() =>
      this.sql.listAudit.all(limit, Math.max(0, offset)) as Array<{ json: string }>)
    return rows.map((row) => JSON.parse(row.json) as AuditEntry)
  }
}
