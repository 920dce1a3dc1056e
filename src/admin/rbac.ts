import { GerbangError } from '../errors.js'
import { PERMISSIONS, type Permission, type Role, type RoleStore, type User } from '../store/types.js'

// Roles and their permissions. The built-in roles live here, in code, so an
// upgrade can extend them and nobody can lock every admin out by editing
// them; operators add their own roles in the store.

const BUILT_IN_TIME = '1970-01-01T00:00:00.000Z'

export const BUILT_IN_ROLES: ReadonlyMap<string, Role> = new Map([
  ['admin', {
    name: 'admin',
    description: 'Semua izin (every permission)',
    permissions: [...PERMISSIONS],
    createdAt: BUILT_IN_TIME
  }],
  ['operator', {
    name: 'operator',
    description: 'Mengelola klien dan kunci API (manages clients and their keys)',
    permissions: ['clients:read', 'clients:write', 'routes:read'],
    createdAt: BUILT_IN_TIME
  }],
  ['viewer', {
    name: 'viewer',
    description: 'Hanya membaca (read-only)',
    permissions: ['clients:read', 'users:read', 'audit:read', 'routes:read'],
    createdAt: BUILT_IN_TIME
  }]
])

/**
 * Who acts, as far as the rules below care: a signed-in admin (an
 * AdminContext of ./sessions.ts, which imports this module) is one.
 */
export interface Actor {
  user: Pick<User, 'role'>
  permissions: ReadonlySet<Permission>
}

export const ROLE_NAME_PATTERN = /^[a-z][a-z0-9-]{1,39}$/

/** The role by name, built-in first; undefined when it does not exist. */
export async function findRole (store: RoleStore, name: string): Promise<Role | undefined> {
  return BUILT_IN_ROLES.get(name) ?? await store.getRole(name)
}

/** What a user with this role may do; nothing when the role no longer exists. */
export async function permissionsOf (store: RoleStore, roleName: string): Promise<ReadonlySet<Permission>> {
  const role = await findRole(store, roleName)
  return new Set(role?.permissions ?? [])
}

/**
 * The rule that keeps a custom role from climbing to admin: nobody grants,
 * or acts on someone holding, a permission they do not hold themselves.
 * `permissions` are what the action would grant or touch; when any of them
 * is beyond the actor's own, this refuses with PERMISSION_DENIED:
 * "<refusal>: <holder> grants <missing>, which your role '<role>' does not have".
 * The built-in admin holds every permission, so it is never refused here.
 */
export function requireWithin (
  actor: Actor, permissions: Iterable<Permission>, refusal: string, holder: string
): void {
  const wanted = new Set(permissions)
  const missing = PERMISSIONS.filter((p) => wanted.has(p) && !actor.permissions.has(p))
  if (missing.length === 0) return
  throw new GerbangError('PERMISSION_DENIED',
    `${refusal}: ${holder} grants ${missing.join(', ')}, which your role '${actor.user.role}' does not have`)
}

/** requireWithin for the permissions of the role named `roleName`. */
export async function requireRoleWithin (
  store: RoleStore, actor: Actor, roleName: string, refusal: string, holder = `the role '${roleName}'`
): Promise<void> {
  requireWithin(actor, await permissionsOf(store, roleName), refusal, holder)
}
