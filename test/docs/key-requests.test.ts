import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect, type AddressInfo } from 'node:net'
import type { Redis } from 'ioredis'
import { buildApp } from '../../src/app.js'
import { LINK_FAILURES_PER_MINUTE, MAX_PENDING, REQUESTS_PER_ADDRESS } from '../../src/auth/key-requests.js'
import { allKeyRequestTexts } from '../../src/docs/key-request-texts.js'
import { OWN_BODY_TIMEOUT_MS } from '../../src/http/body-deadline.js'
import { MemoryStore } from '../../src/store/memory-store.js'
import type { RedisStore } from '../../src/store/redis-store.js'
import type { AuditEntry } from '../../src/store/types.js'
import { login, startAdminGateway, USERS, type AdminGateway } from '../helpers/admin.js'
import { routesFrom } from '../helpers/gateway.js'
import type { Problem } from '../helpers/problem.js'

// Self-service key requests (issue 18, item 6) through the HTTP API: a
// request from /doc, the operators' queue, approval with limits, the
// one-time link that shows a working key once; declines, new links,
// expiry and withdrawal; validation, throttles and the queue's cap; and no
// key or link token in the store. The browser walk is key-requests-browser.test.ts.

const KEY_RE = /^gb_[A-Za-z0-9_-]{43}$/
const REQUEST = {
  agency: 'Dinas Kesehatan Kota Serang',
  app: 'SIMRS Rujukan',
  email: 'it@dinkes.serangkota.go.id',
  integrations: ['yankes'],
  purpose: 'Melihat ketersediaan kamar untuk rujukan antar rumah sakit.'
}

interface RequestView {
  id: string
  status: string
  address: string
  clientId?: string
  linkHash?: string
  issuedTo?: string
  reason?: string
  linkExpiresAt?: string
}
interface Link { url: string, expiresAt: string }

async function post (
  base: string, path: string, body: unknown, headers: Record<string, string> = {}
): Promise<Response> {
  return await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
}

async function submit (gw: AdminGateway, body: Record<string, unknown> = REQUEST): Promise<string> {
  const res = await post(gw.url, '/doc/api/key-requests', body)
  assert.equal(res.status, 201, await res.clone().text())
  return (await res.json() as { id: string }).id
}

const tokenOf = (link: Link): string => link.url.slice(link.url.indexOf('#') + 1)

async function auditActions (gw: AdminGateway): Promise<AuditEntry[]> {
  return (await gw.store.listAudit(0, 100)).filter((e) => e.targetType === 'keyRequest' || e.targetType === 'client').reverse()
}

/** Every key and value in the test's Redis, as one string. */
async function redisDump (store: RedisStore): Promise<string> {
  const redis = store.redis as Redis
  const keys = await redis.keys('*')
  const parts: string[] = [...keys]
  for (const key of keys) {
    const type = await redis.type(key)
    if (type === 'string') parts.push(await redis.get(key) ?? '')
    else if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)))
    else if (type === 'list') parts.push(...await redis.lrange(key, 0, -1))
    else if (type === 'zset') parts.push(...await redis.zrange(key, 0, -1))
    else if (type === 'set') parts.push(...await redis.smembers(key))
  }
  return parts.join('\n')
}

test('a request from /doc is approved with limits, and its one-time link shows a working key once; every step audited', async (t) => {
  const gw = await startAdminGateway(t)
  const integrations = await (await fetch(`${gw.url}/doc/api/key-requests/integrations`)).json() as { items: Array<{ name: string }> }
  assert.deepEqual(integrations.items.map((i) => i.name), ['yankes', 'satu-data'])
  const sent = await post(gw.url, '/doc/api/key-requests', REQUEST)
  assert.equal(sent.status, 201)
  assert.equal(sent.headers.get('cache-control'), 'no-store')
  const { id, status } = await sent.json() as { id: string, status: string }
  assert.equal(status, 'pending')

  const viewer = await login(gw.url, USERS.viewer)
  const operator = await login(gw.url, USERS.operator)
  const listed = await (await viewer.call('GET', '/key-requests')).json() as { items: RequestView[], counts: Record<string, number> }
  assert.equal(listed.items.length, 1)
  assert.equal(listed.items[0]?.status, 'pending')
  assert.equal(listed.items[0]?.address, '127.0.0.1')
  assert.equal(listed.counts.pending, 1)

  const grant = { name: 'Dinkes Kota Serang — SIMRS Rujukan', integrations: ['yankes'], rateLimit: '2/1m', description: REQUEST.purpose }
  assert.equal((await viewer.call('POST', `/key-requests/${id}/approve`, grant)).status, 403, 'viewers only read')
  const noCsrf = await fetch(`${gw.url}/admin/api/key-requests/${id}/approve`, {
    method: 'POST', headers: { cookie: operator.cookie, 'content-type': 'application/json' }, body: JSON.stringify(grant)
  })
  assert.equal((await noCsrf.json() as Problem).code, 'CSRF_INVALID')
  assert.equal((await operator.call('POST', `/key-requests/${id}/approve`, { ...grant, integrations: ['tidak-ada'] })).status, 400)
  const approved = await operator.call('POST', `/key-requests/${id}/approve`, grant)
  assert.equal(approved.status, 200, await approved.clone().text())
  const { request, client, link } = await approved.json() as {
    request: RequestView, client: { id: string, keyHint?: string, rateLimit?: string }, link: Link
  }
  assert.equal(request.status, 'approved')
  assert.equal(request.linkHash, undefined, 'the link\'s hash is never shown')
  assert.equal(request.clientId, client.id)
  assert.equal(client.rateLimit, '2/1m')
  assert.equal(client.keyHint, undefined, 'nobody holds a key yet: no hint')
  assert.match(link.url, /^\/doc\/key#gbl_[A-Za-z0-9_-]{43}$/)
  assert.ok(Math.abs(Date.parse(link.expiresAt) - Date.now() - 24 * 3600_000) < 60_000, 'valid 24 h')
  assert.equal((await operator.call('POST', `/key-requests/${id}/approve`, grant)).status, 409, 'decided once')
  const token = tokenOf(link)

  // Checking does not spend the link; opening does, once.
  for (let i = 0; i < 2; i++) {
    const checked = await post(gw.url, '/doc/api/key-links/check', { token })
    assert.equal(checked.status, 200)
    assert.deepEqual(Object.keys(await checked.json() as object).sort(), ['agency', 'app', 'linkExpiresAt'])
  }
  const opened = await post(gw.url, '/doc/api/key-links/open', { token })
  assert.equal(opened.status, 200)
  assert.equal(opened.headers.get('cache-control'), 'no-store')
  const shown = await opened.json() as {
    clientId: string, client: string, key: string, integrations: string[], rateLimit: string
  }
  assert.match(shown.key, KEY_RE)
  assert.equal(shown.clientId, client.id)
  assert.deepEqual(shown.integrations, ['yankes'])
  assert.equal(shown.rateLimit, '2/1m')
  for (const path of ['/doc/api/key-links/open', '/doc/api/key-links/check']) {
    const again = await post(gw.url, path, { token })
    assert.equal(again.status, 410)
    const problem = await again.json() as Problem & { reason: string }
    assert.equal(problem.code, 'KEY_LINK_GONE')
    assert.equal(problem.reason, 'used')
  }

  // The key works, within what was granted.
  const call = async (path: string): Promise<number> => {
    const res = await fetch(`${gw.url}${path}`, { headers: { 'x-api-key': shown.key } })
    await res.arrayBuffer()
    return res.status
  }
  assert.equal(await call('/yankes/kamar'), 200)
  assert.equal(await call('/satu-data/getGroup'), 403)
  assert.equal(await call('/yankes/kamar'), 200)
  assert.equal(await call('/yankes/kamar'), 429, 'its rate limit')

  const after = await (await operator.call('GET', `/key-requests/${id}`)).json() as RequestView
  assert.equal(after.status, 'issued')
  assert.equal(after.issuedTo, '127.0.0.1')
  const listedClient = await (await operator.call('GET', `/clients/${client.id}`)).json() as { keyHint: string }
  assert.equal(listedClient.keyHint, shown.key.slice(-4))

  const trail = (await auditActions(gw)).map((e) => `${e.action} ${e.actor} ${String(e.details?.address ?? '')}`.trim())
  assert.deepEqual(trail, [
    'keyRequest.create portal 127.0.0.1',
    `client.create ${USERS.operator}`,
    `keyRequest.approve ${USERS.operator} 127.0.0.1`,
    'client.rotate portal',
    'keyRequest.issue portal 127.0.0.1'
  ])

  // Neither the key nor the link's token is anywhere in the store.
  const dump = await redisDump(gw.store as RedisStore)
  assert.ok(dump.includes(id), 'the dump reads the requests')
  assert.equal(dump.includes(shown.key), false, 'no key in clear')
  assert.equal(dump.includes(token), false, 'no link token in clear')
  assert.equal(dump.includes(token.slice(4)), false)
})

test('declined with a reason; a new link replaces the old; an expired link says so and is audited; a revoked client withdraws its link', async (t) => {
  const gw = await startAdminGateway(t)
  const operator = await login(gw.url, USERS.operator)
  const first = await submit(gw)
  const second = await submit(gw, { ...REQUEST, app: 'SIMRS Kedua' })

  assert.equal((await operator.call('POST', `/key-requests/${first}/decline`, { reason: '' })).status, 400, 'a reason is required')
  const declined = await operator.call('POST', `/key-requests/${first}/decline`, { reason: 'Gunakan akun instansi induk' })
  assert.equal(declined.status, 200)
  assert.equal((await declined.json() as { request: RequestView }).request.reason, 'Gunakan akun instansi induk')
  assert.equal((await operator.call('POST', `/key-requests/${first}/decline`, { reason: 'lagi' })).status, 409)
  assert.equal((await operator.call('POST', `/key-requests/${first}/approve`, { name: 'x', integrations: ['yankes'] })).status, 409)
  assert.equal((await operator.call('POST', `/key-requests/${first}/link`)).status, 409, 'no link for a declined request')
  assert.equal((await operator.call('POST', '/key-requests/tidak-ada/decline', { reason: 'tidak ada' })).status, 404)

  // A taken client name leaves the request pending.
  await gw.app.clients.create({ name: 'Sudah Ada', integrations: [] })
  const taken = await operator.call('POST', `/key-requests/${second}/approve`, { name: 'sudah ada', integrations: ['yankes'] })
  assert.equal(taken.status, 409)
  assert.equal((await gw.store.getKeyRequest(second))?.status, 'pending')

  const approved = await (await operator.call('POST', `/key-requests/${second}/approve`, { name: 'SIMRS Kedua', integrations: '*' })).json() as { link: Link }
  const relinked = await operator.call('POST', `/key-requests/${second}/link`)
  assert.equal(relinked.status, 200)
  const { link } = await relinked.json() as { link: Link }
  const gone = async (token: string): Promise<string> => {
    const res = await post(gw.url, '/doc/api/key-links/check', { token })
    assert.equal(res.status, 410)
    return (await res.json() as { reason: string }).reason
  }
  assert.equal(await gone(tokenOf(approved.link)), 'unknown', 'the old link stopped working')
  assert.equal((await post(gw.url, '/doc/api/key-links/check', { token: tokenOf(link) })).status, 200)

  // 24 hours later (the store's clock moved by hand): expired, said so, audited once by the system.
  await gw.store.updateKeyRequest(second, 'approved', { linkExpiresAt: new Date(Date.now() - 1000).toISOString() })
  assert.equal(await gone(tokenOf(link)), 'expired')
  assert.equal(await gone(tokenOf(link)), 'expired')
  const listed = await (await operator.call('GET', '/key-requests?status=expired')).json() as { items: RequestView[], counts: Record<string, number> }
  assert.deepEqual(listed.items.map((r) => r.id), [second])
  assert.deepEqual(listed.counts, { pending: 0, approved: 0, declined: 1, issued: 0, expired: 1 })
  const expiries = (await auditActions(gw)).filter((e) => e.action === 'keyRequest.expire')
  assert.deepEqual(expiries.map((e) => e.actor), ['system'])

  // An expired request gets a new link that works.
  const fresh = await (await operator.call('POST', `/key-requests/${second}/link`)).json() as { link: Link, request: RequestView }
  assert.equal(fresh.request.status, 'approved')
  const clientId = fresh.request.clientId ?? ''
  // The operators revoke the client before the requester opens it: the link is withdrawn.
  await operator.call('POST', `/clients/${clientId}/revoke`)
  assert.equal(await gone(tokenOf(fresh.link)), 'withdrawn', 'the page says so before its button')
  const withdrawn = await post(gw.url, '/doc/api/key-links/open', { token: tokenOf(fresh.link) })
  assert.equal(withdrawn.status, 410)
  assert.equal((await withdrawn.json() as { reason: string }).reason, 'withdrawn')
  assert.equal((await gw.store.getKeyRequest(second))?.status, 'approved', 'nothing spent')
  assert.equal((await operator.call('POST', `/key-requests/${second}/link`)).status, 409, 'no new link for a revoked client')

  const actions = (await auditActions(gw)).filter((e) => e.targetType === 'keyRequest').map((e) => e.action)
  assert.deepEqual(actions, ['keyRequest.create', 'keyRequest.create', 'keyRequest.decline', 'keyRequest.approve',
    'keyRequest.relink', 'keyRequest.expire', 'keyRequest.relink'])
  const decline = (await auditActions(gw)).find((e) => e.action === 'keyRequest.decline')
  assert.equal(decline?.details?.reason, 'Gunakan akun instansi induk')
})

test('the request is validated, throttled per address, capped in number, and unknown links are throttled too', async (t) => {
  const routes = routesFrom([
    'integrations:',
    '  yankes:',
    '    upstream: http://127.0.0.1:9',
    '  cuaca:',
    '    upstream: http://127.0.0.1:9',
    '    auth: none',
    ''
  ].join('\n'))
  const store = new MemoryStore()
  const app = await buildApp({ routes, store, trustProxy: '127.0.0.1/32' })
  t.after(async () => { await app.close() })
  const send = async (body: unknown, from = '203.0.113.1', type = 'application/json'): Promise<{ status: number, body: Problem & { id?: string, reason?: string } }> => {
    const res = await app.inject({ method: 'POST', url: '/doc/api/key-requests', headers: { 'content-type': type, 'x-forwarded-for': from }, payload: typeof body === 'string' ? body : JSON.stringify(body) })
    return { status: res.statusCode, body: res.json() }
  }

  assert.deepEqual((await app.inject('/doc/api/key-requests/integrations')).json().items.map((i: { name: string }) => i.name), ['yankes'], 'only what needs a key')
  const refusals: Array<[string, unknown, number, string]> = [
    ['an open integration', { ...REQUEST, integrations: ['cuaca'] }, 400, 'BAD_REQUEST'],
    ['an unknown integration', { ...REQUEST, integrations: ['tidak-ada'] }, 400, 'BAD_REQUEST'],
    ['no integration', { ...REQUEST, integrations: [] }, 400, 'BAD_REQUEST'],
    ['a bad email', { ...REQUEST, email: 'bukan email' }, 400, 'BAD_REQUEST'],
    ['a short purpose', { ...REQUEST, purpose: 'data' }, 400, 'BAD_REQUEST'],
    ['a control character', { ...REQUEST, agency: 'Dinkes\r\nBcc: x@y.id' }, 400, 'BAD_REQUEST'],
    ['a missing field', { ...REQUEST, email: undefined }, 400, 'BAD_REQUEST'],
    ['a long agency', { ...REQUEST, agency: 'x'.repeat(101) }, 400, 'BAD_REQUEST']
  ]
  for (const [what, body, status, code] of refusals) {
    const answer = await send(body)
    assert.equal(answer.status, status, what)
    assert.equal(answer.body.code, code, what)
  }
  assert.equal((await send('agency=x', '203.0.113.1', 'application/x-www-form-urlencoded')).status, 415, 'a form from another site')
  assert.equal((await send(JSON.stringify(REQUEST), '203.0.113.1', 'text/plain')).status, 415)
  assert.equal((await send({ ...REQUEST, purpose: 'x'.repeat(20_000) })).status, 413)
  assert.deepEqual(await store.listKeyRequests(), [], 'refusals store nothing')

  // Per address: REQUESTS_PER_ADDRESS an hour. A field of the server's own is dropped, not taken.
  const sneaky = await send({ ...REQUEST, status: 'approved', address: '10.0.0.1' })
  assert.equal(sneaky.status, 201)
  assert.deepEqual([(await store.getKeyRequest(sneaky.body.id ?? ''))?.status, (await store.getKeyRequest(sneaky.body.id ?? ''))?.address], ['pending', '203.0.113.1'])
  for (let i = 1; i < REQUESTS_PER_ADDRESS; i++) assert.equal((await send(REQUEST)).status, 201)
  const throttled = await send(REQUEST)
  assert.equal(throttled.status, 429)
  assert.deepEqual(throttled.body.violatedPolicies, ['key-requests'])
  assert.equal((await send(REQUEST, '203.0.113.2')).status, 201, 'another address is not held back')

  // The queue: at most MAX_PENDING waiting, whoever sends them.
  let pending = REQUESTS_PER_ADDRESS + 1
  for (let n = 0; pending < MAX_PENDING; n++) {
    for (let i = 0; i < REQUESTS_PER_ADDRESS && pending < MAX_PENDING; i++) {
      assert.equal((await send(REQUEST, `198.51.100.${n}`)).status, 201)
      pending++
    }
  }
  const full = await send(REQUEST, '192.0.2.200')
  assert.equal(full.status, 429)
  assert.deepEqual(full.body.violatedPolicies, ['key-request-queue'])
  assert.equal((await store.countKeyRequests()).pending, MAX_PENDING)

  // Unknown links: a 410 each, then 429 for that address.
  const link = async (token: string, from: string): Promise<number> =>
    (await app.inject({ method: 'POST', url: '/doc/api/key-links/check', headers: { 'x-forwarded-for': from }, payload: { token } })).statusCode
  for (let i = 0; i < LINK_FAILURES_PER_MINUTE; i++) assert.equal(await link(i % 2 === 0 ? 'gbl_tebakan' : `gbl_${'A'.repeat(43)}`, '192.0.2.9'), 410)
  assert.equal(await link('gbl_tebakan', '192.0.2.9'), 429)
  assert.equal(await link('gbl_tebakan', '192.0.2.10'), 410)
})

test('the portal\'s key pages: their own strict CSP, no inline script, texts in both languages', async (t) => {
  const app = await buildApp({ routes: routesFrom('integrations:\n  yankes:\n    upstream: http://127.0.0.1:9\n') })
  t.after(async () => { await app.close() })
  for (const path of ['/doc/request-key', '/doc/key']) {
    const page = await app.inject(path)
    assert.equal(page.statusCode, 200, path)
    assert.match(page.body, /<html lang="id">/)
    const csp = page.headers['content-security-policy'] as string
    assert.match(csp, /default-src 'none'; script-src 'self';/)
    assert.match(csp, /connect-src 'self';/)
    assert.match(csp, /frame-ancestors 'none'/)
    assert.doesNotMatch(csp, /unsafe|https?:/)
    assert.equal(page.headers['referrer-policy'], 'no-referrer')
    assert.equal(page.headers['cache-control'], 'no-store')
    for (const [, attrs, body] of page.body.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)) {
      assert.match(attrs ?? '', /src="\/doc\/assets\/key-request\.js"/)
      assert.equal((body ?? '').trim(), '')
    }
  }
  const script = await app.inject('/doc/assets/key-request.js')
  assert.equal(script.statusCode, 200)
  assert.match(script.headers['content-type'] as string, /^text\/javascript/)
  const texts = JSON.parse(/^const GERBANG_TEXT = (.*);$/m.exec(script.body)?.[1] ?? '{}') as Record<'id' | 'en', Record<string, string>>
  assert.deepEqual(Object.keys(texts.en), Object.keys(texts.id))
  assert.equal(texts.id['site.request'], 'Minta kunci')
  assert.equal((await app.inject({ url: '/doc/assets/key-request.js', headers: { 'if-none-match': script.headers.etag as string } })).statusCode, 304)
  assert.equal((await app.inject('/doc/assets/key-request.css')).statusCode, 200)
  assert.equal((await app.inject('/doc/assets/constructor')).statusCode, 404)
  const placeholders = (text: string): string[] => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? '').sort()
  for (const [key, id, en] of allKeyRequestTexts()) {
    assert.ok(id.trim() !== '' && en.trim() !== '', key)
    assert.deepEqual(placeholders(id), placeholders(en), key)
  }
  // The public document does not list these routes.
  const doc = (await app.inject('/doc/json')).json() as { paths: Record<string, unknown> }
  assert.equal(Object.keys(doc.paths).some((p) => p.startsWith('/doc')), false)
})

test('a request body that stalls is cut off after 10 s, as on Gerbang\'s other own endpoints', { timeout: 20_000 }, async (t) => {
  const app = await buildApp({ routes: routesFrom('integrations:\n  yankes:\n    upstream: http://127.0.0.1:9\n') })
  t.after(async () => { await app.close() })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const socket = connect(port, '127.0.0.1')
  t.after(() => { socket.destroy() })
  await once(socket, 'connect')
  const started = Date.now()
  socket.write('POST /doc/api/key-requests HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"agency":')
  socket.resume()
  await once(socket, 'close')
  const took = Date.now() - started
  assert.ok(took >= OWN_BODY_TIMEOUT_MS - 100 && took < OWN_BODY_TIMEOUT_MS + 3000, `closed after ${took} ms`)
})
