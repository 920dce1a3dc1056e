import { test } from 'node:test'
import assert from 'node:assert/strict'
import SwaggerParser from '@apidevtools/swagger-parser'
import { login, PASSWORD, startAdminGateway, USERS } from '../helpers/admin.js'
import type { Problem } from '../helpers/problem.js'
import { waitFor, waitUntil } from '../helpers/time.js'

interface ClientItem {
  id: string
  name: string
  description: string
  integrations: string[] | '*'
  status: string
  requestsToday: number
  lastUsedAt?: string
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

test('an operator adds a client, its key works at once, search finds it, revoke stops it within 1 s, rotate swaps keys', async (t) => {
  const gw = await startAdminGateway(t)
  const operator = await login(gw.url, USERS.operator)

  const created = await operator.call('POST', '/clients', {
    name: 'RSUD Malingping', description: 'Aplikasi rawat inap', integrations: ['yankes'], rateLimit: '100/1m'
  })
  assert.equal(created.status, 201)
  const { client, key } = await created.json() as { client: ClientItem, key: string }
  assert.match(key, /^gb_[A-Za-z0-9_-]{43}$/)
  assert.equal(client.name, 'RSUD Malingping')
  assert.equal(client.description, 'Aplikasi rawat inap')
  assert.deepEqual(client.integrations, ['yankes'])
  assert.equal(client.status, 'active')

  const call = async (path: string, k = key): Promise<number> => (await fetch(`${gw.url}${path}`, { headers: { 'x-api-key': k } })).status
  assert.equal(await call('/yankes/kamar'), 200, 'the new key works at once')
  assert.equal(await call('/satu-data/getGroup'), 403, 'only the integrations granted')

  for (const name of ['Dinkes Serang', 'Puskesmas Ciruas', 'RSUD Banten']) {
    assert.equal((await operator.call('POST', '/clients', { name, integrations: '*' })).status, 201)
  }
  const search = await (await operator.call('GET', '/clients?search=maling')).json() as { items: ClientItem[], total: number, hasMore: boolean }
  assert.deepEqual(search.items.map((c) => c.name), ['RSUD Malingping'])
  assert.equal(search.total, 4)
  const firstPage = await (await operator.call('GET', '/clients?limit=2')).json() as { items: ClientItem[], hasMore: boolean }
  assert.deepEqual(firstPage.items.map((c) => c.name), ['Dinkes Serang', 'Puskesmas Ciruas'])
  assert.equal(firstPage.hasMore, true)
  const secondPage = await (await operator.call('GET', '/clients?limit=2&offset=2')).json() as { items: ClientItem[], hasMore: boolean }
  assert.deepEqual(secondPage.items.map((c) => c.name), ['RSUD Banten', 'RSUD Malingping'])
  assert.equal(secondPage.hasMore, false)

  // Requests today reach the list once the traffic counters are flushed (every 100 ms here).
  const listed = await waitFor('the request counted in the client list', async () => {
    const item = (await (await operator.call('GET', '/clients?search=malingping')).json() as { items: ClientItem[] }).items[0]
    return (item?.requestsToday ?? 0) >= 1 ? item : undefined
  })
  assert.equal(listed.requestsToday, 1, 'the one request it was allowed to make')

  const duplicate = await operator.call('POST', '/clients', { name: 'rsud malingping', integrations: '*' })
  assert.equal(duplicate.status, 409)
  assert.equal((await duplicate.json() as Problem).code, 'CONFLICT')
  const unknown = await operator.call('POST', '/clients', { name: 'X', integrations: ['nope'] })
  assert.equal(unknown.status, 400)
  assert.match((await unknown.json() as Problem).detail, /no integration named 'nope'/)
  const badRate = await operator.call('POST', '/clients', { name: 'Y', integrations: '*', rateLimit: 'banyak' })
  assert.equal(badRate.status, 400)
  assert.match((await badRate.json() as Problem).detail, /must look like 100\/1m/)

  const rotated = await operator.call('POST', `/clients/${client.id}/rotate`)
  assert.equal(rotated.status, 200)
  const { key: newKey } = await rotated.json() as { key: string }
  assert.notEqual(newKey, key)
  assert.equal(await call('/yankes/kamar', newKey), 200)
  assert.equal(await call('/yankes/kamar', key), 401, 'the old key stops at once')

  const revoked = await operator.call('POST', `/clients/${client.id}/revoke`)
  assert.equal(revoked.status, 200)
  assert.equal((await revoked.json() as { client: ClientItem }).client.status, 'revoked')
  // A revoke reaches the gateway within 1 s (docs/contract.md).
  await waitUntil('the revoked key to be refused (within 1 s)', async () => await call('/yankes/kamar', newKey) === 401, 1000)
  assert.equal((await operator.call('POST', `/clients/${client.id}/rotate`)).status, 409, 'a revoked client gets no new key')
  assert.equal((await operator.call('POST', '/clients/nope/revoke')).status, 404)
})

test('each route checks its permission: a viewer reads but cannot write; an operator cannot manage users', async (t) => {
  const gw = await startAdminGateway(t)
  const viewer = await login(gw.url, USERS.viewer)
  const operator = await login(gw.url, USERS.operator)

  const session = await (await viewer.call('GET', '/session')).json() as { user: { name: string, role: string }, permissions: string[] }
  assert.equal(session.user.role, 'viewer')
  assert.deepEqual(session.permissions, ['audit:read', 'clients:read', 'routes:read', 'users:read'])

  assert.equal((await viewer.call('GET', '/clients')).status, 200)
  assert.equal((await viewer.call('GET', '/routes')).status, 200)
  const refused = await viewer.call('POST', '/clients', { name: 'Coba', integrations: '*' })
  assert.equal(refused.status, 403)
  const problem = await refused.json() as Problem
  assert.equal(problem.code, 'PERMISSION_DENIED')
  assert.match(refused.headers.get('content-type') ?? '', /application\/problem\+json/)
  assert.equal((await (await viewer.call('GET', '/clients')).json() as { total: number }).total, 0, 'nothing was created')

  assert.equal((await operator.call('GET', '/users')).status, 403)
  assert.equal((await operator.call('GET', '/audit')).status, 403)
  assert.equal((await operator.call('POST', '/users', { email: 'x@y.id', name: 'X', role: 'admin', password: PASSWORD })).status, 403)
  assert.equal((await operator.call('POST', '/roles', { name: 'auditor', permissions: ['audit:read'] })).status, 403)
})

test('admins manage users and roles; a custom role grants exactly its permissions; every change is audited', async (t) => {
  const gw = await startAdminGateway(t)
  const admin = await login(gw.url, USERS.admin)

  const role = await admin.call('POST', '/roles', { name: 'auditor', description: 'Inspektorat', permissions: ['audit:read', 'clients:read'] })
  assert.equal(role.status, 201)
  assert.equal((await admin.call('POST', '/roles', { name: 'viewer', permissions: [] })).status, 409, 'built-in roles are fixed')
  const badPermission = await admin.call('POST', '/roles', { name: 'x-role', permissions: ['everything'] })
  assert.equal(badPermission.status, 400)

  const user = await admin.call('POST', '/users', { email: 'Inspektur@BantenProv.go.id', name: 'Bu Inspektur', role: 'auditor', password: PASSWORD })
  assert.equal(user.status, 201)
  const userBody = await user.text()
  assert.doesNotMatch(userBody, /scrypt|passwordHash/)
  assert.equal((await admin.call('POST', '/users', { email: 'inspektur@bantenprov.go.id', name: 'Lagi', role: 'viewer', password: PASSWORD })).status, 409)
  assert.equal((await admin.call('POST', '/users', { email: 'a@b.id', name: 'A', role: 'nope', password: PASSWORD })).status, 400)
  assert.equal((await admin.call('POST', '/users', { email: 'a@b.id', name: 'A', role: 'viewer', password: 'pendek' })).status, 400)

  const inspector = await login(gw.url, 'inspektur@bantenprov.go.id')
  assert.equal((await inspector.call('GET', '/audit')).status, 200)
  assert.equal((await inspector.call('GET', '/routes')).status, 403)

  // The role's new permissions apply at the inspector's next request.
  assert.equal((await admin.call('PUT', '/roles/auditor', { description: 'Inspektorat', permissions: ['routes:read'] })).status, 200)
  assert.equal((await inspector.call('GET', '/routes')).status, 200)
  assert.equal((await inspector.call('GET', '/audit')).status, 403)
  assert.equal((await admin.call('DELETE', '/roles/auditor')).status, 409, 'a role in use stays')

  // A new password ends the user's sessions.
  assert.equal((await admin.call('PATCH', '/users/inspektur@bantenprov.go.id', { role: 'viewer', password: 'kata-sandi-baru-2026' })).status, 200)
  assert.equal((await inspector.call('GET', '/session')).status, 401)
  assert.equal((await admin.call('DELETE', '/roles/auditor')).status, 204)
  assert.equal((await admin.call('DELETE', `/users/${USERS.admin}`)).status, 409, 'nobody deletes themselves')
  assert.equal((await admin.call('DELETE', '/users/inspektur@bantenprov.go.id')).status, 204)
  assert.deepEqual(((await (await admin.call('GET', '/users')).json()) as { items: Array<{ email: string }> }).items.map((u) => u.email),
    [USERS.admin, USERS.operator, USERS.viewer])

  const created = await (await admin.call('POST', '/clients', { name: 'Bappeda', integrations: '*' })).json() as { client: { id: string } }
  await admin.call('POST', `/clients/${created.client.id}/rotate`)
  await admin.call('POST', `/clients/${created.client.id}/revoke`)

  const audit = await (await admin.call('GET', '/audit?limit=200')).json() as {
    items: Array<{
      at: string
      actor: string
      action: string
      targetType: string
      targetName: string
      details?: Record<string, unknown>
    }>
  }
  const actions = audit.items.map((e) => `${e.action} ${e.targetName}`).reverse()
  assert.deepEqual(actions.filter((a) => !a.startsWith('session.login')), [
    'role.create auditor',
    'user.create Inspektur@BantenProv.go.id',
    'role.update auditor',
    'user.update Inspektur@BantenProv.go.id',
    'role.delete auditor',
    'user.delete inspektur@bantenprov.go.id',
    'client.create Bappeda',
    'client.rotate Bappeda',
    'client.revoke Bappeda'
  ])
  for (const entry of audit.items) {
    assert.match(entry.at, ISO)
    assert.ok(entry.action.startsWith('session.login') || entry.actor === USERS.admin, `${entry.action} by ${entry.actor}`)
  }
  const update = audit.items.find((e) => e.action === 'user.update')
  assert.deepEqual(update?.details, { role: 'viewer', previousRole: 'auditor', password: 'changed' })
})

test('the dashboard counts requests and errors per integration, and names the top clients', async (t) => {
  interface Dashboard {
    stepSeconds: number
    totals: { requests: number, errors: number }
    integrations: Array<{
      name: string
      totals: { requests: number, errors: number, errorRate: number }
      health: { status: string }
      points: Array<{ requests: number }>
    }>
    topClients: Array<{ id: string, name: string, requests: number }>
  }
  const gw = await startAdminGateway(t)
  const admin = await login(gw.url, USERS.admin)
  const { key } = await (await admin.call('POST', '/clients', { name: 'Dinkes Provinsi', integrations: '*' })).json() as { key: string }
  for (let i = 0; i < 5; i++) assert.equal((await fetch(`${gw.url}/yankes/dokter`, { headers: { 'x-api-key': key } })).status, 200)
  assert.equal((await fetch(`${gw.url}/satu-data/getGroup`, { headers: { 'x-api-key': key } })).status, 200)
  await gw.origin.close()
  assert.equal((await fetch(`${gw.url}/satu-data/getGroup`, { headers: { 'x-api-key': key } })).status, 502)

  // The counts reach the store with the next flush (every 100 ms here).
  const dashboard = await waitFor('the 7 requests counted on the dashboard', async () => {
    const res = await admin.call('GET', '/dashboard?range=1h')
    assert.equal(res.status, 200)
    const body = await res.json() as Dashboard
    return body.totals.requests >= 7 ? body : undefined
  })
  assert.equal(dashboard.stepSeconds, 60)
  assert.deepEqual(dashboard.totals, { requests: 7, errors: 1 })
  const yankes = dashboard.integrations.find((i) => i.name === 'yankes')
  const satuData = dashboard.integrations.find((i) => i.name === 'satu-data')
  assert.deepEqual(yankes?.totals, { requests: 5, errors: 0, errorRate: 0 })
  assert.equal(yankes?.points.length, 60)
  assert.equal(yankes?.health.status, 'ok')
  assert.deepEqual(satuData?.totals, { requests: 2, errors: 1, errorRate: 0.5 })
  assert.equal(satuData?.health.status, 'down')
  assert.deepEqual(dashboard.topClients.map(({ id, name, requests }) => ({ id, name, requests })), [{ id: dashboard.topClients[0]?.id, name: 'Dinkes Provinsi', requests: 7 }])

  const day = await (await admin.call('GET', '/dashboard?range=24h')).json() as typeof dashboard
  assert.equal(day.stepSeconds, 900)
  assert.equal(day.integrations[0]?.points.length, 96)
  assert.deepEqual(day.totals, { requests: 7, errors: 1 })
  assert.equal((await admin.call('GET', '/dashboard?range=30d')).status, 400, 'ranges are 1h, 24h and 7d')
})

test('the routes page shows the loaded routes; the admin API is documented at its own admin-only spec, not on /doc/json', async (t) => {
  const gw = await startAdminGateway(t)
  const viewer = await login(gw.url, USERS.viewer)
  const routes = await (await viewer.call('GET', '/routes')).json() as { integrations: Array<{ name: string, rateLimit: string, auth: string }>, lastReload: { ok: boolean } }
  assert.deepEqual(routes.integrations.map((i) => [i.name, i.rateLimit, i.auth]), [['yankes', '600/1m', 'apiKey'], ['satu-data', '600/1m', 'apiKey']])
  assert.equal(routes.lastReload.ok, true)

  interface Doc {
    tags: Array<{ name: string }>
    paths: Record<string, Record<string, { tags?: string[], security?: unknown[] }>>
    components: { securitySchemes: Record<string, unknown> }
    info: { description: string }
  }
  // The public page: the integrations, and nothing of the admin API (issue 18, item 5).
  const pub = await (await fetch(`${gw.url}/doc/json`)).json() as Doc
  assert.ok(pub.paths['/yankes/{path}'] !== undefined || Object.keys(pub.paths).some((p) => p.startsWith('/yankes')))
  assert.deepEqual(Object.keys(pub.paths).filter((p) => p.startsWith('/admin')), [])
  assert.equal(pub.tags.some((tag) => tag.name === 'Admin API'), false)
  assert.equal(pub.components.securitySchemes.adminSession, undefined)
  assert.doesNotMatch(JSON.stringify(pub), /x-csrf-token|\/admin\/api/)

  // GET /admin/api/openapi.json: a session with routes:read.
  assert.equal((await fetch(`${gw.url}/admin/api/openapi.json`)).status, 401)
  const res = await viewer.call('GET', '/openapi.json')
  assert.equal(res.status, 200)
  const doc = await res.json() as Doc
  await SwaggerParser.validate(structuredClone(doc) as never)
  assert.deepEqual(doc.tags.map((tag) => tag.name), ['Admin API'])
  assert.deepEqual(doc.paths['/admin/api/clients']?.post?.tags, ['Admin API'])
  assert.deepEqual(doc.paths['/admin/api/clients']?.post?.security, [{ adminSession: [] }])
  assert.deepEqual(doc.paths['/admin/api/session']?.post?.security, [])
  assert.ok(doc.paths['/admin/api/clients/{id}/revoke'] !== undefined)
  assert.ok(doc.components.securitySchemes.adminSession !== undefined)
  assert.equal(Object.keys(doc.paths).some((p) => !p.startsWith('/admin/api/')), false, 'only the admin API')
  for (const code of ['SESSION_REQUIRED', 'LOGIN_FAILED', 'CSRF_INVALID', 'PERMISSION_DENIED', 'NOT_FOUND', 'CONFLICT']) {
    assert.match(doc.info.description, new RegExp(`<code>${code}</code>`), code)
  }

  // Without routes:read: 403.
  const admin = await login(gw.url, USERS.admin)
  assert.equal((await admin.call('POST', '/roles', { name: 'pembaca-klien', permissions: ['clients:read'] })).status, 201)
  assert.equal((await admin.call('POST', '/users', { email: 'klien@bantenprov.go.id', name: 'Pembaca', role: 'pembaca-klien', password: PASSWORD })).status, 201)
  const reader = await login(gw.url, 'klien@bantenprov.go.id')
  assert.equal((await reader.call('GET', '/openapi.json')).status, 403)
})
