import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { postLogin } from '../helpers/admin.js'
import { runGerbang, startGatewayProcess } from '../helpers/process.js'
import { startRedis } from '../helpers/redis.js'

const status = async (url: string, email: string, password: string): Promise<number> =>
  (await postLogin(url, email, password)).status

test('GERBANG_ADMIN_EMAIL and GERBANG_ADMIN_PASSWORD make the first admin once, and never reset it', async (t) => {
  const redis = await startRedis(t)
  const dir = await mkdtemp(join(tmpdir(), 'gerbang-first-admin-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const routes = join(dir, 'routes.yaml')
  await writeFile(routes, 'integrations:\n  yankes:\n    upstream: http://127.0.0.1:9\n')
  const env = { REDIS_URL: redis.url, GERBANG_KEY_PEPPER: 'first-admin-pepper-0123456789' }

  const first = await startGatewayProcess(t, routes, { ...env, GERBANG_ADMIN_EMAIL: 'kominfo@bantenprov.go.id', GERBANG_ADMIN_PASSWORD: 'pertama-kali-2026' })
  assert.ok(first.logs.some((l) => l.msg === 'created the first admin user from GERBANG_ADMIN_EMAIL'))
  assert.equal(await status(first.url, 'kominfo@bantenprov.go.id', 'pertama-kali-2026'), 200)
  first.child.kill('SIGTERM')
  assert.equal((await first.exited).code, 0)

  const second = await startGatewayProcess(t, routes, { ...env, GERBANG_ADMIN_EMAIL: 'kominfo@bantenprov.go.id', GERBANG_ADMIN_PASSWORD: 'sandi-lain-sekali' })
  assert.ok(!second.logs.some((l) => l.msg === 'created the first admin user from GERBANG_ADMIN_EMAIL'))
  assert.equal(await status(second.url, 'kominfo@bantenprov.go.id', 'sandi-lain-sekali'), 401, 'a changed variable resets nothing')
  assert.equal(await status(second.url, 'kominfo@bantenprov.go.id', 'pertama-kali-2026'), 200)
  second.child.kill('SIGTERM')
  await second.exited

  const half = await runGerbang(['start', '--routes', routes, '--port', '0', '--host', '127.0.0.1'], { ...env, GERBANG_ADMIN_EMAIL: 'a@bantenprov.go.id', GERBANG_ADMIN_PASSWORD: '' })
  assert.equal(half.code, 1)
  assert.match(half.stderr + half.stdout, /GERBANG_ADMIN_EMAIL and GERBANG_ADMIN_PASSWORD go together/)
  const weak = await runGerbang(['start', '--routes', routes, '--port', '0', '--host', '127.0.0.1'], { ...env, GERBANG_ADMIN_EMAIL: 'a@bantenprov.go.id', GERBANG_ADMIN_PASSWORD: 'pendek' })
  assert.equal(weak.code, 1)
  assert.match(weak.stderr + weak.stdout, /at least 12 characters/)
})
