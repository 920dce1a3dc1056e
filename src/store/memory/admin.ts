import {
  AUDIT_KEEP,
  type AuditEntry, type AuditStore, type Role, type RoleStore, type Session, type SessionStore, type User,
  type UserStore
} from '../admin.js'
import { StoreConflictError } from '../types.js'
import { byKey, live, type MemorySweeper } from './sweeper.js'

// The audit array may run this far past AUDIT_KEEP before it is cut back, so
// that a full log is not shifted on every append.
const AUDIT_SLACK = 1000

/** MemoryStore's users, roles, sessions and audit log (AdminStore but its key requests: key-requests.ts). */
export class MemoryAdmin implements UserStore, RoleStore, SessionStore, AuditStore {
  /** By lowercased email. */
  readonly #users = new Map<string, User>()
  readonly #roles = new Map<string, Role>()
  readonly #sessions = new Map<string, { session: Session, expiresAt: number }>()
  /** Oldest first; listAudit reads it from the end. */
  readonly #audit: AuditEntry[] = []
  readonly #sweeper: MemorySweeper

  constructor (sweeper: MemorySweeper) {
    this.#sweeper = sweeper
    sweeper.add((now) => {
      for (const [id, entry] of this.#sessions) if (entry.expiresAt <= now) this.#sessions.delete(id)
    })
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
    const now = this.#sweeper.sweepIfDue()
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
}
