import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { PASSWORD, PEPPER, startAdminGateway, USERS } from '../helpers/admin.js'
import { REPO_ROOT } from '../helpers/process.js'
import { importLegacyRows } from '../../src/auth/legacy-import.js'
import { SecretHasher } from '../../src/auth/secrets.js'
import { launchChromium } from '../helpers/chromium.js'
import { sleep, waitUntil } from '../helpers/time.js'

// The switch-over in the admin UI, in a real (Debian) chromium: clients
// imported from the old API manager carry a mark, the dashboard counts those
// still calling with their old key this week, and an operator rotates one to
// a Gerbang key with a 1-hour grace (both keys work), then revokes it (neither does).

const CHROMIUM = '/usr/bin/chromium'
const OUTPUT = resolve(REPO_ROOT, 'test-output/admin')
const LEGACY = 'rsud-malingping.bantenprov.go.id'
const OTHER = 'dinkes.serangkota.go.id'
const KEY_RE = /^gb_[A-Za-z0-9_-]{43}$/
const sha1 = (text: string): string => createHash('sha1').update(text).digest('hex')

test('the admin UI in chromium: legacy mark, switch-over progress, rotate to a Gerbang key with a 1-hour grace, revoke', async (t) => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; \`bash .ci/run\` does)`)
  const gw = await startAdminGateway(t, { authCache: { touchIntervalMs: 100 } })
  const base = gw.url
  const oldKey = sha1(LEGACY)
  await importLegacyRows(gw.store, new SecretHasher(PEPPER), [
    { id: '42', key: oldKey, domain: LEGACY, dateCreated: 1525136400 },
    { id: '43', key: sha1(OTHER), domain: OTHER }
  ], { integrations: '*', dryRun: false })
  const call = async (key: string): Promise<number> => {
    const res = await fetch(`${base}/yankes/kamar`, { headers: { 'X-API-KEY': key } })
    await res.arrayBuffer()
    return res.status
  }
  await waitUntil('the gateway knows the imported keys', async () => await call(oldKey) === 200)
  await sleep(300) // the legacy call reaches the store's counters

  await mkdir(OUTPUT, { recursive: true })
  const browser = await launchChromium(t, { viewport: { width: 1280, height: 900 } })
  const page = browser.pages()[0] ?? await browser.newPage()
  const errors: string[] = []
  page.on('pageerror', (err) => { errors.push(err.message) })

  await t.test('an operator signs in; the dashboard shows 1 of 2 legacy clients still calling this week', async () => {
    await page.goto(`${base}/admin/login`)
    const form = page.locator('form.login-form')
    await form.waitFor()
    await form.locator('input[name="email"]').fill(USERS.operator)
    await form.locator('input[name="password"]').fill(PASSWORD)
    await form.locator('button[type="submit"]').click()
    await page.waitForURL(`${base}/admin`)
    const calling = page.getByTestId('legacy-calling')
    await calling.waitFor()
    assert.equal(await calling.innerText(), '1 dari 2 klien impor')
    assert.equal(await page.getByTestId('legacy-bar').getAttribute('value'), '1')
    assert.equal(await page.getByTestId('legacy-bar').getAttribute('max'), '2')
    await page.screenshot({ path: join(OUTPUT, 'legacy-dashboard.png'), fullPage: true })
  })

  let newKey = ''
  await t.test('the legacy client carries its mark; rotating it to a Gerbang key with a 1-hour grace keeps both keys working', async () => {
    await page.goto(`${base}/admin/clients?search=malingping`)
    await waitUntil('one row', async () => await page.getByTestId('client-row').count() === 1)
    const row = page.getByTestId('client-row').filter({ hasText: LEGACY })
    assert.equal(await row.getByTestId('legacy-mark').innerText(), 'lama')
    assert.match(await row.getByTestId('legacy-mark').getAttribute('title') ?? '', /keys\.id 42/)
    assert.match(await row.innerText(), /keys\.id 42, created 2018-05-01 01:00:00 UTC/)
    assert.equal(await row.getByTestId('client-rotate').innerText(), 'Rotasi ke kunci Gerbang')
    await page.screenshot({ path: join(OUTPUT, 'legacy-clients.png'), fullPage: true })

    await row.getByTestId('client-rotate').click()
    const form = page.locator('dialog[data-testid="rotate-form"]')
    await form.waitFor()
    await form.getByTestId('rotate-grace').selectOption('1h')
    const answered = page.waitForResponse((r) => r.url().endsWith('/rotate') && r.request().method() === 'POST')
    await form.locator('button[type="submit"]').click()
    assert.equal((await answered).status(), 200)
    const dialog = page.getByTestId('key-dialog')
    await dialog.waitFor()
    newKey = (await page.getByTestId('new-key').innerText()).trim()
    assert.match(newKey, KEY_RE)
    await dialog.getByRole('button', { name: 'Saya sudah menyimpannya' }).click()
    await dialog.waitFor({ state: 'detached' })
    const rotation = row.getByTestId('legacy-rotation')
    await rotation.waitFor()
    assert.match(await rotation.innerText(), /kunci lama berlaku s\.d\./)

    assert.equal(await call(newKey), 200, 'the new Gerbang key')
    assert.equal(await call(oldKey), 200, 'the old key, in its grace')
    const client = (await gw.store.resolveKey(new SecretHasher(PEPPER).hash(oldKey)))
    assert.ok(client?.expiresAt !== undefined)
    const left = client.expiresAt - Date.now()
    assert.ok(left > 3500_000 && left <= 3600_000, `the old key lives ${left} ms more`)
  })

  await t.test('revoking the client ends both keys', async () => {
    const row = page.getByTestId('client-row').filter({ hasText: LEGACY })
    await row.getByTestId('client-revoke').click()
    const confirm = page.locator('dialog[role="alertdialog"]')
    await confirm.waitFor()
    await confirm.locator('button.btn-danger').click()
    await waitUntil('both keys refused', async () => await call(oldKey) === 401 && await call(newKey) === 401, 2000)
    await waitUntil('the row shows revoked', async () => await row.locator('[data-status]').getAttribute('data-status') === 'revoked')
    assert.deepEqual(errors, [])
  })
})
