import { Type } from '@sinclair/typebox'
import { hashPassword } from '../../auth/passwords.js'
import { GerbangError } from '../../errors.js'
import { audit } from '../../store/audit.js'
import type { AuditEntry, AuditStore, RoleStore, User } from '../../store/types.js'
import type { AdminApi, AdminDeps } from './deps.js'
import { findRole, requireRoleWithin } from '../rbac.js'
import { adminOf } from './guard.js'
import {
  answers, EmailParams, NewUserBody, PublicUser, UserPatchBody
} from './schemas.js'

/** A user as the API shows it: never the password hash. */
export function publicUser (user: User): Record<string, unknown> {
  return {
    email: user.email,
    name: user.name,
    role: user.role,
    createdAt: user.createdAt,
    ...(user.updatedAt !== undefined ? { updatedAt: user.updatedAt } : {})
  }
}

async function auditUser (store: AuditStore, actor: string, action: string, email: string, details?: AuditEntry['details']): Promise<void> {
  await audit(store, actor, action, { type: 'user', id: email }, details)
}

async function requireRole (store: RoleStore, name: string): Promise<void> {
  if (await findRole(store, name) === undefined) throw new GerbangError('BAD_REQUEST', `there is no role named '${name}'`)
}

/** Admin-UI users. */
export async function userRoutes (app: AdminApi, { store }: AdminDeps): Promise<void> {
  app.get('/users', {
    config: { access: 'users:read' },
    schema: { summary: 'Every admin-UI user', response: answers(200, Type.Object({ items: Type.Array(PublicUser) }), 403) }
  }, async () => ({ items: (await store.listUsers()).map(publicUser) }))

  app.post('/users', {
    config: { access: 'users:write' },
    schema: { summary: 'Add a user', body: NewUserBody, response: answers(201, Type.Object({ user: PublicUser }), 400, 403, 409) }
  }, async (request, reply) => {
    const body = request.body
    const admin = adminOf(request)
    await requireRole(store, body.role)
    await requireRoleWithin(store, admin, body.role, `you cannot give a user the role '${body.role}'`, 'it')
    const user: User = {
      email: body.email.trim(),
      name: body.name.trim(),
      role: body.role,
      passwordHash: await hashPassword(body.password),
      createdAt: new Date().toISOString()
    }
    await store.createUser(user)
    await auditUser(store, admin.user.email, 'user.create', user.email, { role: user.role })
    reply.code(201)
    return { user: publicUser(user) }
  })

  app.patch('/users/:email', {
    config: { access: 'users:write' },
    schema: {
      summary: 'Change a user\'s name, role or password (a new password ends their sessions)',
      params: EmailParams,
      body: UserPatchBody,
      response: answers(200, Type.Object({ user: PublicUser }), 400, 403, 404, 409)
    }
  }, async (request) => {
    const { email } = request.params
    const patch = request.body
    const admin = adminOf(request)
    const user = await store.getUser(email)
    if (user === undefined) throw new GerbangError('NOT_FOUND', `there is no user '${email}'`)
    await requireRoleWithin(store, admin, user.role, `you cannot change ${user.email}`, `their role '${user.role}'`)
    if (patch.role !== undefined) {
      await requireRole(store, patch.role)
      if (sameEmail(user.email, admin.user.email) && patch.role !== user.role) {
        throw new GerbangError('CONFLICT', 'you cannot change your own role; ask another admin')
      }
      await requireRoleWithin(store, admin, patch.role, `you cannot give ${user.email} the role '${patch.role}'`, 'it')
    }
    const details: AuditEntry['details'] = {}
    if (patch.name !== undefined && patch.name.trim() !== user.name) details.name = user.name = patch.name.trim()
    if (patch.role !== undefined && patch.role !== user.role) {
      details.role = patch.role
      details.previousRole = user.role
      user.role = patch.role
    }
    if (patch.password !== undefined) {
      user.passwordHash = await hashPassword(patch.password)
      user.sessionEpoch = (user.sessionEpoch ?? 0) + 1
      details.password = 'changed'
    }
    user.updatedAt = new Date().toISOString()
    if (!await store.updateUser(user)) throw new GerbangError('NOT_FOUND', `there is no user '${email}'`)
    await auditUser(store, admin.user.email, 'user.update', user.email, details)
    return { user: publicUser(user) }
  })

  app.delete('/users/:email', {
    config: { access: 'users:write' },
    schema: { summary: 'Delete a user; their sessions end', params: EmailParams, response: answers(204, null, 403, 404, 409) }
  }, async (request, reply) => {
    const { email } = request.params
    const admin = adminOf(request)
    if (sameEmail(email, admin.user.email)) throw new GerbangError('CONFLICT', 'you cannot delete yourself')
    const user = await store.getUser(email)
    if (user !== undefined) await requireRoleWithin(store, admin, user.role, `you cannot delete ${user.email}`, `their role '${user.role}'`)
    if (!await store.deleteUser(email)) throw new GerbangError('NOT_FOUND', `there is no user '${email}'`)
    await auditUser(store, admin.user.email, 'user.delete', email)
    return await reply.code(204).send()
  })
}

const sameEmail = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase()
