import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { BrowserContext, Page } from 'playwright-core'
import { MemoryStore } from '../../src/store/memory-store.js'
import { keyedStatus, signInBrowser, startAdminGateway } from '../helpers/admin.js'
import { launchChromium } from '../helpers/chromium.js'
import { REPO_ROOT } from '../helpers/process.js'

// Issue 18, item 6 in Chromium: a key request goes from /doc to approval to
// a working key, at 1366×768 and 390×844. Each size walks the whole way in
// one language (Bahasa Indonesia on the desktop, English on the phone) and
// then sees every new page and dialog in the other; axe-core finds no
// serious or critical violation on any of them, no CSP violation reaches
// the console, and each is photographed into test-output/docs/.

const OUTPUT = resolve(REPO_ROOT, 'test-output/docs')
const KEY_RE = /^gb_[A-Za-z0-9_-]{43}$/
const RUNS = [
  { size: '1366x768', viewport: { width: 1366, height: 768 }, lang: 'id', other: 'en' },
  { size: '390x844', viewport: { width: 390, height: 844 }, lang: 'en', other: 'id' }
] as const
type Lang = 'id' | 'en'

interface Violation { id: string, impact: string | null, help: string, nodes: Array<{ target: unknown[] }> }

async function eventually (what: string, check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!await check()) {
    if (Date.now() > deadline) assert.fail(`${what}: not so after ${ms} ms`)
    await sleep(25)
  }
}

/** A page that fails the test on a CSP violation or an uncaught error. */
async function watchedPage (t: TestContext, browser: BrowserContext): Promise<Page> {
  const page = await browser.newPage()
  const problems: string[] = []
  page.on('console', (message) => { if (/Content Security Policy/i.test(message.text())) problems.push(message.text()) })
  page.on('pageerror', (err) => { problems.push(err.message) })
  t.after(() => { assert.deepEqual(problems, [], 'no CSP violation and no uncaught error') })
  return page
}

async function setLang (page: Page, lang: Lang): Promise<void> {
  await page.evaluate((l) => { localStorage.setItem('gerbang.lang', l) }, lang)
  await page.reload()
}

for (const { size, viewport, lang, other } of RUNS) {
  test(`a key request goes from /doc to approval to a working key at ${size} (${lang}, then ${other}): axe, screenshots`, async (t) => {
    const gw = await startAdminGateway(t, { store: new MemoryStore() })
    const axe = await readFile(resolve(REPO_ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8')
    await mkdir(OUTPUT, { recursive: true })
    const browser = await launchChromium(t, { viewport, clipboard: true })
    const dev = await watchedPage(t, browser)
    const ops = await watchedPage(t, browser)
    const check = async (page: Page, name: string, language: Lang): Promise<void> => {
      await page.screenshot({ path: join(OUTPUT, `key-request-${name}-${language}-${size}.png`), fullPage: true })
      await page.evaluate(axe)
      const result = await page.evaluate('axe.run(document, { resultTypes: ["violations"] })') as { violations: Violation[] }
      const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      assert.deepEqual(serious.map((v) => `${v.id} (${v.impact ?? ''}): ${v.help} at ${JSON.stringify(v.nodes.slice(0, 3).map((n) => n.target))}`), [], `${name} (${language}): axe`)
    }
    const L = (language: Lang, id: string, en: string): string => language === 'id' ? id : en

    // The developer finds the form from /doc's header.
    await dev.goto(`${gw.url}/doc`)
    await setLang(dev, lang)
    await dev.locator('header.gb-header').getByRole('link', { name: L(lang, 'Minta kunci', 'Request a key') }).click()
    await dev.waitForURL(`${gw.url}/doc/request-key`)
    const form = dev.getByTestId('kr-form')
    await form.locator('input[name="integrations"]').first().waitFor()
    assert.equal(await dev.evaluate('document.documentElement.lang'), lang)
    assert.equal(await dev.locator('h1').innerText(), L(lang, 'Minta kunci API', 'Request an API key'))
    // The page's own messages, at the fields and at the top.
    await dev.getByTestId('kr-submit').click()
    assert.equal(await dev.getByTestId('error-agency').innerText(), L(lang, 'Wajib diisi.', 'Required.'))
    assert.equal(await dev.getByTestId('error-integrations').innerText(), L(lang, 'Pilih minimal satu integrasi.', 'Choose at least one integration.'))
    assert.match(await dev.getByTestId('form-summary').innerText(), new RegExp(L(lang, 'Periksa isian', 'Check the marked fields')))
    assert.equal(await dev.evaluate('document.activeElement.name'), 'agency')
    await check(dev, 'form-errors', lang)
    await form.locator('input[name="agency"]').fill('RSUD Kabupaten Tangerang')
    await form.locator('input[name="app"]').fill('SIMRS Rujukan')
    await form.locator('input[name="email"]').fill('it@rsud.tangerangkab.go.id')
    await form.locator('input[name="integrations"][value="yankes"]').check()
    await form.locator('textarea[name="purpose"]').fill('Ketersediaan kamar untuk rujukan pasien antar rumah sakit.')
    await check(dev, 'form', lang)
    await dev.getByTestId('kr-submit').click()
    const sent = dev.getByTestId('kr-sent')
    await sent.waitFor()
    const number = (await dev.getByTestId('kr-number').innerText()).trim()
    assert.match(number, /^[0-9a-f-]{36}$/)
    await check(dev, 'sent', lang)

    // An operator (here the admin, who may also read the audit log) sees it in the queue (from the menu) and approves
    // it with a limit.
    await ops.goto(`${gw.url}/admin/login`)
    await setLang(ops, lang)
    await signInBrowser(ops, gw.url)
    const menuToggle = ops.locator('button.menu-toggle')
    if (await menuToggle.isVisible()) await menuToggle.click()
    await ops.locator('nav#nav a[href="/admin/clients/requests"]').click()
    await ops.waitForURL(`${gw.url}/admin/clients/requests`)
    const row = ops.getByTestId('kr-row').filter({ hasText: 'SIMRS Rujukan' })
    await row.waitFor()
    assert.equal(await row.locator('[data-status]').getAttribute('data-status'), 'pending')
    assert.match(await row.innerText(), /it@rsud\.tangerangkab\.go\.id/)
    await check(ops, 'queue', lang)
    await row.getByTestId('kr-approve').click()
    const approve = ops.locator('dialog[data-testid="kr-approve-form"]')
    await approve.waitFor()
    assert.equal(await approve.locator('input[name="name"]').inputValue(), 'RSUD Kabupaten Tangerang — SIMRS Rujukan')
    assert.equal(await approve.locator('input[name="integrations"][value="yankes"]').isChecked(), true, 'what was asked for, ticked')
    assert.equal(await approve.locator('input[name="integrations"][value="satu-data"]').isChecked(), false)
    await approve.locator('input[name="rateLimit"]').fill('2/1m')
    await check(ops, 'approve', lang)
    await approve.locator('button[type="submit"]').click()
    const linkDialog = ops.getByTestId('kr-link-dialog')
    await linkDialog.waitFor()
    const link = (await linkDialog.getByTestId('kr-link').innerText()).trim()
    assert.match(link, new RegExp(`^${gw.url}/doc/key#gbl_[A-Za-z0-9_-]{43}$`))
    await linkDialog.getByTestId('copy-kr-link').click()
    await eventually('the link on the clipboard', async () => await ops.evaluate<string>('navigator.clipboard.readText()') === link)
    await check(ops, 'link', lang)
    await linkDialog.getByTestId('kr-link-done').click()
    await linkDialog.waitFor({ state: 'detached' })
    assert.equal(await row.locator('[data-status]').getAttribute('data-status'), 'approved')

    // The developer opens the link: a button, then the key, once.
    await dev.goto(link)
    await dev.getByTestId('key-ready').waitFor()
    assert.match(await dev.getByTestId('key-ready').innerText(), /SIMRS Rujukan/)
    await check(dev, 'key-ready', lang)
    await dev.getByTestId('key-show').click()
    const shown = dev.getByTestId('key-value')
    await shown.waitFor()
    const key = (await shown.innerText()).trim()
    assert.match(key, KEY_RE)
    await dev.getByTestId('copy-key-value').click()
    await eventually('the key on the clipboard', async () => await dev.evaluate<string>('navigator.clipboard.readText()') === key)
    await dev.locator('details.examples summary').click()
    assert.match(await dev.getByTestId('curl-key').innerText(), new RegExp(`x-api-key: ${key}`))
    assert.doesNotMatch(await dev.locator('main').innerText(), /\b(null|undefined)\b/)
    await check(dev, 'key-shown', lang)
    assert.deepEqual([await keyedStatus(gw, '/yankes/kamar', key), await keyedStatus(gw, '/satu-data/getGroup', key)], [200, 403], 'a working key, for what was granted')

    // Once only: the same link again says the key was shown.
    await dev.reload()
    const used = dev.getByTestId('key-gone')
    await used.waitFor()
    assert.match(await used.innerText(), new RegExp(L(lang, 'sudah ditampilkan', 'already been shown')))
    await check(dev, 'key-used', lang)
    await ops.reload()
    await row.waitFor()
    assert.equal(await row.locator('[data-status]').getAttribute('data-status'), 'issued')

    // Everything again in the other language, with a decline on the way.
    await dev.goto(`${gw.url}/doc/request-key`)
    await setLang(dev, other)
    await dev.getByTestId('kr-form').locator('input[name="integrations"]').first().waitFor()
    assert.equal(await dev.locator('h1').innerText(), L(other, 'Minta kunci API', 'Request an API key'))
    await check(dev, 'form', other)
    const second = dev.getByTestId('kr-form')
    await second.locator('input[name="agency"]').fill('Puskesmas Ciruas')
    await second.locator('input[name="app"]').fill('Aplikasi Antrean')
    await second.locator('input[name="email"]').fill('admin@puskesmas-ciruas.go.id')
    await second.locator('input[name="integrations"][value="satu-data"]').check()
    await second.locator('textarea[name="purpose"]').fill('Data kependudukan untuk antrean.')
    await dev.getByTestId('kr-submit').click()
    await dev.getByTestId('kr-sent').waitFor()
    await check(dev, 'sent', other)
    await dev.goto(link)
    await dev.getByTestId('key-gone').waitFor()
    assert.match(await dev.getByTestId('key-gone').innerText(), new RegExp(L(other, 'sudah ditampilkan', 'already been shown')))
    await check(dev, 'key-used', other)

    await setLang(ops, other)
    const pending = ops.getByTestId('kr-row').filter({ hasText: 'Aplikasi Antrean' })
    await pending.waitFor()
    await check(ops, 'queue', other)
    await pending.getByTestId('kr-decline').click()
    const decline = ops.locator('dialog[data-testid="kr-decline-form"]')
    await decline.waitFor()
    await decline.locator('button[type="submit"]').click()
    assert.equal(await decline.getByTestId('error-reason').innerText(), L(other, 'Wajib diisi.', 'Required.'))
    await decline.locator('textarea[name="reason"]').fill(L(other, 'Gunakan akun Dinas Kesehatan', 'Use the health office\'s account'))
    await check(ops, 'decline', other)
    await decline.locator('button[type="submit"]').click()
    await decline.waitFor({ state: 'detached' })
    await eventually('declined', async () => await pending.locator('[data-status]').getAttribute('data-status') === 'declined')
    // The approval's dialog and the link's, in this language too.
    const third = await fetch(`${gw.url}/doc/api/key-requests`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ agency: 'Dinas Kominfo', app: 'Portal Data', email: 'data@bantenprov.go.id', integrations: ['satu-data'], purpose: 'Portal data terbuka provinsi.' })
    })
    assert.equal(third.status, 201)
    await ops.reload()
    const thirdRow = ops.getByTestId('kr-row').filter({ hasText: 'Portal Data' })
    await thirdRow.getByTestId('kr-approve').click()
    await ops.locator('dialog[data-testid="kr-approve-form"]').waitFor()
    await check(ops, 'approve', other)
    await ops.locator('dialog[data-testid="kr-approve-form"] button[type="submit"]').click()
    await ops.getByTestId('kr-link-dialog').waitFor()
    await check(ops, 'link', other)
    const thirdLink = (await ops.getByTestId('kr-link').innerText()).trim()
    await ops.getByTestId('kr-link-done').click()
    await dev.goto(thirdLink)
    await dev.getByTestId('key-ready').waitFor()
    await check(dev, 'key-ready', other)
    await dev.getByTestId('key-show').click()
    await dev.getByTestId('key-value').waitFor()
    await check(dev, 'key-shown', other)

    // Every step is in the audit log, in words.
    await ops.goto(`${gw.url}/admin/audit`)
    await ops.getByTestId('audit-row').first().waitFor()
    const words = await ops.getByTestId('audit-row').allInnerTexts()
    for (const action of [L(other, 'Meminta kunci', 'Requested a key'), L(other, 'Menyetujui permintaan kunci', 'Approved a key request'),
      L(other, 'Menolak permintaan kunci', 'Declined a key request'), L(other, 'kunci ditampilkan', 'key shown')]) {
      assert.ok(words.some((w) => w.includes(action)), action)
    }
  })
}
