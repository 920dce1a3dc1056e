import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { type BrowserContext, type Page } from 'playwright-core'
import { keyedStatus, PASSWORD, signInBrowser, startAdminGateway, USERS } from '../helpers/admin.js'
import { flakyStore, type FlakyStore } from '../helpers/flaky-store.js'
import { REPO_ROOT } from '../helpers/process.js'
import { launchChromium } from '../helpers/chromium.js'
import { sleep, waitUntil } from '../helpers/time.js'

// Issue 18 in a real (Debian) chromium, at 1366×768 in Bahasa Indonesia and
// at 390×844 in English: the new-key dialog's ID, key and curl examples with
// copy buttons; a client's page (edit integrations: a 403 turns into 200;
// rotate with a 1-hour grace: both keys work); the dashboard's 401 and 429
// counts; the banner and the menu while the store is down; an expired
// session that signs in again in a dialog and keeps the typed description.
// axe-core runs on every page (no serious or critical violation) and every
// page is photographed at both sizes into test-output/admin/.

const CHROMIUM = '/usr/bin/chromium'
const OUTPUT = resolve(REPO_ROOT, 'test-output/admin')
const KEY_RE = /^gb_[A-Za-z0-9_-]{43}$/
const VIEWPORTS = [
  { name: 'desktop', lang: 'id', viewport: { width: 1366, height: 768 } },
  { name: 'phone', lang: 'en', viewport: { width: 390, height: 844 } }
] as const

interface Violation { id: string, impact: string | null, help: string, nodes: Array<{ target: unknown[] }> }

/**
 * axe-core in the page (through the devtools protocol, which the CSP does not govern): serious and critical violations.
 */
async function axeViolations (page: Page, source: string): Promise<Violation[]> {
  await page.evaluate(source)
  const result = await page.evaluate('axe.run(document, { resultTypes: ["violations"] })') as { violations: Violation[] }
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
}

async function launch (t: TestContext, viewport: { width: number, height: number }): Promise<BrowserContext> {
  return await launchChromium(t, { viewport, clipboard: true })
}

for (const { name: size, lang, viewport } of VIEWPORTS) {
  test(`the console at ${viewport.width}×${viewport.height} in ${lang === 'id' ? 'Bahasa Indonesia' : 'English'}: keys, client page, dashboard, outages, axe, screenshots`, async (t) => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium`)
    const store: FlakyStore = flakyStore()
    const gw = await startAdminGateway(t, { store })
    const axe = await readFile(resolve(REPO_ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8')
    await mkdir(OUTPUT, { recursive: true })
    const browser = await launch(t, viewport)
    const page = browser.pages()[0] ?? await browser.newPage()
    const uncaught: string[] = []
    page.on('pageerror', (err) => { uncaught.push(err.message) })
    const L = (id: string, en: string): string => lang === 'id' ? id : en
    const shots: string[] = []
    const check = async (name: string): Promise<void> => {
      await page.screenshot({ path: join(OUTPUT, `console-${name}-${size}.png`), fullPage: true })
      shots.push(name)
      const violations = await axeViolations(page, axe)
      assert.deepEqual(violations.map((v) => `${v.id} (${v.impact ?? ''}): ${v.help} at ${JSON.stringify(v.nodes.slice(0, 3).map((n) => n.target))}`), [], `${name}: axe`)
    }

    await signInBrowser(page, gw.url, lang)
    let clientId = ''
    let key = ''

    await t.test('the new-key dialog shows the client ID and the key, each copied with its button, and ready curl examples', async () => {
      await page.goto(`${gw.url}/admin/clients`)
      await page.getByTestId('client-add').click()
      const form = page.locator('dialog[data-testid="client-form"]')
      await form.waitFor()
      // The Client field allows what the server allows: 100 characters.
      assert.equal(await form.locator('input[name="name"]').getAttribute('maxlength'), '100')
      // Our own messages, at the field and at the top, in the UI's language.
      await form.locator('button[type="submit"]').click()
      assert.equal(await form.getByTestId('error-name').innerText(), L('Wajib diisi.', 'Required.'))
      assert.match(await form.getByTestId('form-summary').innerText(), new RegExp(L('Periksa isian', 'Check the marked fields')))
      await form.locator('input[name="name"]').fill('RSUD Malingping')
      await form.locator('input[name="integrations"][value="yankes"]').check()
      await form.locator('button[type="submit"]').click()
      const dialog = page.getByTestId('key-dialog')
      await dialog.waitFor()
      clientId = (await dialog.getByTestId('new-key-id').innerText()).trim()
      key = (await dialog.getByTestId('new-key').innerText()).trim()
      assert.match(key, KEY_RE)
      assert.match(clientId, /^[0-9a-f-]{36}$/)
      await dialog.getByTestId('copy-id').click()
      await waitUntil('the ID on the clipboard', async () => await page.evaluate<string>('navigator.clipboard.readText()') === clientId)
      await dialog.getByTestId('copy-key').click()
      await waitUntil('the key on the clipboard', async () => await page.evaluate<string>('navigator.clipboard.readText()') === key)
      await dialog.locator('details.examples summary').click()
      assert.match(await dialog.getByTestId('curl-key').innerText(), new RegExp(`x-api-key: ${key}`))
      assert.match(await dialog.getByTestId('curl-token').innerText(), new RegExp(`client_id=${clientId}`))
      await check('new-key')
      await dialog.locator('.dialog-actions button').click()
      await dialog.waitFor({ state: 'detached' })
      // The list shows the ID and the key hint.
      const row = page.getByTestId('client-row').filter({ hasText: 'RSUD Malingping' })
      await row.waitFor()
      assert.equal(await row.getByTestId('client-id').innerText(), clientId)
      assert.equal(await row.getByTestId('key-hint').innerText(), `${L('Kunci', 'Key')} gb_…${key.slice(-4)}`)
      await check('clients')
    })

    await t.test('the client page: editing its integrations turns a 403 into 200', async () => {
      assert.equal(await keyedStatus(gw, '/satu-data/getGroup', key), 403)
      await page.getByTestId('client-link').filter({ hasText: 'RSUD Malingping' }).click()
      await page.waitForURL(`${gw.url}/admin/clients/${clientId}`)
      const form = page.getByTestId('client-edit')
      await form.waitFor()
      await form.locator('input[name="integrations"][value="satu-data"]').check()
      await form.locator('textarea[name="description"]').fill('Aplikasi rawat inap')
      const saved = page.waitForResponse((r) => r.url().endsWith(`/clients/${clientId}`) && r.request().method() === 'PATCH')
      await page.getByTestId('client-save').click()
      assert.equal((await saved).status(), 200)
      await waitUntil('the grant reaches the gateway', async () => await keyedStatus(gw, '/satu-data/getGroup', key) === 200, 2000)
      await check('client')
    })

    await t.test('rotate with a 1 h grace: the old and the new key both work, the old one for an hour', async () => {
      await page.getByTestId('client-rotate').click()
      const form = page.locator('dialog[data-testid="rotate-form"]')
      await form.waitFor()
      assert.equal(await form.getByTestId('rotate-grace').inputValue(), '1h')
      assert.deepEqual(await form.locator('option').evaluateAll((o) => o.map((x) => (x as unknown as { value: string }).value)), ['0', '1h', '24h', '7d'])
      await form.locator('button[type="submit"]').click()
      const dialog = page.getByTestId('key-dialog')
      await dialog.waitFor()
      const fresh = (await dialog.getByTestId('new-key').innerText()).trim()
      await dialog.locator('.dialog-actions button').click()
      assert.equal(await keyedStatus(gw, '/yankes/kamar', fresh), 200)
      assert.equal(await keyedStatus(gw, '/yankes/kamar', key), 200, 'the old key in its grace')
      const { createHmac } = await import('node:crypto')
      const { PEPPER } = await import('../helpers/admin.js')
      const old = await store.resolveKey(createHmac('sha256', PEPPER).update(key).digest('hex'))
      const left = (old?.expiresAt ?? 0) - Date.now()
      assert.ok(left > 3500_000 && left <= 3600_000, `the old key lives ${left} ms more`)
      key = fresh
    })

    await t.test('the dashboard shows the 401 and 429 answers the traffic produced', async () => {
      // (A limit lowered mid-window bites once the tokens already leased are spent: a fresh client here.)
      const limited = await gw.app.clients.create({ name: 'Puskesmas Ciruas', integrations: ['yankes'], rateLimit: '2/1m' })
      const codes = [await keyedStatus(gw, '/yankes/kamar', limited.key), await keyedStatus(gw, '/yankes/kamar', limited.key), await keyedStatus(gw, '/yankes/kamar', limited.key)]
      assert.deepEqual(codes, [200, 200, 429])
      for (let i = 0; i < 3; i++) assert.equal(await keyedStatus(gw, '/yankes/kamar', 'gb_salah'), 401)
      await sleep(300)
      await page.goto(`${gw.url}/admin`)
      await page.getByTestId('chart-yankes').waitFor()
      assert.equal(await page.getByTestId('401-yankes').innerText(), '3')
      assert.equal(await page.getByTestId('429-yankes').innerText(), '1')
      assert.equal(await page.getByTestId('total-401').innerText(), '3')
      // The chart's tooltip, by keyboard.
      await page.getByTestId('chart-yankes').focus()
      await page.keyboard.press('End')
      assert.match(await page.getByTestId('tip-yankes').innerText(), new RegExp(L('permintaan/menit', 'requests/min')))
      await check('dashboard')
    })

    await t.test('an expired session signs in again in a dialog and keeps the typed description', async () => {
      await page.goto(`${gw.url}/admin/clients`)
      await page.getByTestId('client-add').click()
      const form = page.locator('dialog[data-testid="client-form"]')
      await form.waitFor()
      await form.locator('input[name="name"]').fill('Dinkes Serang')
      await form.locator('input[name="description"]').fill('Ditulis sebelum sesi berakhir')
      await form.getByTestId('integration-all').check()
      // The session ends on the server meanwhile.
      const admin = await store.getUser(USERS.admin)
      assert.ok(admin !== undefined)
      await store.updateUser({ ...admin, sessionEpoch: (admin.sessionEpoch ?? 0) + 1 })
      await form.locator('button[type="submit"]').click()
      const reauth = page.getByTestId('reauth-dialog')
      await reauth.waitFor()
      assert.equal(await form.locator('input[name="description"]').inputValue(), 'Ditulis sebelum sesi berakhir', 'the form is still there')
      await check('reauth')
      await reauth.locator('input[name="password"]').fill(PASSWORD)
      await reauth.getByTestId('reauth-submit').click()
      const dialog = page.getByTestId('key-dialog')
      await dialog.waitFor()
      assert.match(await dialog.innerText(), /Dinkes Serang/)
      await dialog.locator('.dialog-actions button').click()
      const created = (await store.listClients({ search: 'dinkes' }))[0]
      assert.equal(created?.description, 'Ditulis sebelum sesi berakhir')
      assert.equal(created?.integrations, '*')
    })

    await t.test('with the store down the console keeps its menu and logout and shows a banner', async () => {
      await page.goto(`${gw.url}/admin/routes`)
      await page.getByTestId('route-row').first().waitFor()
      t.after(() => { store.down = false })
      store.down = true
      await page.locator('nav#nav a[data-nav="clients"]').click({ force: true }).catch(async () => { await page.goto(`${gw.url}/admin/clients`) })
      const banner = page.getByTestId('store-banner')
      await waitUntil('the banner', async () => await banner.isVisible())
      assert.match(await banner.innerText(), new RegExp(L('Penyimpanan data gateway sedang tidak dapat dihubungi', 'store cannot be reached')))
      assert.equal(await page.getByTestId('logout').count(), 1)
      assert.ok(await page.locator('nav#nav a').count() >= 5, 'the menu')
      // A page that needs no store still answers.
      await page.goto(`${gw.url}/admin/routes`)
      await page.getByTestId('route-row').first().waitFor()
      await check('store-down')
      store.down = false
      await waitUntil('the banner goes', async () => !await banner.isVisible(), 8000)
    })

    await t.test('axe and screenshots on the other pages', async () => {
      for (const [name, path] of [['users', '/admin/users'], ['roles', '/admin/roles'], ['audit', '/admin/audit']] as const) {
        await page.goto(`${gw.url}${path}`)
        await page.locator('h1').first().waitFor()
        await page.locator('.loading').waitFor({ state: 'detached' }).catch(() => {})
        await check(name)
      }
      // The audit log speaks people's words, not codes.
      assert.match(await page.getByTestId('audit-row').first().innerText(), new RegExp(L('Membuat klien|Merotasi kunci|Mengubah klien|Masuk', 'Created a client|Rotated a key|Changed a client|Signed in')))
      await page.getByTestId('logout').click()
      await page.waitForURL(`${gw.url}/admin/login`)
      await page.locator('form.login-form').waitFor()
      await check('login')
      assert.deepEqual(uncaught, [])
    })
  })
}
