import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { codes } from '../../src/errors.js'
import { PERMISSIONS } from '../../src/store/types.js'
import { REPO_ROOT } from '../helpers/process.js'

// Every text of the admin UI in both languages (issue 18, acceptance 2):
// each UI string key has a Bahasa Indonesia and an English text with the
// same placeholders, and every problem code, audit action and permission the
// server can send has its own words.

type Strings = Array<[key: string, id: string, en: string]>

async function uiStrings (): Promise<Strings> {
  // The compiled browser module (npm run build puts it in dist/admin-ui); a
  // computed path keeps tsc from resolving it at compile time.
  const file = resolve(REPO_ROOT, 'dist/admin-ui/i18n.js')
  const mod = await import(file) as { allStrings: () => Strings }
  return mod.allStrings()
}

const placeholders = (text: string): string[] => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? '').sort()

async function sourceFiles (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.ts')) out.push(join(entry.parentPath, entry.name))
  }
  return out
}

test('every UI string key has a non-empty Indonesian and English text with the same placeholders', async () => {
  const strings = await uiStrings()
  assert.ok(strings.length > 300, `only ${strings.length} strings`)
  for (const [key, id, en] of strings) {
    assert.ok(id.trim() !== '', `${key} has no Indonesian text`)
    assert.ok(en.trim() !== '', `${key} has no English text`)
    assert.deepEqual(placeholders(id), placeholders(en), `${key}: the placeholders differ between the two languages`)
  }
})

test('every problem code the server can send has its text in both languages', async () => {
  const keys = new Map((await uiStrings()).map(([key, id, en]) => [key, { id, en }]))
  const missing = Object.keys(codes).filter((code) => keys.get(`problem.${code}`) === undefined)
  assert.deepEqual(missing, [], `problem codes without UI text: ${missing.join(', ')}`)
})

test('every audit action written anywhere in src/ and every permission has a human label', async () => {
  const keys = new Set((await uiStrings()).map(([key]) => key))
  const actions = new Set<string>()
  for (const file of await sourceFiles(resolve(REPO_ROOT, 'src'))) {
    if (file.includes('/admin/ui/')) continue
    const text = await readFile(file, 'utf8')
    for (const m of text.matchAll(/audit\w*\([^)]*?'((?:client|user|role|session|keyRequest)\.[A-Za-z]+)'/g)) actions.add(m[1] ?? '')
  }
  assert.ok(actions.size >= 10, `found only ${[...actions].join(', ')}`)
  const unlabelled = [...actions].filter((a) => !keys.has(`audit.action.${a}`))
  assert.deepEqual(unlabelled, [], `audit actions without a label: ${unlabelled.join(', ')}`)
  const noPermission = PERMISSIONS.filter((p) => !keys.has(`perm.${p}`))
  assert.deepEqual(noPermission, [])
})
