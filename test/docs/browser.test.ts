import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { AddressInfo } from 'node:net'
import { chromium, type Page } from 'playwright-core'
import type { Client } from '../../src/store/types.js'
import { buildApp } from '../../src/app.js'
import { formatProblem, parseRoutes } from '../../src/config/routes-loader.js'
import { startDemoUpstreams } from '../../demo/upstreams.js'
import { REPO_ROOT } from '../helpers/process.js'

const CHROMIUM = '/usr/bin/chromium'
const OUTPUT = resolve(REPO_ROOT, 'test-output/docs')

interface DocPage {
  page: Page
  base: string
  demo: { client: Client, key: string }
  /** Requests to anywhere but the gateway (a CDN would fail the test). */
  foreign: string[]
}

/** The demo's upstreams and routes in this process, and Chromium on /doc. */
async function openDoc (t: TestContext): Promise<DocPage> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; \`bash .ci/run\` does)`)
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

  const profile = await mkdtemp(join(tmpdir(), 'gerbang-chromium-'))
  t.after(async () => { await rm(profile, { recursive: true, force: true }) })
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 1400 }
  })
  t.after(async () => { await browser.close() })
  const page = browser.pages()[0] ?? await browser.newPage()
  const foreign: string[] = []
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
