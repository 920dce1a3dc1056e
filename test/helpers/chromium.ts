// Debian's Chromium driven by playwright-core, as every browser test launches it:
// headless, a throwaway profile, closed and removed when the test ends.
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { chromium, type BrowserContext } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']

export interface LaunchOptions {
  /** Default: Chromium's own (800×600). */
  viewport?: { width: number, height: number }
  /** Grants clipboard reading and writing (copy buttons). */
  clipboard?: boolean
}

/** A Chromium context with its own profile directory; both go when `t` ends. */
export async function launchChromium (t: TestContext, options: LaunchOptions = {}): Promise<BrowserContext> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; \`bash .ci/run\` does)`)
  const profile = await mkdtemp(join(tmpdir(), 'gerbang-chromium-'))
  const launching = chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    ...(options.viewport !== undefined ? { viewport: options.viewport } : {}),
    ...(options.clipboard === true ? { permissions: ['clipboard-read', 'clipboard-write'] } : {})
  })
  t.after(async () => {
    await (await launching.catch(() => undefined))?.close()
    await rm(profile, { recursive: true, force: true })
  })
  return await launching
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
