import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir, rm, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { type ConsoleMessage, type Page } from 'playwright-core'
import { login, PASSWORD, startAdminGateway, USERS } from '../helpers/admin.js'
import { REPO_ROOT } from '../helpers/process.js'
import { launchChromium } from '../helpers/chromium.js'
import { sleep, waitUntil } from '../helpers/time.js'

// The admin UI in a real (Debian) chromium, headless, against a real gateway
// on Redis: sign in, add a client and use its key, search, revoke, read the
// dashboard, and what a viewer may not do. Screenshots of every page go to
// test-output/admin/.

const CHROMIUM = '/usr/bin/chromium'
const OUTPUT = resolve(REPO_ROOT, 'test-output/admin')
const SCREENSHOTS = ['login', 'dashboard', 'clients', 'users', 'roles', 'routes', 'audit'] as const
const CLIENT = 'RSUD Malingping'
const OTHERS = ['Dinkes Serang', 'Puskesmas Ciruas']
const KEY_RE = /^gb_[A-Za-z0-9_-]{43}$/

async function screenshot (page: Page, name: typeof SCREENSHOTS[number]): Promise<void> {
  await page.screenshot({ path: join(OUTPUT, `${name}.png`), fullPage: true })
}

/** The y coordinates of an SVG path made of M/L commands ("M44.0 182.0 L50.6 120.3 …"). */
function pathYs (d: string): number[] {
  return [...d.matchAll(/[ML]\s*(-?[\d.]+)[ ,]+(-?[\d.]+)/g)].map((m) => Number(m[2]))
}

test('the admin UI in chromium: login, clients and keys, search, revoke, dashboard, a viewer\'s limits, screenshots', async (t) => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; \`bash .ci/run\` does)`)

  const gw = await startAdminGateway(t)
  const base = gw.url
  // The helper builds the gateway from text; give it the file it would have
  // had when loaded from disk, for the routes page to show.
  const routesFile = '/etc/gerbang/routes.yaml'
  const routesText = '# Dinkes Provinsi Banten\nintegrations:\n  yankes:\n    upstream: ${YANKES_UPSTREAM}\n' // eslint-disable-line no-template-curly-in-string
  gw.app.routeTable.table.config.source = { file: routesFile, text: routesText }
  // Two more clients, so the search visibly filters.
  const seeder = await login(base, USERS.admin)
  for (const name of OTHERS) assert.equal((await seeder.call('POST', '/clients', { name, integrations: '*' })).status, 201)

  await mkdir(OUTPUT, { recursive: true })
  // Last run's pictures go first, so "the file exists" proves this run wrote it.
  for (const name of SCREENSHOTS) await rm(join(OUTPUT, `${name}.png`), { force: true })

  const browser = await launchChromium(t, { viewport: { width: 1280, height: 900 }, clipboard: true })
  const page = browser.pages()[0] ?? await browser.newPage()

  // Only the gateway: a request anywhere else (a CDN, a font) fails the test.
  const foreign: string[] = []
  browser.on('request', (request) => {
    const url = request.url()
    if (!url.startsWith(`${base}/`) && !url.startsWith('data:')) foreign.push(url)
  })
  // Every console error and uncaught exception, kept with where it came from.
  const errors: Array<{ text: string, url: string }> = []
  const onConsole = (message: ConsoleMessage): void => {
    if (message.type() === 'error') errors.push({ text: message.text(), url: message.location().url })
  }
  browser.on('console', onConsole)
  page.on('pageerror', (err) => { errors.push({ text: `uncaught: ${err.message}`, url: page.url() }) })

  const menu = page.locator('nav#nav')
  let key = ''
  // Every answer to a /yankes call with the key, for the dashboard's numbers.
  const yankes: number[] = []
  const callYankes = async (): Promise<number> => {
    const res = await fetch(`${base}/yankes/kamar`, { headers: { 'x-api-key': key } })
    await res.arrayBuffer()
    yankes.push(res.status)
    return res.status
  }

  await t.test('an admin signs in through the login page; the dashboard shows their name and the menu', async () => {
    // Not signed in: /admin probes the session (401) and sends the browser to the login page.
    await page.goto(`${base}/admin`)
    await page.waitForURL(`${base}/admin/login`)
    const form = page.locator('form.login-form')
    await form.waitFor()
    await form.locator('input[name="email"]').fill(USERS.admin)
    await form.locator('input[name="password"]').fill(PASSWORD)
    await screenshot(page, 'login')
    await form.locator('button[type="submit"]').click()

    await page.waitForURL(`${base}/admin`)
    const name = page.getByTestId('admin-name')
    await name.waitFor()
    assert.equal(await name.innerText(), 'Pak Admin')
    // Top right: inside the top bar, on the right half of the window.
    assert.equal(await page.locator('header.topbar [data-testid="admin-name"]').count(), 1)
    const box = await name.boundingBox()
    assert.ok(box !== null && box.x > 640 && box.y < 100, `admin-name at ${JSON.stringify(box)}`)
    // The left menu, every page for the admin role, the dashboard marked current.
    assert.deepEqual(await menu.locator('a').allInnerTexts(), ['Dasbor', 'Klien', 'Permintaan Kunci', 'Pengguna', 'Peran & Izin', 'Rute', 'Log Audit'])
    assert.equal(await menu.locator('a[aria-current="page"]').innerText(), 'Dasbor')
    const menuBox = await menu.boundingBox()
    assert.ok(menuBox !== null && menuBox.x < 100, `menu at ${JSON.stringify(menuBox)}`)
    await page.getByTestId('chart-yankes').waitFor()

    // The language switch redraws the page in English, and back.
    await page.getByTestId('lang-switch').selectOption('en')
    await waitUntil('the menu in English', async () => (await menu.locator('a').first().innerText()) === 'Dashboard')
    await page.getByTestId('lang-switch').selectOption('id')
    await waitUntil('the menu in Indonesian', async () => (await menu.locator('a').first().innerText()) === 'Dasbor')
    assert.equal(await page.getByTestId('admin-name').innerText(), 'Pak Admin')
  })

  await t.test('ADD makes a client; its key is shown once and works through the gateway at once', async () => {
    await menu.locator('a[data-nav="clients"]').click()
    await page.waitForURL(`${base}/admin/clients`)
    await waitUntil('the two seeded clients listed', async () => await page.getByTestId('client-row').count() === 2)

    await page.getByTestId('client-add').click()
    const form = page.locator('dialog[data-testid="client-form"]')
    await form.waitFor()
    await form.locator('input[name="name"]').fill(CLIENT)
    await form.locator('input[name="description"]').fill('Aplikasi rawat inap')
    await form.locator('input[name="integrations"][value="yankes"]').check()
    await form.locator('button[type="submit"]').click()

    const dialog = page.getByTestId('key-dialog')
    await dialog.waitFor()
    assert.match(await dialog.innerText(), new RegExp(`“${CLIENT}”`))
    key = (await page.getByTestId('new-key').innerText()).trim()
    assert.match(key, KEY_RE)
    assert.equal(await callYankes(), 200, 'the new key works at once')
    assert.equal((await fetch(`${base}/satu-data/getGroup`, { headers: { 'x-api-key': key } })).status, 403, 'only yankes was granted')

    // Copy puts the key on the clipboard and says so.
    await page.getByTestId('copy-key').click()
    await waitUntil('the copy confirmation', async () => (await dialog.locator('p[role="status"]').innerText()) === 'Kunci tersalin ke papan klip.')
    assert.equal(await page.evaluate<string>('navigator.clipboard.readText()'), key)
    await screenshot(page, 'clients')

    // Once: after "I have stored it" the key is nowhere on the page.
    await dialog.getByRole('button', { name: 'Saya sudah menyimpannya' }).click()
    await dialog.waitFor({ state: 'detached' })
    await waitUntil('the list reloaded with the new client', async () => await page.getByTestId('client-row').count() === 3)
    assert.equal(await page.getByTestId('new-key').count(), 0)
    assert.ok(!(await page.content()).includes(key), 'the key is still in the page')
    const row = page.getByTestId('client-row').filter({ hasText: CLIENT })
    assert.match(await row.innerText(), /Aplikasi rawat inap/)
    assert.equal(await row.locator('[data-status]').getAttribute('data-status'), 'active')
  })

  await t.test('search finds the client and filters the others out', async () => {
    const search = page.getByTestId('client-search')
    await search.fill('maling')
    await waitUntil('one row left', async () => await page.getByTestId('client-row').count() === 1)
    assert.match(await page.getByTestId('client-row').innerText(), new RegExp(CLIENT))
    assert.equal(new URL(page.url()).searchParams.get('search'), 'maling')
    assert.equal(await page.getByTestId('client-summary').innerText(), '1 ditampilkan · 3 klien seluruhnya')

    await search.fill('tidak-ada-klien-ini')
    await waitUntil('no rows', async () => await page.getByTestId('client-row').count() === 0)
    await search.fill('')
    await waitUntil('all three back', async () => await page.getByTestId('client-row').count() === 3)
    assert.deepEqual(await page.locator('[data-testid="client-row"] .cell-main').allInnerTexts(), [...OTHERS, CLIENT])
  })

  await t.test('traffic through the gateway: successes, then a 502 once the origin is gone', async () => {
    for (let i = 0; i < 4; i++) assert.equal(await callYankes(), 200)
    const other = await (await seeder.call('POST', '/clients', { name: 'Satu Data Banten', integrations: ['satu-data'] })).json() as { key: string }
    assert.equal((await fetch(`${base}/satu-data/getGroup`, { headers: { 'x-api-key': other.key } })).status, 200)
    await gw.origin.close()
    assert.equal((await fetch(`${base}/satu-data/getGroup`, { headers: { 'x-api-key': other.key } })).status, 502)
  })

  await t.test('revoking through the UI (with confirmation) stops the key within 1 s', async () => {
    await page.getByTestId('client-search').fill('maling')
    await waitUntil('one row left', async () => await page.getByTestId('client-row').count() === 1)
    const row = page.getByTestId('client-row').filter({ hasText: CLIENT })

    // Cancel first: nothing happens.
    await row.getByTestId('client-revoke').click()
    const confirm = page.locator('dialog[role="alertdialog"]')
    await confirm.waitFor()
    assert.match(await confirm.innerText(), new RegExp(`Cabut klien “${CLIENT}”`))
    await confirm.getByRole('button', { name: 'Batal' }).click()
    await confirm.waitFor({ state: 'detached' })
    assert.equal(await row.locator('[data-status]').getAttribute('data-status'), 'active')
    assert.equal(await callYankes(), 502, 'still accepted (the origin is closed, so 502)')

    await row.getByTestId('client-revoke').click()
    await confirm.waitFor()
    const answered = page.waitForResponse((r) => r.url().endsWith('/revoke') && r.request().method() === 'POST')
    await confirm.locator('button.btn-danger').click()
    const revokedAt = Date.now()
    // A revoke reaches the gateway within 1 s (docs/contract.md).
    let status = 0
    await waitUntil('the revoked key to answer 401 (within 1 s)', async () => (status = await callYankes()) === 401,
      { timeoutMs: 1000, detail: () => `last status: ${status}` })
    const elapsed = Date.now() - revokedAt
    assert.ok(elapsed < 1000, `401 only after ${elapsed} ms`)
    assert.equal((await answered).status(), 200)

    await waitUntil('the row shows revoked', async () => await row.locator('[data-status]').getAttribute('data-status') === 'revoked')
    assert.equal(await row.getByTestId('client-revoke').count(), 0, 'a revoked client has no actions')
    assert.equal(await row.getByTestId('client-rotate').count(), 0)
  })

  await t.test('the dashboard draws the traffic: charts with data, health, top clients', async () => {
    await sleep(400) // the counters reach Redis every 100 ms
    await menu.locator('a[data-nav="dashboard"]').click()
    await page.waitForURL(`${base}/admin`)
    const chart = page.getByTestId('chart-yankes')
    await chart.waitFor()

    // 60 one-minute points; the requests line leaves the zero line somewhere.
    const d = await chart.locator('path.chart-requests').getAttribute('d') ?? ''
    const ys = pathYs(d)
    assert.equal(ys.length, 60, `the requests path: ${d.slice(0, 80)}…`)
    assert.ok(Math.min(...ys) < Math.max(...ys), 'the yankes requests line is flat: no data drawn')
    const satuData = pathYs(await page.getByTestId('chart-satu-data').locator('path.chart-errors').getAttribute('d') ?? '')
    assert.ok(Math.min(...satuData) < Math.max(...satuData), 'the satu-data error-rate line is flat')

    const percent = (ratio: number): string => new Intl.NumberFormat('id-ID', { style: 'percent', maximumFractionDigits: 2 }).format(ratio)
    const card = (name: string): ReturnType<Page['locator']> => page.locator('section.integration').filter({ has: page.getByTestId(`chart-${name}`) })
    // The first three: requests, server errors (5xx), error rate; then 4xx, 401, 403, 429 and latency (issue 18).
    const stats = async (name: string): Promise<string[]> => (await card(name).locator('.mini-stats dd').allInnerTexts()).slice(0, 3)
    // Every call to /yankes counts, the 401s after the revocation too; the 502s
    // (the origin is closed) are its errors: one before revoking, and any call
    // that raced the revocation.
    const errors502 = yankes.filter((s) => s === 502).length
    assert.ok(errors502 >= 1)
    assert.deepEqual(await stats('yankes'), [String(yankes.length), String(errors502), percent(Math.round(errors502 / yankes.length * 10_000) / 10_000)])
    assert.deepEqual(await stats('satu-data'), ['3', '1', percent(0.3333)])
    // Health over the last 5 minutes: some errors, fewer than half, is degraded.
    assert.ok(errors502 * 2 < yankes.length)
    assert.equal(await page.getByTestId('health-yankes').getAttribute('data-status'), 'degraded')
    assert.equal(await page.getByTestId('health-satu-data').getAttribute('data-status'), 'degraded')
    assert.equal(await page.getByTestId('total-requests').innerText(), String(yankes.length + 3))
    assert.equal(await page.getByTestId('total-errors').innerText(), String(errors502 + 1))

    // Top clients: the requests each client's key was accepted for (not the 401s).
    const accepted = yankes.filter((s) => s !== 401).length
    const top = page.getByTestId('top-client-row')
    // Name and requests; then 4xx, 429, 5xx and latency (issue 18).
    assert.deepEqual((await top.allInnerTexts()).map((row) => row.split('\t').slice(0, 2).join('\t')), [`${CLIENT}\t${accepted}`, 'Satu Data Banten\t2'])
    assert.match(await top.first().locator('a').getAttribute('href') ?? '', /^\/admin\/clients\/[0-9a-f-]{36}$/, 'the client\'s own page')
    await screenshot(page, 'dashboard')

    // 24 h: 96 points of 15 minutes.
    await page.getByTestId('range-24h').click()
    await waitUntil('the 24 h chart', async () => pathYs(await chart.locator('path.chart-requests').getAttribute('d') ?? '').length === 96)
    assert.equal(await page.getByTestId('range-24h').getAttribute('aria-pressed'), 'true')
    assert.equal(await page.getByTestId('range-1h').getAttribute('aria-pressed'), 'false')
    assert.equal(new URL(page.url()).search, '?range=24h')
  })

  await t.test('the users, roles, routes and audit pages', async () => {
    await menu.locator('a[data-nav="users"]').click()
    await waitUntil('three users', async () => await page.getByTestId('user-row').count() === 3)
    const users = await page.getByTestId('user-row').allInnerTexts()
    for (const [role, email] of Object.entries(USERS)) assert.ok(users.some((u) => u.includes(email) && u.includes(role)), `${email} (${role}) in ${JSON.stringify(users)}`)
    await screenshot(page, 'users')

    await menu.locator('a[data-nav="roles"]').click()
    await waitUntil('the built-in roles', async () => await page.getByTestId('role-row').count() === 3)
    assert.deepEqual(await page.locator('[data-testid="role-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-role'))), ['admin', 'operator', 'viewer'])
    await screenshot(page, 'roles')

    await menu.locator('a[data-nav="routes"]').click()
    const yaml = page.getByTestId('routes-yaml')
    await yaml.waitFor()
    assert.equal((await yaml.innerText()).trimEnd(), routesText.trimEnd(), 'the file as written, its environment references unexpanded')
    assert.match(await page.getByTestId('last-reload').innerText(), new RegExp(routesFile))
    const routes = await page.getByTestId('route-row').allInnerTexts()
    assert.equal(routes.length, 2)
    assert.match(routes[0] ?? '', /yankes[\s\S]*Layanan kesehatan[\s\S]*\/yankes/)
    assert.match(routes[1] ?? '', /satu-data[\s\S]*Portal satu data/)
    await screenshot(page, 'routes')

    await menu.locator('a[data-nav="audit"]').click()
    await page.getByTestId('audit-row').first().waitFor()
    const audit = await page.getByTestId('audit-row').allInnerTexts()
    // Newest first: the revocation, then the clients made by this admin.
    // In people's words (issue 18): "Mencabut klien", not client.revoke.
    assert.match(audit[0] ?? '', new RegExp(`${USERS.admin}[\\s\\S]*Mencabut klien[\\s\\S]*${CLIENT}`))
    assert.ok(audit.some((a) => /Membuat klien/.test(a) && a.includes(CLIENT)), 'the creation is in the audit log')
    assert.ok(audit.some((a) => /\tMasuk\t/.test(a)), 'the login is in the audit log')
    assert.equal(await page.getByTestId('load-more').isHidden(), true, 'fewer than a page of entries')
    await screenshot(page, 'audit')
  })

  await t.test('a viewer sees no ADD button, and the API refuses its POST with PERMISSION_DENIED', async () => {
    await page.getByTestId('logout').click()
    await page.waitForURL(`${base}/admin/login`)
    // The old session is gone for the server too.
    assert.equal((await page.evaluate(async () => (await fetch('/admin/api/session')).status)), 401)

    const form = page.locator('form.login-form')
    await form.locator('input[name="email"]').fill(USERS.viewer)
    await form.locator('input[name="password"]').fill(PASSWORD)
    await form.locator('button[type="submit"]').click()
    await page.waitForURL(`${base}/admin`)
    await waitUntil('the viewer\'s name', async () => (await page.getByTestId('admin-name').innerText()) === 'Pak Viewer')

    await menu.locator('a[data-nav="clients"]').click()
    await waitUntil('the four clients listed', async () => await page.getByTestId('client-row').count() === 4)
    assert.equal(await page.getByTestId('client-add').count(), 0)
    assert.equal(await page.getByTestId('client-revoke').count(), 0)
    assert.equal(await page.getByTestId('client-rotate').count(), 0)

    // The viewer's own token, from the page as the browser loads it.
    await page.reload()
    await waitUntil('the viewer\'s name after the reload', async () => (await page.getByTestId('admin-name').innerText()) === 'Pak Viewer')
    const token = await page.locator('meta[name="gerbang-csrf"]').getAttribute('content') ?? ''
    assert.notEqual(token, '')
    const answer = await page.evaluate(async (token) => {
      const res = await fetch('/admin/api/clients', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': token },
        body: JSON.stringify({ name: 'Tidak Boleh', integrations: '*' })
      })
      return { status: res.status, body: await res.json() as { code?: string } }
    }, token)
    assert.equal(answer.status, 403)
    assert.equal(answer.body.code, 'PERMISSION_DENIED')
    const all = await (await seeder.call('GET', '/clients?search=boleh')).json() as { items: unknown[], total: number }
    assert.equal(all.items.length, 0, 'nothing was created')
    assert.equal(all.total, 4)
  })

  await t.test('screenshots of every page were written', async () => {
    for (const name of SCREENSHOTS) {
      const file = join(OUTPUT, `${name}.png`)
      assert.ok(existsSync(file), `${file} is missing`)
      assert.ok((await stat(file)).size > 1000, `${file} is (nearly) empty`)
    }
  })

  await t.test('no request left the gateway, and the only console errors are the expected 401 and 403', async () => {
    assert.deepEqual(foreign, [])
    // Chromium reports each failed resource load as a console error: the
    // session probe before signing in, the probe after logging out, and the viewer's POST.
    const expected = (e: { text: string, url: string }): boolean =>
      (e.url === `${base}/admin/api/session` && e.text === 'Failed to load resource: the server responded with a status of 401 (Unauthorized)') ||
      (e.url === `${base}/admin/api/clients` && e.text === 'Failed to load resource: the server responded with a status of 403 (Forbidden)')
    assert.deepEqual(errors.filter((e) => !expected(e)), [])
    assert.equal(errors.filter(expected).length, 3, `expected one 401 per session probe and one 403: ${JSON.stringify(errors)}`)
  })
})
