import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { AddressInfo } from 'node:net'
import type { Page } from 'playwright-core'
import { CODE_TEXTS } from '../../src/docs/portal.js'
import type { Client } from '../../src/store/types.js'
import { buildApp } from '../../src/app.js'
import { formatProblem, parseRoutes } from '../../src/config/routes-loader.js'
import { startDemoUpstreams } from '../../demo/upstreams.js'
import { REPO_ROOT } from '../helpers/process.js'
import { launchChromium } from '../helpers/chromium.js'

const OUTPUT = resolve(REPO_ROOT, 'test-output/docs')

interface DocPage {
  page: Page
  base: string
  demo: { client: Client, key: string }
  /** Requests to anywhere but the gateway (a CDN would fail the test). */
  foreign: string[]
}

/** The demo's upstreams and routes in this process, and Chromium on /doc. */
async function openDoc (t: TestContext, viewport = { width: 1280, height: 1400 }): Promise<DocPage> {
  const upstreams = await startDemoUpstreams('127.0.0.1')
  t.after(upstreams.close)
  const env = Object.fromEntries(Object.entries(upstreams.origins)
    .map(([name, origin]) => [`${name.toUpperCase().replaceAll('-', '_')}_UPSTREAM`, origin]))
  const loaded = parseRoutes(await readFile(resolve(REPO_ROOT, 'routes.yaml'), 'utf8'), env, { baseDir: REPO_ROOT })
  if (!loaded.ok) throw new Error(loaded.problems.map((p) => formatProblem('routes.yaml', p)).join('\n'))
  const app = await buildApp({ routes: loaded.config })
  t.after(async () => { await app.close() })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const demo = await app.clients.create({ name: 'Demo', integrations: '*' })

  const browser = await launchChromium(t, { viewport })
  const page = browser.pages()[0] ?? await browser.newPage()
  const foreign: string[] = []
  const cspViolations: string[] = []
  page.on('console', (message) => { if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text()) })
  t.after(() => { assert.deepEqual(cspViolations, [], 'no CSP violation on /doc') })
  page.on('request', (request) => { if (!request.url().startsWith(base) && !request.url().startsWith('data:')) foreign.push(request.url()) })
  await page.goto(`${base}/doc`)
  return { page, base, demo, foreign }
}

/** Try it out → Execute on GET /yankes/dokter; asserts a 200 with the demo's doctors. */
async function tryDoctors (page: Page): Promise<void> {
  const operation = page.locator('.opblock').filter({ has: page.locator('.opblock-summary-path[data-path="/yankes/dokter"]') })
  await operation.locator('.opblock-summary').first().click()
  await operation.locator('button.try-out__btn').click()
  await operation.locator('button.execute').click()

  const live = operation.locator('.live-responses-table tr.response')
  await live.locator('.response-col_status').first().waitFor()
  assert.equal((await live.locator('.response-col_status').first().innerText()).trim(), '200')
  const body = await live.locator('.response-col_description').first().innerText()
  assert.match(body, /dr\. Ahmad Fauzi, Sp\.PD/)
  assert.match(body, /"per_page": 5/)
}

test('Swagger UI at /doc calls a yankes operation through the gateway with the reader\'s key', async (t) => {
  const { page, demo, foreign } = await openDoc(t)
  await page.locator('button.authorize').first().click()
  const apiKeyBox = page.locator('.auth-container').filter({ hasText: 'x-api-key' })
  await apiKeyBox.locator('input').first().fill(demo.key)
  await apiKeyBox.locator('button.authorize').click()
  await page.locator('.modal-ux button.btn-done, .modal-ux button.close-modal').first().click()
  await tryDoctors(page)

  await mkdir(OUTPUT, { recursive: true })
  await page.screenshot({ path: join(OUTPUT, 'doc-try-it-out.png'), fullPage: false })
  assert.deepEqual(foreign, [])
})

test('Swagger UI\'s OAuth2 client-credentials flow gets a token and Try it out answers 200', async (t) => {
  const { page, demo, foreign } = await openDoc(t)
  await page.locator('button.authorize').first().click()
  const oauthBox = page.locator('.auth-container').filter({ hasText: 'clientCredentials' })
  await oauthBox.locator('input#client_id, input[data-name="clientId"], input[name="client_id"]').first().fill(demo.client.id)
  await oauthBox.locator('input#client_secret, input[data-name="clientSecret"], input[name="client_secret"]').first().fill(demo.key)
  const token = page.waitForResponse((res) => res.url().includes('/oauth2/v1/accesstoken'))
  await oauthBox.locator('button.authorize').click()
  assert.equal((await token).status(), 200)
  await page.locator('.modal-ux button.btn-done, .modal-ux button.close-modal').first().click()
  // The call Swagger UI then makes carries the token under the scheme it was told (BearerToken).
  const call = page.waitForRequest((req) => req.url().includes('/yankes/dokter'))
  await tryDoctors(page)
  assert.match((await call).headers().authorization ?? '', /^(Bearer|BearerToken) gbt_/)
  assert.deepEqual(foreign, [])
})

interface Violation { id: string, impact: string | null, help: string, nodes: Array<{ target: unknown[] }> }

/**
 * axe-core in the page (through the devtools protocol, which the CSP does not govern): serious and critical violations.
 */
async function axeViolations (page: Page): Promise<string[]> {
  await page.evaluate(await readFile(resolve(REPO_ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8'))
  const result = await page.evaluate('axe.run(document, { resultTypes: ["violations"] })') as { violations: Violation[] }
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    // Swagger UI's own markup: an operation's summary button holds its path's copy button. Not ours to redraw.
    .filter((v) => v.id !== 'nested-interactive')
    .map((v) => `${v.id} (${v.impact ?? ''}): ${v.help} at ${JSON.stringify(v.nodes.slice(0, 3).map((n) => n.target))}`)
}

for (const viewport of [{ width: 1366, height: 768 }, { width: 390, height: 844 }]) {
  test(`the developer portal at ${viewport.width}×${viewport.height}: Gerbang's header, Indonesian first, notes, error codes, English switch, axe`, async (t) => {
    const { page, foreign } = await openDoc(t, viewport)
    const size = `${viewport.width}x${viewport.height}`
    await mkdir(OUTPUT, { recursive: true })

    // Branding: Gerbang's header, no Swagger UI top bar (Fastify logo, Explore).
    const header = page.locator('header.gb-header')
    await header.waitFor()
    assert.equal(await header.locator('.gb-name').innerText(), 'Gerbang')
    assert.match(await header.locator('img').getAttribute('src') ?? '', /\/doc\/static\/theme\/gerbang\.svg$/)
    await page.locator('.swagger-ui .info .title').waitFor()
    assert.equal(await page.locator('.swagger-ui .topbar, .download-url-wrapper').count(), 0)
    assert.equal(await page.locator('text=Explore').count(), 0)
    assert.equal(await page.evaluate('document.documentElement.lang'), 'id')
    assert.equal(await page.title(), 'Gerbang — Portal Pengembang API Provinsi Banten')

    // "Cara mendapatkan kunci", reached from the header.
    await header.getByRole('link', { name: 'Cara mendapatkan kunci' }).click()
    const keys = page.locator('#cara-mendapatkan-kunci')
    assert.equal(await keys.innerText(), 'Cara mendapatkan kunci')
    assert.ok(await keys.isVisible())

    // The notes keep their ids through Swagger UI's sanitizer and are drawn as SATUSEHAT's admonitions.
    const warning = page.locator('aside[id="gb-warning-kunci"]')
    assert.equal(await warning.getAttribute('role'), 'note')
    const style = await warning.evaluate((el) => {
      const s = (globalThis as unknown as {
        getComputedStyle: (e: unknown) => Record<string, string>
      }).getComputedStyle(el)
      return { bar: s.borderLeftColor, width: s.borderLeftWidth, bg: s.backgroundColor }
    })
    assert.deepEqual(style, { bar: 'rgb(230, 167, 0)', width: '6px', bg: 'rgb(255, 248, 230)' })
    assert.match(await warning.innerText(), /^PERHATIAN/)
    await page.screenshot({ path: join(OUTPUT, `portal-id-${size}.png`), fullPage: false })

    // The error-code table.
    const rows = page.locator('.swagger-ui .info table tbody tr')
    assert.equal(await rows.count(), Object.values(CODE_TEXTS).filter((c) => !c.admin).length)
    assert.match(await rows.filter({ hasText: 'RATE_LIMITED' }).innerText(), /429\s+RATE_LIMITED\s+Melebihi batas laju/)

    assert.deepEqual(await axeViolations(page), [], 'axe in Bahasa Indonesia')

    // English: the switch reloads the page, in English, with the English document.
    const english = page.waitForRequest((req) => req.url().endsWith('/doc/json?lang=en'))
    await header.getByRole('button', { name: 'English' }).click()
    await english
    await page.locator('#cara-mendapatkan-kunci').waitFor()
    assert.equal(await page.evaluate('document.documentElement.lang'), 'en')
    assert.equal(await page.locator('#cara-mendapatkan-kunci').innerText(), 'How to get a key')
    assert.equal(await page.locator('header.gb-header').getByRole('button', { name: 'English' }).getAttribute('aria-pressed'), 'true')
    assert.match(await page.locator('aside[id="gb-warning-kunci"]').innerText(), /^CAUTION/)
    await page.screenshot({ path: join(OUTPUT, `portal-en-${size}.png`), fullPage: false })
    assert.deepEqual(await axeViolations(page), [], 'axe in English')

    // The choice stays (localStorage), and Bahasa Indonesia comes back the same way.
    await page.reload()
    await page.locator('#cara-mendapatkan-kunci').waitFor()
    assert.equal(await page.locator('#cara-mendapatkan-kunci').innerText(), 'How to get a key')
    await page.locator('header.gb-header').getByRole('button', { name: 'Bahasa Indonesia' }).click()
    await page.locator('#cara-mendapatkan-kunci', { hasText: 'Cara mendapatkan kunci' }).waitFor()
    assert.equal(await page.evaluate('document.documentElement.lang'), 'id')
    assert.deepEqual(foreign, [])
  })
}
