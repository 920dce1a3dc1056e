import type { FastifyBaseLogger } from 'fastify'
import { hashPassword, isEmailAddress, passwordProblem } from '../auth/passwords.js'
import { audit } from '../store/audit.js'
import { StoreConflictError, type AuditStore, type UserStore } from '../store/types.js'

/**
 * At a first start with no users, GERBANG_ADMIN_EMAIL and
 * GERBANG_ADMIN_PASSWORD make the first admin; after that they are ignored,
 * so changing them never resets anyone's password.
 */
export async function ensureFirstAdmin (
  store: UserStore & AuditStore, env: NodeJS.ProcessEnv, log: FastifyBaseLogger
): Promise<void> {
  const email = env.GERBANG_ADMIN_EMAIL?.trim() ?? ''
  const password = env.GERBANG_ADMIN_PASSWORD ?? ''
  if (email === '' && password === '') {
    if ((await store.listUsers()).length === 0) {
      log.warn('there are no admin users yet: set GERBANG_ADMIN_EMAIL and GERBANG_ADMIN_PASSWORD, or run gerbang users create')
    }
    return
  }
  if (email === '' || password === '') throw new Error('GERBANG_ADMIN_EMAIL and GERBANG_ADMIN_PASSWORD go together: set both or neither')
  if (!isEmailAddress(email)) throw new Error(`GERBANG_ADMIN_EMAIL '${email}' is not an email address`)
  const problem = passwordProblem(password)
  if (problem !== undefined) throw new Error(`GERBANG_ADMIN_PASSWORD: ${problem}`)
  if ((await store.listUsers()).length > 0) return
  try {
    await store.createUser({ email, name: email, role: 'admin', passwordHash: await hashPassword(password), createdAt: new Date().toISOString() })
  } catch (err) {
    // Another gateway process made it first.
    if (err instanceof StoreConflictError) return
    throw err
  }
  await audit(store, 'system', 'user.create', { type: 'user', id: email }, { role: 'admin', from: 'GERBANG_ADMIN_EMAIL' })
  log.info({ email }, 'created the first admin user from GERBANG_ADMIN_EMAIL')
}
