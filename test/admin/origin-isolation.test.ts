import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { get, type IncomingHttpHeaders } from 'node:http'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BrowserContext, type Page } from 'playwright-core'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { startGatewayProcess, type GatewayProcess } from '../helpers/process.js'
import type { Problem } from '../helpers/problem.js'
import { readEnv } from '../../src/config/env.js'
import { launchChromium } from '../helpers/chromium.js'

// Issue 20, finding 2: a reflected XSS in any proxied page (an `auth: none`
// integration) runs on the gateway's origin. When the admin UI shares that
// origin, the page could read the signed-in admin's CSRF token from
// GET /admin/api/session and create an admin user. With GERBANG_ADMIN_PORT
// the admin UI has an origin of its own; without it, the shared port must
// still not hand a usable token to a page that is not the admin UI.

const ADMIN_EMAIL = 'admin@bantenprov.go.id'
const ADMIN_PASSWORD = 'rahasia-banten-2026'
const INTRUDER = 'penyusup@evil.example'

/**
 * The attacker's page, as a vulnerable upstream would reflect it; the test clicks #go (a user gesture, so window.open
 * is allowed).
 */
const ATTACK_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Layanan</title></head>
<body><button id="go" type="button">Lanjut</button>
<script>
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const found = new Set()
const log = {}
const TOKEN = /[A-Za-z0-9_-]{43}/
function keep (where, value) {
  if (typeof value === 'string' && TOKEN.test(value)) { found.add(value.match(TOKEN)[0]); log[where + ':token'] = true }
}
async function attempt (name, run) {
  try { log[name] = await run() } catch (err) { log[name] = 'threw ' + (err && err.name) }
}
async function attack () {
  const admin = new URLSearchParams(location.search).get('admin') || ''
  // 1. The session answer, plainly and dressed up as the admin UI.
  await attempt('session', async () => {
    const res = await fetch('/admin/api/session', { credentials: 'include' })
    const text = await res.text(); keep('session', (JSON.parse(text || '{}').csrfToken) || '')
    return res.status
  })
  await attempt('session-disguised', async () => {
    const res = await fetch('/admin/api/session', {
      credentials: 'include', referrer: '/admin/users', mode: 'same-origin',
      headers: { accept: 'application/json, application/problem+json', 'x-requested-with': 'XMLHttpRequest' }
    })
    const text = await res.text(); keep('session-disguised', (JSON.parse(text || '{}').csrfToken) || '')
    return res.status
  })
  // 2. The admin page's own HTML, fetched.
  await attempt('page-fetch', async () => {
    const res = await fetch('/admin/users', { credentials: 'include', referrer: '/admin/users' })
    const text = await res.text(); keep('page-fetch', (text.match(/name="gerbang-csrf" content="([^"]*)"/) || [])[1] || '')
    return res.status
  })
  // 3. The admin page in a frame, and in a window, to read its DOM.
  await attempt('iframe', async () => {
    const frame = document.createElement('iframe')
    frame.src = '/admin/users'
    document.body.append(frame)
    await sleep(1500)
    const doc = frame.contentDocument
    if (doc === null) return 'no document'
    keep('iframe', doc.documentElement.outerHTML)
    return 'read ' + doc.location.pathname
  })
  await attempt('popup', async () => {
    const w = window.open('/admin/users', '_blank')
    if (w === null) return 'no window'
    await sleep(2000)
    const html = w.document.documentElement.outerHTML
    keep('popup', html)
    return 'read ' + w.location.pathname
  })
  // 4. Cookies visible to a document at an /admin path.
  await attempt('cookie', async () => {
    const here = location.pathname + location.search
    history.pushState(null, '', '/admin/x')
    const cookies = document.cookie
    history.replaceState(null, '', here)
    for (const part of cookies.split(';')) keep('cookie', part.split('=')[1] || '')
    return cookies === '' ? 'none' : 'some'
  })
  // 5. A service worker over the whole origin, /admin included, from a script the upstream reflects.
  await attempt('service-worker', async () => {
    const registration = await navigator.serviceWorker.register('/layanan?sw=1', { scope: '/' })
    return 'registered ' + registration.scope
  })
  // 6. The admin origin, when there is one: cross-origin, with the cookie.
  if (admin !== '') {
    await attempt('admin-origin-session', async () => {
      const res = await fetch(admin + '/admin/api/session', { credentials: 'include' })
      const text = await res.text(); keep('admin-origin-session', (JSON.parse(text || '{}').csrfToken) || '')
      return res.status
    })
    await attempt('admin-origin-post', async () => {
      await fetch(admin + '/admin/api/users', {
        method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' },
        body: JSON.stringify({ email: '${INTRUDER}', name: 'Penyusup', role: 'admin', password: 'Penyusup-rahasia-2026' })
      })
      return 'sent'
    })
  }
  // 7. Whatever token turned up (or none): make an admin user with it.
  const body = JSON.stringify({ email: '${INTRUDER}', name: 'Penyusup', role: 'admin', password: 'Penyusup-rahasia-2026' })
  const creates = []
  for (const token of [...found, '']) {
    for (const base of admin === '' ? [''] : ['', admin]) {
      try {
        const res = await fetch(base + '/admin/api/users', {
          method: 'POST', credentials: 'include', body,
          headers: { 'content-type': 'application/json', ...(token === '' ? {} : { 'x-csrf-token': token }) }
        })
        creates.push(res.status)
      } catch (err) { creates.push('threw ' + (err && err.name)) }
    }
  }
  return { tokens: [...found], log, creates }
}
document.getElementById('go').addEventListener('click', () => {
  attack().then((result) => { window.__result = result }, (err) => { window.__result = { error: String(err) } })
})
</script></body></html>`

interface AttackResult {
  tokens: string[]
  log: Record<string, unknown>
  creates: Array<number | string>
  error?: string
}

/** The vulnerable upstream: every path answers the attacker's page (with `headers` too). */
async function startVulnerableUpstream (t: TestContext, headers: Record<string, string> = {}): Promise<Origin> {
  const origin = await startOrigin((req, res) => {
    if (req.url?.includes('sw=1') === true) {
      // A worker that would rewrite every admin page, were it installed.
      res.writeHead(200, { 'content-type': 'text/javascript' })
      res.end("self.addEventListener('fetch', (event) => { if (new URL(event.request.url).pathname.startsWith('/admin')) event.respondWith(new Response('taken')) })")
      return
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...headers })
    res.end(ATTACK_PAGE)
  })
  t.after(origin.close)
  return origin
}

/** `gerbang start` in front of the vulnerable upstream (`auth: none`), with a first admin and the given environment. */
async function startGerbang (
  t: TestContext, upstream: string, env: NodeJS.ProcessEnv = {}, args: string[] = []
): Promise<GatewayProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'gerbang-origin-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const routes = join(dir, 'routes.yaml')
  await writeFile(routes, `integrations:\n  layanan:\n    upstream: ${upstream}\n    auth: none\n`)
  return await startGatewayProcess(t, routes, {
    REDIS_URL: '',
    GERBANG_KEY_PEPPER: '',
    GERBANG_DATA_DIR: dir,
    GERBANG_ADMIN_EMAIL: ADMIN_EMAIL,
    GERBANG_ADMIN_PASSWORD: ADMIN_PASSWORD,
    ...env
  }, args)
}

async function signIn (base: string): Promise<{ cookie: string, csrf: string }> {
  const res = await fetch(`${base}/admin/api/session`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD })
  })
  assert.equal(res.status, 200, await res.clone().text())
  return { cookie: (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '', csrf: (await res.json() as { csrfToken: string }).csrfToken }
}

/** The users the store holds, asked through the admin API at `base`. */
async function userEmails (base: string): Promise<string[]> {
  const { cookie, csrf } = await signIn(base)
  const res = await fetch(`${base}/admin/api/users`, { headers: { cookie, 'x-csrf-token': csrf } })
  assert.equal(res.status, 200, await res.clone().text())
  return (await res.json() as { items: Array<{ email: string }> }).items.map((u) => u.email)
}

async function launchWide (t: TestContext): Promise<BrowserContext> {
  return await launchChromium(t, { viewport: { width: 1280, height: 900 } })
}

/** The victim signs in through the admin UI's login page at `adminBase`. */
async function victimSignsIn (browser: BrowserContext, adminBase: string): Promise<Page> {
  const page = browser.pages()[0] ?? await browser.newPage()
  await page.goto(`${adminBase}/admin/login`)
  const form = page.locator('form.login-form')
  await form.locator('input[name="email"]').fill(ADMIN_EMAIL)
  await form.locator('input[name="password"]').fill(ADMIN_PASSWORD)
  await form.locator('button[type="submit"]').click()
  await page.waitForURL(`${adminBase}/admin`)
  await page.getByTestId('admin-name').waitFor()
  return page
}

/** Opens the attacker's page (proxied by the gateway at `base`) in a new tab, runs it, and returns what it got. */
async function runAttack (browser: BrowserContext, base: string, adminBase: string | undefined): Promise<AttackResult> {
  const page = await browser.newPage()
  await page.goto(`${base}/layanan/cari?q=${adminBase === undefined ? '' : `&admin=${encodeURIComponent(adminBase)}`}`)
  await page.click('#go')
  await page.waitForFunction(() => (globalThis as unknown as { __result?: unknown }).__result !== undefined, undefined,
    { timeout: 30_000 })
  const result = await page.evaluate(() => (globalThis as unknown as { __result: AttackResult }).__result)
  await page.close()
  return result
}

function adminAddressOf (gw: GatewayProcess): string {
  const address = gw.readyLine.adminAddress
  assert.equal(typeof address, 'string', `the ready line names the admin listener's address: ${JSON.stringify(gw.readyLine)}`)
  return address as string
}

async function httpGet (
  url: string, headers: Record<string, string>
): Promise<{ status: number, headers: IncomingHttpHeaders, body: string }> {
  return await new Promise((resolve, reject) => {
    get(url, { headers }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (chunk: string) => { body += chunk }).on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body })
      })
    }).on('error', reject)
  })
}

async function problemOf (res: Response): Promise<Problem> {
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/)
  return await res.json() as Problem
}

test('GERBANG_ADMIN_PORT: /admin and /admin/api answer only on the admin listener, everything else only on the main one', async (t) => {
  const upstream = await startVulnerableUpstream(t)
  for (const args of [[], ['--workers', '2']]) {
    await t.test(args.length === 0 ? 'one process' : 'gerbang start --workers 2', async (t) => {
      const gw = await startGerbang(t, upstream.url, { GERBANG_ADMIN_PORT: '0' }, args)
      const main = gw.url
      const admin = adminAddressOf(gw)
      assert.notEqual(new URL(admin).port, new URL(main).port)

      // The main port: no admin UI, no admin API, whatever the method.
      for (const [method, path] of [['GET', '/admin'], ['GET', '/admin/'], ['GET', '/admin/login'], ['GET', '/admin/assets/main.js'],
        ['GET', '/admin/api/session'], ['POST', '/admin/api/session'], ['GET', '/admin/api/users'], ['POST', '/admin/api/users']] as const) {
        const res = await fetch(`${main}${path}`, {
          method,
          ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }) } : {})
        })
        assert.equal(res.status, 404, `${method} ${path} on the main port`)
        assert.equal((await problemOf(res)).code, 'ROUTE_NOT_FOUND', `${method} ${path} on the main port`)
        assert.equal(res.headers.get('set-cookie'), null)
      }
      // Percent-encoded, the router still finds the admin routes: refused too.
      assert.equal((await fetch(`${main}/%61dmin/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status, 404)

      // The admin port: the UI and the API.
      assert.equal((await fetch(`${admin}/admin`)).status, 200)
      assert.equal((await fetch(`${admin}/admin/assets/main.js`)).status, 200)
      const session = await signIn(admin)
      // (Each worker has its own embedded store: the session is only known to the one that made it.)
      if (args.length === 0) {
        const me = await fetch(`${admin}/admin/api/session`, { headers: { cookie: session.cookie, 'x-csrf-token': session.csrf } })
        assert.equal(me.status, 200)
      }

      // A page on the main port is another origin but the same site: its
      // fetch() carries the admin cookie, and is refused on its fetch metadata.
      if (args.length === 0) {
        const sameSite = await fetch(`${admin}/admin/api/session`, {
          headers: { cookie: session.cookie, 'x-csrf-token': session.csrf, 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty' }
        })
        assert.equal(sameSite.status, 403)
        assert.equal((await problemOf(sameSite)).code, 'CSRF_INVALID')
        // A link from there (a top-level navigation) still opens the admin UI, which no opener can reach into.
        // (node:http: fetch() sets Sec-Fetch-Mode itself.)
        const page = await httpGet(`${admin}/admin/users`, {
          cookie: session.cookie, 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document'
        })
        assert.equal(page.status, 200, page.body)
        assert.equal(page.headers['cross-origin-opener-policy'], 'same-origin')
        assert.equal(page.headers['x-frame-options'], 'DENY')
        assert.ok(page.body.includes(`<meta name="gerbang-csrf" content="${session.csrf}">`), page.body)
      }

      // ...and nothing else: no proxied page, no operations endpoint on the admin origin.
      const proxiedBefore = upstream.seen.length
      for (const path of ['/layanan/x', '/healthz', '/readyz', '/metrics', '/doc', '/oauth2/v1/accesstoken']) {
        const res = await fetch(`${admin}${path}`)
        assert.equal(res.status, 404, `${path} on the admin port`)
        assert.equal((await problemOf(res)).code, 'ROUTE_NOT_FOUND')
      }
      assert.equal(upstream.seen.length, proxiedBefore, 'the admin port never proxies')

      // The main port keeps its own endpoints and the proxied pages.
      assert.equal((await fetch(`${main}/healthz`)).status, 200)
      // (Under --workers a scrape is the primary's sum: whatever it answers, /metrics is served here.)
      assert.notEqual((await fetch(`${main}/metrics`)).status, 404)
      assert.equal((await fetch(`${main}/layanan/x`)).status, 200)
    })
  }
})

test('a proxied page cannot act as the signed-in admin when the admin UI has its own port (chromium)', async (t) => {
  const upstream = await startVulnerableUpstream(t)
  const gw = await startGerbang(t, upstream.url, { GERBANG_ADMIN_PORT: '0' })
  const admin = adminAddressOf(gw)
  const browser = await launchWide(t)
  await victimSignsIn(browser, admin)

  const result = await runAttack(browser, gw.url, admin)
  t.diagnostic(`what the page got: ${JSON.stringify(result)}`)
  assert.equal(result.error, undefined)
  assert.deepEqual(result.tokens, [], `the page found a token: ${JSON.stringify(result)}`)
  assert.equal(result.log.session, 404, JSON.stringify(result.log))
  assert.ok(result.creates.every((s) => s !== 201), JSON.stringify(result))
  assert.ok(!(await userEmails(admin)).includes(INTRUDER), 'the intruder was not created')
})

test('on the shared port a proxied page gets no usable CSRF token, and the admin UI still works (chromium)', async (t) => {
  await sharedPortAttack(t, {})
})

// An admin page opened by a same-origin page whose document has the same
// opener policy stays reachable from it: a vulnerable upstream that sends
// COOP same-origin itself gets the admin page's DOM. The proxy must not pass
// an upstream's Cross-Origin-Opener-Policy on (src/proxy/headers.ts).
test('on the shared port, a proxied page served with COOP same-origin gets no token either (chromium)', async (t) => {
  await sharedPortAttack(t, { 'cross-origin-opener-policy': 'same-origin' })
})

async function sharedPortAttack (t: TestContext, upstreamHeaders: Record<string, string>): Promise<void> {
  const upstream = await startVulnerableUpstream(t, upstreamHeaders)
  const gw = await startGerbang(t, upstream.url)
  const base = gw.url
  const browser = await launchWide(t)
  const victim = await victimSignsIn(browser, base)

  const result = await runAttack(browser, base, undefined)
  t.diagnostic(`what the page got: ${JSON.stringify(result)}`)
  assert.equal(result.error, undefined)
  assert.deepEqual(result.tokens, [], `the page found a token: ${JSON.stringify(result)}`)
  assert.match(String(result.log['service-worker']), /^threw /, 'no service worker over /admin')
  assert.ok(result.creates.every((s) => s !== 201), JSON.stringify(result))
  assert.ok(!(await userEmails(base)).includes(INTRUDER), 'the intruder was not created')

  // The admin UI itself, reloaded, still reads and changes: its pages carry the token.
  await victim.goto(`${base}/admin/users`)
  await victim.getByTestId('user-row').first().waitFor()
  assert.equal(await victim.getByTestId('admin-name').innerText(), ADMIN_EMAIL)
}

test('GERBANG_ADMIN_PORT and GERBANG_ADMIN_HOST are read and checked with the rest of the environment', () => {
  assert.equal(readEnv({}).adminPort, undefined)
  assert.equal(readEnv({ GERBANG_ADMIN_PORT: '' }).adminPort, undefined)
  assert.deepEqual(readEnv({ GERBANG_ADMIN_PORT: '8081', HOST: '10.0.0.5' }), { ...readEnv({ HOST: '10.0.0.5' }), adminPort: 8081, adminHost: '10.0.0.5' })
  assert.equal(readEnv({ GERBANG_ADMIN_PORT: '8081', GERBANG_ADMIN_HOST: '127.0.0.1' }).adminHost, '127.0.0.1')
  for (const bad of ['x', '-1', '65536', '80.5']) {
    assert.throws(() => readEnv({ GERBANG_ADMIN_PORT: bad }), /GERBANG_ADMIN_PORT must be a port number/)
  }
  assert.throws(() => readEnv({ PORT: '8080', GERBANG_ADMIN_PORT: '8080' }), /must differ from PORT/)
})
