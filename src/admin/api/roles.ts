import { Type } from '@sinclair/typebox'
import { GerbangError } from '../../errors.js'
import { audit } from '../../store/audit.js'
import { PERMISSIONS, type AuditStore, type Role } from '../../store/types.js'
import type { AdminApi, AdminDeps } from './deps.js'
import { BUILT_IN_ROLES, requireWithin } from '../rbac.js'
import type { AdminContext } from '../sessions.js'
import { adminOf } from './guard.js'
import { answers, NameParams, NewRoleBody, RolePutBody, RoleView } from './schemas.js'

const view = (role: Role, builtIn: boolean): Record<string, unknown> => ({
  name: role.name, description: role.description, permissions: role.permissions, builtIn
})

async function auditRole (store: AuditStore, actor: string, action: string, role: Role | string): Promise<void> {
  if (typeof role === 'string') await audit(store, actor, action, { type: 'role', id: role })
  else await audit(store, actor, action, { type: 'role', id: role.name }, { permissions: role.permissions })
}

function refuseBuiltIn (name: string): void {
  if (BUILT_IN_ROLES.has(name)) throw new GerbangError('CONFLICT', `${name} is a built-in role and cannot be changed`)
}

/** Nobody edits or deletes the role they hold: that would be granting themselves permissions. */
function refuseOwn (admin: AdminContext, name: string): void {
  if (admin.user.role === name) throw new GerbangError('PERMISSION_DENIED', `you cannot change or delete '${name}', the role you hold; ask another admin`)
}

/** Roles and the permissions they grant; the built-in ones are read-only. */
export async function roleRoutes (app: AdminApi, { store }: AdminDeps): Promise<void> {
  app.get('/roles', {
    config: { access: 'users:read' },
    schema: {
      summary: 'Every role (built-in first) and every permission',
      response: answers(200, Type.Object({ items: Type.Array(RoleView), permissions: Type.Array(Type.String()) }), 403)
    }
  }, async () => ({
    items: [
      ...[...BUILT_IN_ROLES.values()].map((r) => view(r, true)),
      ...(await store.listRoles()).map((r) => view(r, false))
    ],
    permissions: PERMISSIONS
  }))

  app.post('/roles', {
    config: { access: 'roles:write' },
    schema: { summary: 'Add a role', body: NewRoleBody, response: answers(201, Type.Object({ role: RoleView }), 400, 403, 409) }
  }, async (request, reply) => {
    const body = request.body
    const admin = adminOf(request)
    refuseBuiltIn(body.name)
    requireWithin(admin, body.permissions, `you cannot create the role '${body.name}'`, 'it')
    if (await store.getRole(body.name) !== undefined) throw new GerbangError('CONFLICT', `a role named '${body.name}' already exists`)
    const role: Role = {
      name: body.name, description: body.description, permissions: body.permissions, createdAt: new Date().toISOString()
    }
    await store.saveRole(role)
    await auditRole(store, admin.user.email, 'role.create', role)
    reply.code(201)
    return { role: view(role, false) }
  })

  app.put('/roles/:name', {
    config: { access: 'roles:write' },
    schema: {
      summary: 'Change a role\'s description and permissions; its users get them at their next request',
      params: NameParams,
      body: RolePutBody,
      response: answers(200, Type.Object({ role: RoleView }), 400, 403, 404, 409)
    }
  }, async (request) => {
    const { name } = request.params
    const body = request.body
    const admin = adminOf(request)
    refuseBuiltIn(name)
    refuseOwn(admin, name)
    const existing = await store.getRole(name)
    if (existing === undefined) throw new GerbangError('NOT_FOUND', `there is no role named '${name}'`)
    // Narrowing a role that grants more than the actor holds would demote its holders.
    requireWithin(admin, existing.permissions, `you cannot change the role '${name}'`, 'it')
    requireWithin(admin, body.permissions, `you cannot change the role '${name}'`, 'the new list')
    const role: Role = {
      ...existing, description: body.description, permissions: body.permissions, updatedAt: new Date().toISOString()
    }
    await store.saveRole(role)
    await auditRole(store, admin.user.email, 'role.update', role)
    return { role: view(role, false) }
  })

  app.delete('/roles/:name', {
    config: { access: 'roles:write' },
    schema: { summary: 'Delete a role no user has', params: NameParams, response: answers(204, null, 403, 404, 409) }
  }, async (request, reply) => {
    const { name } = request.params
    const admin = adminOf(request)
    refuseBuiltIn(name)
    refuseOwn(admin, name)
    const existing = await store.getRole(name)
    if (existing !== undefined) requireWithin(admin, existing.permissions, `you cannot delete the role '${name}'`, 'it')
    const holders = (await store.listUsers()).filter((u) => u.role === name)
    if (holders.length > 0) throw new GerbangError('CONFLICT', `${holders.length} user(s) still have the role '${name}'`)
    if (!await store.deleteRole(name)) throw new GerbangError('NOT_FOUND', `there is no role named '${name}'`)
    await auditRole(store, admin.user.email, 'role.delete', name)
    return await reply.code(204).send()
  })
}
