// The store commands (`gerbang keys`, `users`, `backup`...) start without the
// server's dependencies: a script that runs `gerbang keys create` per client
// pays Node's start-up and the store, not TypeBox's ~200 modules or Fastify's.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { REPO_ROOT } from '../helpers/process.js'

const LIST_IMPORTS = `
import { registerHooks } from 'node:module'
const seen = new Set()
registerHooks({ resolve (specifier, context, next) { const r = next(specifier, context); seen.add(r.url); return r } })
for (const url of process.argv.slice(1)) await import(url)
process.stdout.write(JSON.stringify([...seen]))
`

test('the keys, users and storage commands load neither TypeBox nor Fastify', () => {
  const modules = ['keys', 'users', 'storage'].map((name) => pathToFileURL(resolve(REPO_ROOT, `dist/src/cli/${name}.js`)).href)
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', LIST_IMPORTS, ...modules], { encoding: 'utf8' })
  assert.equal(run.status, 0, run.stderr)
  const loaded = JSON.parse(run.stdout) as string[]
  assert.ok(loaded.some((url) => url.endsWith('/dist/src/cli/keys.js')), 'the hook saw the commands load')
  assert.deepEqual(loaded.filter((url) => /node_modules\/(@sinclair\/typebox|fastify)\//.test(url)), [])
})
