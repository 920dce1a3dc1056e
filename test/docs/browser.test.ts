import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { AddressInfo } from 'node:net'
import { chromium } from 'playwright-core'
import { buildApp } from '../../src/app.js'
import { formatProblem, parseRoutes } from '../../src/config/routes-loader.js'
import { startDemoUpstreams } from '../../demo/upstreams.js'
import { REPO_ROOT } from '../helpers/process.js'

const CHROMIUM = '/usr/bin/chromium'
const OUTPUT = resolve(REPO_ROOT, 'test-output/docs')

test('Swagger UI at /doc calls a yankes operation through the gateway with the reader\'s key', async (t) => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; \`bash .ci/run\` does)`)

  // The demo, in this process: sample upstreams and the repo's routes.yaml pointing at them.
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
  // Only the gateway on 127.0.0.1: anything else (a CDN) would fail the test.
  const foreign: string[] = []
  page.on('request', (request) => { if (!request.url().startsWith(base) && !request.url().startsWith('data:')) foreign.push(request.url()) })

  await page.goto(`${base}/doc`)
  await page.locator('button.authorize').first().click()
  const apiKeyBox = page.locator('.auth-container').filter({ hasText: 'x-api-key' })
  await apiKeyBox.locator('input').first().fill(demo.key)
  await apiKeyBox.locator('button.authorize').click()
  await page.locator('.modal-ux button.btn-done, .modal-ux button.close-modal').first().click()

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

  await mkdir(OUTPUT, { recursive: true })
  await page.screenshot({ path: join(OUTPUT, 'doc-try-it-out.png'), fullPage: false })
  assert.deepEqual(foreign, [])
})
