import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Permission } from '../../src/store/types.js'
import { login, PASSWORD, SEEDED_HASH, startAdminGateway, USERS, type AdminGateway, type AdminSession } from '../helpers/admin.js'
import type { Problem } from '../helpers/problem.js'

// Security finding 5 (issue 20): custom roles must not escalate to admin.
// Nobody may grant a role or touch a user holding permissions beyond their
// own, nor edit (or delete) the role they hold.

const NEW_PASSWORD = 'kata-sandi-lain-2026'

interface Setup {
  gw: AdminGateway
  /** Signed in with the custom role `user-manager`: users:read, users:write, clients:read. */
  manager: AdminSession
  /** Signed in with the custom role `role-manager`: users:read, roles:write, audit:read. */
  roleManager: AdminSession
}

async function addUser (gw: AdminGateway, email: string, role: string, permissions?: Permission[]): Promise<void> {
  const now = new Date().toISOString()
  if (permissions !== undefined) await gw.store.saveRole({ name: role, description: role, permissions, createdAt: now })
  await gw.store.createUser({ email, name: `Pak ${role}`, role, passwordHash: SEEDED_HASH, createdAt: now })
}

async function setup (t: Parameters<typeof startAdminGateway>[0]): Promise<Setup> {
  const gw = await startAdminGateway(t)
  await addUser(gw, 'manager@bantenprov.go.id', 'user-manager', ['users:read', 'users:write', 'clients:read'])
  await addUser(gw, 'roles@bantenprov.go.id', 'role-manager', ['users:read', 'roles:write', 'audit:read'])
  return {
    gw,
    manager: await login(gw.url, 'manager@bantenprov.go.id'),
    roleManager: await login(gw.url, 'roles@bantenprov.go.id')
  }
}

/** Asserts a 403 PERMISSION_DENIED problem whose detail matches `why`. */
async function assertDenied (res: Response, why: RegExp, what: string): Promise<void> {
  assert.equal(res.status, 403, `${what}: answered ${res.status}`)
  assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/, what)
  const problem = await res.json() as Problem
  assert.equal(problem.code, 'PERMISSION_DENIED', what)
  assert.match(problem.detail, why, what)
}

async function roleOf (gw: AdminGateway, email: string): Promise<string | undefined> {
  return (await gw.store.getUser(email))?.role
}

test('users:write cannot create a user whose role has permissions beyond its own', async (t) => {
  const { gw, manager } = await setup(t)
  await assertDenied(await manager.call('POST', '/users', { email: 'kuda@troya.id', name: 'Kuda', role: 'admin', password: PASSWORD }),
    /admin.*(roles:write|clients:write)/, 'create an admin')
  // operator has clients:write and routes:read, which user-manager lacks.
  await assertDenied(await manager.call('POST', '/users', { email: 'kuda@troya.id', name: 'Kuda', role: 'operator', password: PASSWORD }),
    /operator.*clients:write/, 'create an operator')
  await gw.store.saveRole({ name: 'sneaky', description: '', permissions: ['users:read', 'roles:write'], createdAt: new Date().toISOString() })
  await assertDenied(await manager.call('POST', '/users', { email: 'kuda@troya.id', name: 'Kuda', role: 'sneaky', password: PASSWORD }),
    /sneaky.*roles:write/, 'create a user with a custom role granting more')
  assert.equal(await gw.store.getUser('kuda@troya.id'), undefined, 'nobody was created')
  await assert.rejects(login(gw.url, 'kuda@troya.id'))
})

test('users:write cannot rename, reset the password of, demote or delete a user holding permissions beyond its own', async (t) => {
  const { gw, manager } = await setup(t)
  const admin = USERS.admin
  await assertDenied(await manager.call('PATCH', `/users/${admin}`, { password: NEW_PASSWORD }), /admin/, 'reset an admin\'s password')
  await assert.rejects(login(gw.url, admin, NEW_PASSWORD), 'the new password does not work')
  await login(gw.url, admin) // the old one still does
  await assertDenied(await manager.call('PATCH', `/users/${admin}`, { name: 'Dipecat' }), /admin/, 'rename an admin')
  await assertDenied(await manager.call('PATCH', `/users/${admin}`, { role: 'viewer' }), /admin/, 'demote an admin')
  await assertDenied(await manager.call('PATCH', `/users/${USERS.operator}`, { role: 'viewer' }), /operator/, 'demote an operator')
  const stored = await gw.store.getUser(admin)
  assert.equal(stored?.role, 'admin')
  assert.equal(stored?.name, 'Pak Admin')
  await assertDenied(await manager.call('DELETE', `/users/${admin}`), /admin/, 'delete an admin')
  await assertDenied(await manager.call('DELETE', `/users/${USERS.operator}`), /operator/, 'delete an operator')
  assert.equal(await roleOf(gw, admin), 'admin', 'the admin is still there')
  assert.equal(await roleOf(gw, USERS.operator), 'operator', 'the operator is still there')
})

test('users:write cannot promote a user it may otherwise manage to a role beyond its own', async (t) => {
  const { gw, manager } = await setup(t)
  // viewer: clients:read, users:read, audit:read, routes:read; user-manager lacks audit:read and routes:read.
  await addUser(gw, 'staf@bantenprov.go.id', 'staf', ['clients:read'])
  await assertDenied(await manager.call('PATCH', '/users/staf@bantenprov.go.id', { role: 'admin' }), /admin/, 'promote to admin')
  await assertDenied(await manager.call('PATCH', '/users/staf@bantenprov.go.id', { role: 'viewer' }), /viewer.*(audit:read|routes:read)/, 'promote to viewer')
  assert.equal(await roleOf(gw, 'staf@bantenprov.go.id'), 'staf')
})

test('roles:write cannot create or widen a role beyond its own permissions, nor edit or delete the role it holds', async (t) => {
  const { gw, roleManager, manager } = await setup(t)
  await assertDenied(await roleManager.call('POST', '/roles', { name: 'almighty', permissions: ['users:write', 'audit:read'] }),
    /users:write/, 'create a role with a permission it lacks')
  assert.equal(await gw.store.getRole('almighty'), undefined)

  await assertDenied(await roleManager.call('PUT', '/roles/role-manager', { description: 'x', permissions: ['users:read', 'roles:write', 'audit:read', 'users:write'] }),
    /role-manager/, 'widen its own role')
  await assertDenied(await roleManager.call('PUT', '/roles/role-manager', { description: 'x', permissions: ['users:read', 'roles:write'] }),
    /role-manager/, 'edit its own role, even narrowing it')
  await assertDenied(await roleManager.call('DELETE', '/roles/role-manager'), /role-manager/, 'delete its own role')
  assert.deepEqual((await gw.store.getRole('role-manager'))?.permissions, ['users:read', 'roles:write', 'audit:read'])

  // Another role of its own making, widened past its permissions.
  assert.equal((await roleManager.call('POST', '/roles', { name: 'pembaca', permissions: ['audit:read'] })).status, 201)
  await assertDenied(await roleManager.call('PUT', '/roles/pembaca', { description: '', permissions: ['audit:read', 'clients:write'] }),
    /clients:write/, 'widen another role past its own permissions')
  assert.deepEqual((await gw.store.getRole('pembaca'))?.permissions, ['audit:read'])

  // A role granting more than it holds is not its to strip either.
  await assertDenied(await roleManager.call('PUT', '/roles/user-manager', { description: '', permissions: ['users:read'] }),
    /user-manager.*(users:write|clients:read)/, 'narrow a role that grants more than it holds')
  assert.deepEqual((await gw.store.getRole('user-manager'))?.permissions, ['users:read', 'users:write', 'clients:read'])
  assert.equal((await manager.call('GET', '/users')).status, 200)
})

test('allowed: users:write creates and edits users whose roles are within its permissions; roles:write manages lesser roles', async (t) => {
  const { gw, manager, roleManager } = await setup(t)
  await gw.store.saveRole({ name: 'staf', description: '', permissions: ['clients:read', 'users:read'], createdAt: new Date().toISOString() })

  const created = await manager.call('POST', '/users', { email: 'baru@bantenprov.go.id', name: 'Baru', role: 'staf', password: PASSWORD })
  assert.equal(created.status, 201)
  // A peer: the same role as its own.
  assert.equal((await manager.call('POST', '/users', { email: 'rekan@bantenprov.go.id', name: 'Rekan', role: 'user-manager', password: PASSWORD })).status, 201)
  assert.equal((await manager.call('PATCH', '/users/baru@bantenprov.go.id', { name: 'Baru Sekali', password: NEW_PASSWORD })).status, 200)
  await login(gw.url, 'baru@bantenprov.go.id', NEW_PASSWORD)
  assert.equal((await manager.call('PATCH', '/users/baru@bantenprov.go.id', { role: 'user-manager' })).status, 200)
  assert.equal((await manager.call('PATCH', '/users/rekan@bantenprov.go.id', { role: 'staf' })).status, 200)
  assert.equal((await manager.call('PATCH', '/users/manager@bantenprov.go.id', { name: 'Saya Sendiri' })).status, 200, 'it edits itself')
  assert.equal((await manager.call('DELETE', '/users/rekan@bantenprov.go.id')).status, 204)
  assert.equal(await roleOf(gw, 'baru@bantenprov.go.id'), 'user-manager')

  // roles:write: a role within its own permissions, created, changed and deleted.
  assert.equal((await roleManager.call('POST', '/roles', { name: 'pemeriksa', permissions: ['audit:read', 'users:read'] })).status, 201)
  assert.equal((await roleManager.call('PUT', '/roles/pemeriksa', { description: 'Inspektorat', permissions: ['audit:read'] })).status, 200)
  assert.equal((await roleManager.call('PUT', '/roles/pemeriksa', { description: 'Inspektorat', permissions: ['audit:read', 'roles:write'] })).status, 200)
  assert.equal((await roleManager.call('DELETE', '/roles/pemeriksa')).status, 204)
  // Existing refusals keep their answers.
  assert.equal((await roleManager.call('PUT', '/roles/admin', { description: '', permissions: [] })).status, 409)
  assert.equal((await manager.call('PATCH', '/users/nobody@bantenprov.go.id', { name: 'X' })).status, 404)
  assert.equal((await manager.call('DELETE', '/users/nobody@bantenprov.go.id')).status, 404)
  assert.equal((await manager.call('POST', '/users', { email: 'a@b.id', name: 'A', role: 'nope', password: PASSWORD })).status, 400)
})

test('allowed: the built-in admin still grants every role and manages every user and role', async (t) => {
  const { gw } = await setup(t)
  const admin = await login(gw.url, USERS.admin)
  assert.equal((await admin.call('POST', '/users', { email: 'admin2@bantenprov.go.id', name: 'Admin Dua', role: 'admin', password: PASSWORD })).status, 201)
  assert.equal((await admin.call('PATCH', '/users/admin2@bantenprov.go.id', { name: 'Admin 2', password: NEW_PASSWORD })).status, 200)
  assert.equal((await admin.call('PATCH', '/users/manager@bantenprov.go.id', { role: 'operator' })).status, 200)
  assert.equal((await admin.call('PATCH', '/users/admin2@bantenprov.go.id', { role: 'viewer' })).status, 200)
  assert.equal((await admin.call('POST', '/roles', { name: 'semua', permissions: ['clients:read', 'clients:write', 'users:read', 'users:write', 'roles:write', 'audit:read', 'routes:read'] })).status, 201)
  assert.equal((await admin.call('PUT', '/roles/role-manager', { description: '', permissions: ['users:read'] })).status, 200)
  assert.equal((await admin.call('PATCH', '/users/admin2@bantenprov.go.id', { role: 'semua' })).status, 200)
  assert.equal((await admin.call('DELETE', '/users/admin2@bantenprov.go.id')).status, 204)
  assert.equal((await admin.call('DELETE', '/roles/semua')).status, 204)
})
