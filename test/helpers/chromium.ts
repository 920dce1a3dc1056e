// Debian's Chromium driven by playwright-core, as every browser test launches it:
// headless, a throwaway profile, closed and removed when the test ends.
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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
