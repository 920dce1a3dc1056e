// The AdminStore role (src/store/types.ts): what the admin console keeps,
// in five parts that consumers take one by one (sessions need users, roles
// and sessions, the audit helper only the audit log):
//   UserStore        admin-UI users             RoleStore        the stored (non-built-in) roles
//   SessionStore     signed-in admin sessions   AuditStore       the audit log
//   KeyRequestStore  self-service key requests (src/store/key-requests.ts)
// Implemented by src/store/{memory,redis,disk}/admin.ts and key-requests.ts;
// its contract tests: test/store/contract/admin.ts.

import type { KeyRequestStore } from './key-requests.js'

/** Every permission an admin role can grant; each admin API route needs one. */
export const PERMISSIONS = [
  'clients:read', 'clients:write', 'users:read', 'users:write', 'roles:write', 'audit:read', 'routes:read'
] as const
export type Permission = typeof PERMISSIONS[number]

/** A named set of permissions. The built-in roles live in code (src/admin/rbac.ts); the store holds the others. */
export interface Role {
  name: string
  description: string
  permissions: Permission[]
  createdAt: string
  updatedAt?: string
}

/** An admin-UI user. */
export interface User {
  email: string
  name: string
  /** A built-in role (`admin`, `operator`, `viewer`) or a stored one. */
  role: string
  /** `scrypt$N$r$p$salt$hash`, base64 parts (src/auth/passwords.ts). */
  passwordHash: string
  createdAt: string
  updatedAt?: string
  /** Bumped when the password changes, so older sessions end. */
  sessionEpoch?: number
}

/** A signed-in admin session, found by the hash of its cookie. */
export interface Session {
  email: string
  /** Sent back in `x-csrf-token` on every state-changing request. */
  csrfToken: string
  /** The user's sessionEpoch when the session began. */
  epoch: number
  createdAt: string
  /** Epoch ms after which the session ends whatever its activity. */
  absoluteExpiry: number
}

/** One line of the audit log: who did what to which thing, when. */
export interface AuditEntry {
  /** ISO 8601 UTC with milliseconds. */
  at: string
  /** The admin's email, `cli` for the command line, or `system` for the gateway itself (the first admin). */
  actor: string
  /**
   * e.g. `client.create`, `client.revoke`, `client.rotate`, `user.create`, `user.update`, `user.delete`, `role.create`,
   * `role.update`, `role.delete`, `session.login`, `keyRequest.create`.
   */
  action: string
  targetType: 'client' | 'user' | 'role' | 'session' | 'keyRequest'
  targetId: string
  /** A readable name for the target (the client's name, the user's email). */
  targetName: string
  /** What changed, never a secret. */
  details?: Record<string, string | number | boolean | string[]>
}

/** How many audit entries a store keeps: the newest ones. */
export const AUDIT_KEEP = 100_000

/** Admin-UI users, by email compared ignoring case. Passwords arrive as scrypt hashes. */
export interface UserStore {
  /** Fails with StoreConflictError when the email exists (compared ignoring case). */
  createUser (user: User): Promise<void>
  getUser (email: string): Promise<User | undefined>
  /** Every user, sorted by email. */
  listUsers (): Promise<User[]>
  /** Replaces an existing user (matched by email, ignoring case); false when there is none. */
  updateUser (user: User): Promise<boolean>
  /** False when there was no such user. */
  deleteUser (email: string): Promise<boolean>
}

/** The stored admin roles (the built-in ones live in src/admin/rbac.ts). */
export interface RoleStore {
  /** The stored (non-built-in) roles, sorted by name. */
  listRoles (): Promise<Role[]>
  getRole (name: string): Promise<Role | undefined>
  /** Creates or replaces a role. */
  saveRole (role: Role): Promise<void>
  /** False when there was no such role. */
  deleteRole (name: string): Promise<boolean>
}

/** Admin sessions by the hash of their cookie value; they vanish ttlMs after the last save or touch. */
export interface SessionStore {
  saveSession (idHash: string, session: Session, ttlMs: number): Promise<void>
  getSession (idHash: string): Promise<Session | undefined>
  touchSession (idHash: string, ttlMs: number): Promise<void>
  deleteSession (idHash: string): Promise<void>
}

/** The audit log (written through src/store/audit.ts). */
export interface AuditStore {
  /** Appends to the audit log, which keeps the newest AUDIT_KEEP entries. */
  appendAudit (entry: AuditEntry): Promise<void>
  /** Newest first. */
  listAudit (offset: number, limit: number): Promise<AuditEntry[]>
}

/** Everything the admin console keeps: users, roles, sessions, the audit log and the key-request queue. */
export type AdminStore = UserStore & RoleStore & SessionStore & AuditStore & KeyRequestStore
