import type { AuditEntry, AuditStore } from './admin.js'

/** Who did what to which thing: one audit log entry, stamped now. */
export async function audit (store: AuditStore, actor: string, action: string,
  target: { type: AuditEntry['targetType'], id: string, name?: string }, details?: AuditEntry['details']): Promise<void> {
  await store.appendAudit({
    at: new Date().toISOString(),
    actor,
    action,
    targetType: target.type,
    targetId: target.id,
    targetName: target.name ?? target.id,
    ...(details !== undefined ? { details } : {})
  })
}
