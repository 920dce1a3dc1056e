import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { SHARED_WORDS } from '../../src/admin/ui/i18n-shared.js'
import { allKeyRequestTexts } from '../../src/docs/key-request-texts.js'
import { REPO_ROOT } from '../helpers/process.js'

// The admin UI's texts are spread over src/admin/ui/i18n-*.ts by area of the
// console and merged by i18n.ts: a key written in two parts would keep only
// one of its texts without a word from the compiler.

type Strings = Array<[key: string, id: string, en: string]>
type Table = Record<string, [string, string]>

const UI = resolve(REPO_ROOT, 'dist/admin-ui')

async function parts (): Promise<Map<string, Table>> {
  const tables = new Map<string, Table>()
  for (const file of await readdir(UI)) {
    if (!/^i18n-.+\.js$/.test(file)) continue
    // A computed path keeps tsc from resolving the browser build at compile time.
    const mod = await import(join(UI, file)) as Record<string, unknown>
    for (const [name, value] of Object.entries(mod)) {
      if (name.endsWith('_STRINGS')) tables.set(`${file} ${name}`, value as Table)
    }
  }
  return tables
}

test('every admin UI text key is in exactly one i18n part, and the lookup has them all', async () => {
  const seen = new Map<string, string>()
  const twice: string[] = []
  for (const [part, table] of await parts()) {
    for (const key of Object.keys(table)) {
      const first = seen.get(key)
      if (first !== undefined) twice.push(`${key} (${first}, ${part})`)
      seen.set(key, part)
    }
  }
  assert.deepEqual(twice, [])
  const { allStrings } = await import(join(UI, 'i18n.js')) as { allStrings: () => Strings }
  assert.deepEqual(allStrings().map(([key]) => key).sort(), [...seen.keys()].sort())
})

test('each shared word is said by both the admin UI and the developer portal\'s key pages', async () => {
  const { allStrings } = await import(join(UI, 'i18n.js')) as { allStrings: () => Strings }
  const pair = ([, id, en]: [string, string, string]): string => `${id}\n${en}`
  const admin = new Set(allStrings().map(pair))
  const portal = new Set(allKeyRequestTexts().map(pair))
  for (const [name, [id, en]] of Object.entries(SHARED_WORDS)) {
    assert.ok(admin.has(`${id}\n${en}`), `${name} is not used by the admin UI`)
    assert.ok(portal.has(`${id}\n${en}`), `${name} is not used by the portal`)
  }
})
