import { test } from 'node:test'
import assert from 'node:assert/strict'
import { login, postLogin, startAdminGateway, USERS } from '../helpers/admin.js'
import { flakyStore } from '../helpers/flaky-store.js'
import type { Problem } from '../helpers/problem.js'
import { waitFor, waitUntil } from '../helpers/time.js'
import type { Client } from '../../src/store/credentials.js'
import type { StatusClasses } from '../../src/analytics/traffic-report.js'

// The admin API behind issue 18's console: a client's page (edit, delete,
// traffic by status class, audit history), key hints, the dashboard's status
// classes, latency, breakers, 7-day range and CSV, failed sign-ins and
// lockouts in the audit log, and what the console keeps while the store is down.

// A client as the admin API lists it: the stored record, its status and the key's hint.
type ClientItem = Client & { keyHint?: string, status: string }
type Classes = StatusClasses

test('a client is edited (a 403 turns into 200), shows its key hint, its traffic by class and its history, and is deleted once revoked', async (t) => {
  const gw = await startAdminGateway(t)
  const operator = await login(gw.url, USERS.operator)
  const admin = await login(gw.url, USERS.admin)
  const created = await operator.call('POST', '/clients', { name: 'RSUD Malingping', integrations: ['yankes'], rateLimit: '3/1m' })
  assert.equal(created.status, 201)
  const { client, key } = await created.json() as { client: ClientItem, key: string }
  assert.equal(client.keyHint, key.slice(-4), 'the key hint is the key\'s last 4 characters')
  const call = async (path: string, k = key): Promise<number> => {
    const res = await fetch(`${gw.url}${path}`, { headers: { 'x-api-key': k } })
    await res.arrayBuffer()
    return res.status
  }

  assert.equal(await call('/satu-data/getGroup'), 403)
  const patched = await operator.call('PATCH', `/clients/${client.id}`, {
    integrations: ['yankes', 'satu-data'], description: 'Rawat inap', rateLimit: null, quota: '1000/1d', allowedIps: ['127.0.0.1/32']
  })
  assert.equal(patched.status, 200)
  const after = (await patched.json() as { client: ClientItem }).client
  assert.deepEqual(after.integrations, ['yankes', 'satu-data'])
  assert.equal(after.rateLimit, undefined)
  assert.equal(after.quota, '1000/1d')
  assert.deepEqual(after.allowedIps, ['127.0.0.1/32'])
  assert.equal(await call('/satu-data/getGroup'), 200, 'the new grant works at once')

  // Invalid edits, and a viewer's, are refused.
  const bad = await operator.call('PATCH', `/clients/${client.id}`, { rateLimit: 'banyak' })
  assert.equal(bad.status, 400)
  assert.equal((await bad.json() as Problem).code, 'BAD_REQUEST')
  assert.equal((await operator.call('PATCH', `/clients/${client.id}`, { integrations: ['tidak-ada'] })).status, 400)
  const viewer = await login(gw.url, USERS.viewer)
  assert.equal((await viewer.call('PATCH', `/clients/${client.id}`, { description: 'x' })).status, 403)
  assert.equal((await viewer.call('DELETE', `/clients/${client.id}`)).status, 403)

  // Traffic by status class for this client: 200s, a 403, then 429s past a limit of 2.
  await operator.call('PATCH', `/clients/${client.id}`, { rateLimit: '2/1m', integrations: ['yankes'] })
  const statuses = [await call('/satu-data/getGroup'), await call('/yankes/kamar'), await call('/yankes/kamar'), await call('/yankes/kamar')]
  assert.deepEqual(statuses, [403, 200, 200, 429])
  // Counts reach the store every 100 ms here.
  const traffic = await waitFor('the client\'s traffic counted', async () => {
    const body = await (await operator.call('GET', `/clients/${client.id}/traffic`)).json() as { requests: number, classes: Classes, latency: { p50: number | null } }
    const { ok, clientErrors, rateLimited } = body.classes
    return ok >= 3 && clientErrors >= 1 && rateLimited >= 1 ? body : undefined
  })
  // A 403 is the integration's to count (the key was refused before its client's limits); a 429 is the client's too.
  assert.equal(traffic.classes.rateLimited, 1)
  assert.equal(traffic.classes.clientErrors, 1)
  assert.ok(traffic.classes.ok >= 3, JSON.stringify(traffic))
  assert.ok(traffic.latency.p50 !== null && traffic.latency.p50 > 0)

  // Its history: created, updated (with what changed), by whom.
  const history = await (await admin.call('GET', `/clients/${client.id}/audit`)).json() as { items: Array<{ action: string, actor: string, details?: Record<string, string> }> }
  assert.deepEqual(history.items.map((e) => e.action).reverse(), ['client.create', 'client.update', 'client.update'])
  assert.equal(history.items[1]?.details?.integrations, 'yankes → yankes, satu-data')
  assert.equal((await operator.call('GET', `/clients/${client.id}/audit`)).status, 403, 'the audit needs audit:read')

  // Delete: refused while active, done once revoked, audited.
  const refused = await operator.call('DELETE', `/clients/${client.id}`)
  assert.equal(refused.status, 409)
  assert.equal((await refused.json() as Problem).code, 'CONFLICT')
  assert.equal((await operator.call('POST', `/clients/${client.id}/revoke`)).status, 200)
  assert.equal((await operator.call('PATCH', `/clients/${client.id}`, { description: 'x' })).status, 400, 'a revoked client cannot be edited')
  assert.equal((await operator.call('DELETE', `/clients/${client.id}`)).status, 204)
  assert.equal((await operator.call('GET', `/clients/${client.id}`)).status, 404)
  assert.equal((await operator.call('DELETE', `/clients/${client.id}`)).status, 404)
  const audit = await (await admin.call('GET', '/audit?limit=5')).json() as { items: Array<{ action: string, targetName: string }> }
  assert.equal(audit.items[0]?.action, 'client.delete')
  assert.equal(audit.items[0]?.targetName, 'RSUD Malingping')
})

test('rotate with a 1 h grace: both keys work, the old one with an expiry an hour away; the hint follows the new key', async (t) => {
  const gw = await startAdminGateway(t)
  const operator = await login(gw.url, USERS.operator)
  const { client, key } = await (await operator.call('POST', '/clients', { name: 'Dinkes Serang', integrations: '*' })).json() as { client: ClientItem, key: string }
  const rotated = await operator.call('POST', `/clients/${client.id}/rotate`, { grace: '1h' })
  assert.equal(rotated.status, 200)
  const next = await rotated.json() as { client: ClientItem, key: string }
  assert.equal(next.client.keyHint, next.key.slice(-4))
  for (const k of [key, next.key]) assert.equal((await fetch(`${gw.url}/yankes/kamar`, { headers: { 'x-api-key': k } })).status, 200)
})

test('the dashboard counts 401, 403 and 429 apart from 5xx, with latency, breaker state, a 7-day range and a CSV export', async (t) => {
  const gw = await startAdminGateway(t)
  const operator = await login(gw.url, USERS.operator)
  const { client, key } = await (await operator.call('POST', '/clients', { name: 'Puskesmas Ciruas', integrations: ['yankes'], rateLimit: '2/1m' })).json() as { client: ClientItem, key: string }
  const call = async (path: string, k: string): Promise<number> => {
    const res = await fetch(`${gw.url}${path}`, { headers: { 'x-api-key': k } })
    await res.arrayBuffer()
    return res.status
  }
  const statuses = [
    await call('/yankes/kamar', 'gb_salah'), await call('/yankes/kamar', 'gb_salah'),
    await call('/satu-data/getGroup', key),
    await call('/yankes/kamar', key), await call('/yankes/kamar', key), await call('/yankes/kamar', key)
  ]
  assert.deepEqual(statuses, [401, 401, 403, 200, 200, 429])
  // Counts reach the store every 100 ms here.
  await waitUntil('the 6 requests counted on the dashboard', async () => {
    const { classes } = await (await operator.call('GET', '/dashboard?range=1h')).json() as { classes: Classes }
    return classes.ok >= 2 && classes.clientErrors >= 4
  })
  for (const range of ['1h', '24h', '7d']) {
    const res = await operator.call('GET', `/dashboard?range=${range}`)
    assert.equal(res.status, 200, range)
    const data = await res.json() as {
      classes: Classes
      integrations: Array<{
        name: string
        classes: Classes
        latency: { p50: number | null, p95: number | null }
        breaker: string
        points: Array<{ rejected: number }>
      }>
      topClients: Array<{ id: string, classes: Classes }>
    }
    const yankes = data.integrations.find((i) => i.name === 'yankes')
    assert.deepEqual(yankes?.classes,
      { ok: 2, clientErrors: 3, serverErrors: 0, unauthorized: 2, forbidden: 0, rateLimited: 1 }, range)
    assert.equal(data.integrations.find((i) => i.name === 'satu-data')?.classes.forbidden, 1)
    assert.deepEqual(data.classes,
      { ok: 2, clientErrors: 4, serverErrors: 0, unauthorized: 2, forbidden: 1, rateLimited: 1 })
    assert.ok(yankes.latency.p50 !== null && yankes.latency.p95 !== null && yankes.latency.p50 <= yankes.latency.p95)
    assert.ok(['closed', 'off'].includes(yankes.breaker), yankes.breaker)
    assert.equal(yankes.points.length, range === '1h' ? 60 : range === '24h' ? 96 : 168)
    assert.ok(yankes.points.some((p) => p.rejected > 0))
    assert.deepEqual(data.topClients.map((c) => [c.id, c.classes.ok, c.classes.rateLimited]), [[client.id, 2, 1]])
  }
  const csv = await operator.call('GET', '/dashboard.csv?range=1h')
  assert.equal(csv.status, 200)
  assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/)
  assert.match(csv.headers.get('content-disposition') ?? '', /attachment; filename="gerbang-traffic-1h-/)
  const lines = (await csv.text()).trim().split('\r\n')
  assert.match(lines[0] ?? '', /^kind,name,time,requests_per_min,.*unauthorized_401,forbidden_403,rate_limited_429,server_errors_5xx,p50_ms,p95_ms$/)
  assert.ok(lines.some((l) => /^integration,yankes,,,,,5,2,3,2,0,1,0,/.test(l)), lines.slice(0, 3).join('\n'))
  assert.ok(lines.some((l) => l.startsWith('client,Puskesmas Ciruas,')))
  assert.equal(lines.filter((l) => l.startsWith('point,yankes,')).length, 60)
})

test('failed sign-ins and the lockout are in the audit log with the source address, the lockout once', async (t) => {
  const gw = await startAdminGateway(t)
  for (let i = 0; i < 5; i++) assert.equal((await postLogin(gw.url, USERS.viewer, 'salah-sekali-123')).status, 401)
  for (let i = 0; i < 3; i++) {
    const locked = await postLogin(gw.url, USERS.viewer, 'salah-sekali-123')
    assert.equal(locked.status, 429)
    const problem = await locked.json() as Problem & { retryAfter: number }
    assert.equal(problem.code, 'RATE_LIMITED')
    assert.ok(problem.retryAfter > 800)
  }
  const admin = await login(gw.url, USERS.admin)
  const { items } = await (await admin.call('GET', '/audit?limit=20')).json() as { items: Array<{ action: string, actor: string, details?: Record<string, unknown> }> }
  const failed = items.filter((e) => e.action === 'session.loginFailed')
  assert.equal(failed.length, 5)
  assert.equal(failed[0]?.actor, USERS.viewer)
  assert.equal(failed[0]?.details?.address, '127.0.0.1')
  const lockouts = items.filter((e) => e.action === 'session.lockout')
  assert.equal(lockouts.length, 1)
  assert.equal(lockouts[0]?.details?.address, '127.0.0.1')
  assert.ok(Number(lockouts[0]?.details?.seconds) > 800)
})

test('while the store is down a signed-in admin keeps the session: status says down, the routes still answer, writes get STORE_UNAVAILABLE', async (t) => {
  const store = flakyStore()
  const gw = await startAdminGateway(t, { store })
  const admin = await login(gw.url, USERS.admin)
  assert.deepEqual(await (await admin.call('GET', '/status')).json(), { store: 'up', kind: 'memory' })
  store.down = true
  const status = await admin.call('GET', '/status')
  assert.equal(status.status, 200)
  assert.deepEqual(await status.json(), { store: 'down', kind: 'memory' })
  assert.equal((await admin.call('GET', '/session')).status, 200)
  assert.equal((await admin.call('GET', '/routes')).status, 200, 'the routes need no store')
  const write = await admin.call('POST', '/clients', { name: 'X', integrations: '*' })
  assert.equal(write.status, 503)
  assert.equal((await write.json() as Problem).code, 'STORE_UNAVAILABLE')
  // A session nobody saw before the outage is not let in.
  assert.equal((await fetch(`${gw.url}/admin/api/session`, { headers: { cookie: `gerbang_session=${'A'.repeat(43)}`, 'x-csrf-token': 'x' } })).status, 503)
  store.down = false
  assert.equal((await admin.call('POST', '/clients', { name: 'X', integrations: '*' })).status, 201)
})
