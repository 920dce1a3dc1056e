import {
  AUDIT_KEEP,
  type AuditEntry, type AuditStore, type Role, type RoleStore, type Session, type SessionStore, type User,
  type UserStore
} from '../admin.js'
import { StoreConflictError } from '../types.js'
import { ms, runCommand as run } from './connection.js'
import { RedisPart } from './part.js'

/** RedisStore's users, roles, sessions and audit log (AdminStore but its key requests: key-requests.ts). */
export class RedisAdmin extends RedisPart implements UserStore, RoleStore, SessionStore, AuditStore {
  #u (suffix: string): string {
    return this.keys.u(suffix)
  }

  async createUser (user: User): Promise<void> {
    const email = user.email.toLowerCase()
    const created = await run(async () =>
      await this.redis.gerbangSaveUser(this.#u(`user:${email}`), this.#u('users'), JSON.stringify(user), email, 'NX'))
    if (created !== 1) throw new StoreConflictError(`a user with email '${user.email}' already exists`)
  }

  async getUser (email: string): Promise<User | undefined> {
    const json = await run(async () => await this.redis.get(this.#u(`user:${email.toLowerCase()}`)))
    return json === null ? undefined : JSON.parse(json) as User
  }

  async listUsers (): Promise<User[]> {
    const emails = (await run(async () => await this.redis.smembers(this.#u('users')))).sort()
    if (emails.length === 0) return []
    const jsons = await run(async () => await this.redis.mget(emails.map((email) => this.#u(`user:${email}`))))
    return jsons.filter((json) => json !== null).map((json) => JSON.parse(json) as User)
  }

  async updateUser (user: User): Promise<boolean> {
    const email = user.email.toLowerCase()
    const updated = await run(async () =>
      await this.redis.gerbangSaveUser(this.#u(`user:${email}`), this.#u('users'), JSON.stringify(user), email, 'XX'))
    return updated === 1
  }

  async deleteUser (email: string): Promise<boolean> {
    const lower = email.toLowerCase()
    const deleted = await run(async () =>
      await this.redis.gerbangDeleteUser(this.#u(`user:${lower}`), this.#u('users'), lower))
    return deleted === 1
  }

  async listRoles (): Promise<Role[]> {
    const jsons = await run(async () => await this.redis.hvals(this.#u('roles')))
    return jsons.map((json) => JSON.parse(json) as Role).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  }

  async getRole (name: string): Promise<Role | undefined> {
    const json = await run(async () => await this.redis.hget(this.#u('roles'), name))
    return json === null ? undefined : JSON.parse(json) as Role
  }

  async saveRole (role: Role): Promise<void> {
    await run(async () => await this.redis.hset(this.#u('roles'), role.name, JSON.stringify(role)))
  }

  async deleteRole (name: string): Promise<boolean> {
    return await run(async () => await this.redis.hdel(this.#u('roles'), name)) === 1
  }

  async saveSession (idHash: string, session: Session, ttlMs: number): Promise<void> {
    await run(async () => await this.redis.set(this.keys.session(idHash), JSON.stringify(session), 'PX', ms(ttlMs)))
  }

  async getSession (idHash: string): Promise<Session | undefined> {
    const json = await run(async () => await this.redis.get(this.keys.session(idHash)))
    return json === null ? undefined : JSON.parse(json) as Session
  }

  async touchSession (idHash: string, ttlMs: number): Promise<void> {
    await run(async () => await this.redis.pexpire(this.keys.session(idHash), ms(ttlMs)))
  }

  async deleteSession (idHash: string): Promise<void> {
    await run(async () => await this.redis.del(this.keys.session(idHash)))
  }

  async appendAudit (entry: AuditEntry): Promise<void> {
    await run(async () => await this.redis.gerbangAppendAudit(this.keys.audit(), JSON.stringify(entry), AUDIT_KEEP))
  }

  async listAudit (offset: number, limit: number): Promise<AuditEntry[]> {
    // LRANGE with a stop of -1 would read to the end, not nothing.
    if (limit <= 0) return []
    const start = Math.max(0, offset)
    const jsons = await run(async () => await this.redis.lrange(this.keys.audit(), start, start + limit - 1))
    return jsons.map((json) => JSON.parse(json) as AuditEntry)
  }
}
