import { test } from 'node:test'
import assert from 'node:assert/strict'
import { login, PASSWORD, postLogin, startAdminGateway, USERS } from '../helpers/admin.js'
import type { Problem } from '../helpers/problem.js'
import { RedisStore } from '../../src/store/redis-store.js'

test('a change without the session\'s CSRF token is refused and changes nothing', async (t) => {
  const gw = await startAdminGateway(t)
  const admin = await login(gw.url, USERS.admin)
  const post = async (headers: Record<string, string>): Promise<Response> => await fetch(`${gw.url}/admin/api/clients`, {
    method: 'POST', headers: { cookie: admin.cookie, 'content-type': 'application/json', ...headers }, body: JSON.stringify({ name: 'Palsu', integrations: '*' })
  })

  const missing = await post({})
  assert.equal(missing.status, 403)
  assert.equal((await missing.json() as Problem).code, 'CSRF_INVALID')
  const wrong = await post({ 'x-csrf-token': admin.csrf.slice(0, -2) + 'AA' })
  assert.equal(wrong.status, 403)
  const otherSession = await login(gw.url, USERS.operator)
  assert.equal((await post({ 'x-csrf-token': otherSession.csrf })).status, 403, 'another session\'s token does not fit')
  const crossSite = await post({ 'x-csrf-token': admin.csrf, origin: 'https://evil.example' })
  assert.equal(crossSite.status, 403)
  assert.match((await crossSite.json() as Problem).detail, /other sites/)
  // A cross-site HTML form can only send form encodings: refused before anything else.
  const form = await fetch(`${gw.url}/admin/api/clients`, {
    method: 'POST', headers: { cookie: admin.cookie, 'content-type': 'application/x-www-form-urlencoded', 'x-csrf-token': admin.csrf }, body: 'name=Palsu&integrations=*'
  })
  assert.equal(form.status, 415)
  const logout = await fetch(`${gw.url}/admin/api/session`, { method: 'DELETE', headers: { cookie: admin.cookie } })
  assert.equal(logout.status, 403, 'logout needs the token too')

  assert.equal((await (await admin.call('GET', '/clients')).json() as { total: number }).total, 0)
  assert.equal((await post({ 'x-csrf-token': admin.csrf })).status, 201, 'with the token it works')
})

test('the session cookie is httpOnly, SameSite=Strict, scoped to /admin, Secure behind HTTPS, and ends at logout', async (t) => {
  // The test client stands in for a TLS-terminating load balancer on 127.0.0.1.
  const gw = await startAdminGateway(t, { trustProxy: '127.0.0.1/32' })
  const res = await postLogin(gw.url, USERS.admin)
  assert.equal(res.status, 200)
  const cookie = res.headers.get('set-cookie') ?? ''
  const [pair = '', ...attributes] = cookie.split(';').map((s) => s.trim())
  assert.match(pair, /^gerbang_session=[A-Za-z0-9_-]{43}$/)
  assert.deepEqual(attributes.filter((a) => !a.startsWith('Max-Age')).sort(), ['HttpOnly', 'Path=/admin', 'SameSite=Strict'])
  assert.ok(attributes.includes('Max-Age=7200'))
  assert.equal(res.headers.get('cache-control'), 'no-store')

  const https = await postLogin(gw.url, USERS.viewer, PASSWORD, { 'x-forwarded-proto': 'https' })
  assert.match(https.headers.get('set-cookie') ?? '', /; Secure$/)
  // Anyone else's word for it changes nothing.
  const untrusted = await startAdminGateway(t)
  const spoofed = await postLogin(untrusted.url, USERS.viewer, PASSWORD, { 'x-forwarded-proto': 'https' })
  assert.equal(spoofed.status, 200)
  assert.doesNotMatch(spoofed.headers.get('set-cookie') ?? '', /Secure/)

  const anonymous = await fetch(`${gw.url}/admin/api/clients`)
  assert.equal(anonymous.status, 401)
  assert.match(anonymous.headers.get('content-type') ?? '', /^application\/problem\+json/)
  assert.equal((await anonymous.json() as Problem).code, 'SESSION_REQUIRED')
  const forged = await fetch(`${gw.url}/admin/api/session`, { headers: { cookie: `gerbang_session=${'A'.repeat(43)}` } })
  assert.equal(forged.status, 401)

  const admin = await login(gw.url, USERS.admin)
  assert.equal((await admin.call('GET', '/session')).status, 200)
  const out = await admin.call('DELETE', '/session')
  assert.equal(out.status, 204)
  assert.match(out.headers.get('set-cookie') ?? '', /^gerbang_session=; .*Max-Age=0/)
  assert.equal((await admin.call('GET', '/session')).status, 401, 'the old cookie is dead')

  const page = await fetch(`${gw.url}/admin/clients`)
  assert.equal(page.status, 200)
  assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'; script-src 'self'/)
  assert.equal(page.headers.get('x-frame-options'), 'DENY')
})

test('10 wrong passwords → 429 with Retry-After, even for the right password; other accounts are unaffected', async (t) => {
  const gw = await startAdminGateway(t)
  const statuses: number[] = []
  let last: Response | undefined
  for (let i = 0; i < 10; i++) {
    last = await postLogin(gw.url, USERS.operator, `salah-sekali-${i}`)
    statuses.push(last.status)
  }
  assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429, 429, 429, 429])
  assert.ok(last !== undefined)
  const problem = await last.json() as Problem
  assert.equal(problem.code, 'RATE_LIMITED')
  const retryAfter = Number(last.headers.get('retry-after'))
  assert.ok(retryAfter > 800 && retryAfter <= 900, `Retry-After ${retryAfter}`)
  const right = await postLogin(gw.url, USERS.operator)
  assert.equal(right.status, 429, 'the locked account stays locked for the window')
  const failed = await postLogin(gw.url, 'nobody@bantenprov.go.id', 'x')
  assert.equal(failed.status, 401)
  assert.equal((await failed.json() as Problem).code, 'LOGIN_FAILED')
  assert.equal((await login(gw.url, USERS.viewer)).cookie.startsWith('gerbang_session='), true)
})

test('stored passwords are scrypt hashes, and no page or API answer ever contains a stored key or key hash', async (t) => {
  const gw = await startAdminGateway(t, {}, { realHashes: true })
  const admin = await login(gw.url, USERS.admin)
  const user = await gw.store.getUser(USERS.admin)
  assert.ok(user !== undefined)
  assert.match(user.passwordHash, /^scrypt\$131072\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/)
  assert.ok(!user.passwordHash.includes(PASSWORD))

  const created = await (await admin.call('POST', '/clients', { name: 'Diskominfo', description: 'Portal', integrations: '*' })).json() as { client: { id: string }, key: string }
  const keys = [created.key]
  const rotated = await (await admin.call('POST', `/clients/${created.client.id}/rotate`)).json() as { key: string }
  keys.push(rotated.key)
  assert.equal((await fetch(`${gw.url}/yankes/x`, { headers: { 'x-api-key': rotated.key } })).status, 200)

  // Every key hash the store holds.
  const redis = (gw.store as RedisStore).redis
  const hashes = (await redis.keys('*{c}:key:*')).map((k) => k.slice(k.lastIndexOf(':') + 1))
  assert.ok(hashes.length > 0)
  const secrets = [...keys, ...hashes, user.passwordHash.split('$').at(-1) as string]

  const answers: string[] = []
  for (const path of ['/clients', `/clients/${created.client.id}`, '/clients?search=disk', '/users', '/roles', '/routes', '/audit?limit=200', '/dashboard?range=1h', '/dashboard?range=24h', '/session', '/integrations', '/openapi.json']) {
    const res = await admin.call('GET', path)
    assert.equal(res.status, 200, path)
    answers.push(await res.text())
  }
  for (const page of ['/admin', '/admin/clients', '/admin/users', '/admin/audit', '/doc/json']) {
    answers.push(await (await fetch(`${gw.url}${page}`, { headers: { cookie: admin.cookie } })).text())
  }
  for (const body of answers) {
    for (const secret of secrets) assert.ok(!body.includes(secret), `an answer holds a secret: ${body.slice(0, 200)}`)
    assert.doesNotMatch(body, /passwordHash|scrypt\$/)
  }
})
