import { Type } from '@sinclair/typebox'
import type { AdminApi, AdminDeps } from './deps.js'
import { answers, AuditQuery } from './schemas.js'

const AuditList = Type.Object({
  items: Type.Array(Type.Object({
    at: Type.String(),
    actor: Type.String(),
    action: Type.String(),
    targetType: Type.String(),
    targetId: Type.String(),
    targetName: Type.String(),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown()))
  })),
  hasMore: Type.Boolean()
})

/** Who did what to which client, user or role, newest first. */
export async function auditRoutes (app: AdminApi, { store }: AdminDeps): Promise<void> {
  app.get('/audit', {
    config: { access: 'audit:read' },
    schema: { summary: 'The audit log, newest first', querystring: AuditQuery, response: answers(200, AuditList, 403) }
  }, async (request) => {
    const { offset, limit } = request.query
    const items = await store.listAudit(offset, limit + 1)
    return { items: items.slice(0, limit), hasMore: items.length > limit }
  })
}
