// Debian's Chromium driven by playwright-core, as every browser test gets it:
// one headless browser per test file, started on first use and closed after
// the file's last test, and a fresh browser context (its own cookies, storage
// and permissions, like a new profile) for each test, closed when the test ends.
import { after, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { chromium, type Browser, type BrowserContext } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']

export interface LaunchOptions {
  /** Default: Playwright's (1280×720). */
  viewport?: { width: number, height: number }
  /** Grants clipboard reading and writing (copy buttons). */
  clipboard?: boolean
}

let browser: Promise<Browser> | undefined
after(async () => { await (await browser?.catch(() => undefined))?.close() })

/** A Chromium context of the test's own, in this file's browser; closed when `t` ends. */
export async function launchChromium (t: TestContext, options: LaunchOptions = {}): Promise<BrowserContext> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; \`bash .ci/run\` does)`)
  browser ??= chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS })
  const context = await (await browser).newContext({
    ...(options.viewport !== undefined ? { viewport: options.viewport } : {}),
    ...(options.clipboard === true ? { permissions: ['clipboard-read', 'clipboard-write'] } : {})
  })
  t.after(async () => { await context.close() })
  return context
}

/**
 * A node:http server on 127.0.0.1 and a free port answering every request with `html`: a second local origin for a
 * page.
 */
export async function servePage (t: TestContext, html: string): Promise<string> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    res.end(html)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => { resolve() }))
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}
