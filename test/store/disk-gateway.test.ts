// The embedded store on disk with real processes (issue 17): `gerbang start`
// and the gerbang commands sharing GERBANG_DATA_DIR, a CLI revoke reaching
// every worker, backup under traffic and restore, migration to Redis.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { request } from 'node:http'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClientService } from '../../src/auth/clients.js'
import { SecretHasher } from '../../src/auth/secrets.js'
import { DiskStore } from '../../src/store/disk-store.js'
import { RedisStore } from '../../src/store/redis-store.js'
import { newKeyRequest } from './contract/helpers.js'
import { startEchoOrigin } from '../helpers/origin.js'
import { runGerbang, startGatewayProcess, type GatewayProcess } from '../helpers/process.js'
import { startRedis, storeConnected } from '../helpers/redis.js'
import { sleep, sleepUntil, waitFor } from '../helpers/time.js'

async function tempDir (t: TestContext, prefix = 'gerbang-disk-gw-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

/** A routes file with one apiKey integration, `echo`, in front of an echo origin. */
async function echoRoutes (t: TestContext, dir: string): Promise<string> {
  const origin = await startEchoOrigin()
  t.after(origin.close)
  const file = join(dir, 'routes.yaml')
  await writeFile(file, `integrations:\n  echo:\n    upstream: ${origin.url}\n    rateLimit: 1000000/1m\n`)
  return file
}

interface Answer { status: number, requestId: string }

/** GET /echo/ with a key, on a connection of its own (so the cluster hands it to the next worker). */
async function call (url: string, key: string): Promise<Answer> {
  const requestId = randomUUID()
  return await new Promise((resolve, reject) => {
    const req = request(`${url}/echo/`, { agent: false, headers: { 'x-api-key': key, 'x-request-id': requestId } }, (res) => {
      res.resume()
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, requestId }) })
    })
    req.setTimeout(5000, () => { req.destroy(new Error('no answer within 5 s')) })
    req.on('error', reject)
    req.end()
  })
}

/** The pid of the worker that answered a request, from its access log line. */
async function pidOf (gw: GatewayProcess, requestId: string): Promise<number> {
  const line = await waitFor(`the access log line of ${requestId}`, () => gw.logs.find((l) => l.reqId === requestId))
  return line.pid as number
}

/** Clients made directly in the store of `dir`, as `gerbang keys create` makes them; their keys. */
async function seedClients (dir: string, count: number): Promise<string[]> {
  const store = new DiskStore({ dir })
  try {
    const clients = new ClientService(store, new SecretHasher(store.keyPepper(undefined)))
    const keys: string[] = []
    for (let i = 0; i < count; i++) keys.push((await clients.create({ name: `Puskesmas ${i}`, integrations: ['echo'] })).key)
    return keys
  } finally {
    await store.close()
  }
}

async function everyKeyAccepted (url: string, keys: string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 25) {
    const answers = await Promise.all(keys.slice(i, i + 25).map(async (key) => await call(url, key)))
    answers.forEach((a, j) => { assert.equal(a.status, 200, `key ${i + j} answered ${a.status}`) })
  }
}

const ENV = { REDIS_URL: '', GERBANG_KEY_PEPPER: '' }

test('gerbang start without REDIS_URL: logs the store on disk and where; CLI keys work at the gateway and survive a restart', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t)
  const data = join(dir, 'data')
  const routes = await echoRoutes(t, dir)
  const env = { ...ENV, GERBANG_DATA_DIR: data }
  const created = await runGerbang(['keys', 'create', '--client', 'RSUD Banten', '--integrations', 'echo', '--json'], env)
  assert.equal(created.code, 0, created.stderr)
  const { id, key } = JSON.parse(created.stdout) as { id: string, key: string }

  const first = await startGatewayProcess(t, routes, env)
  const storeLine = first.logs.find((l) => l.store === 'disk')
  assert.ok(storeLine !== undefined, 'a log line names the store')
  assert.equal(storeLine.dataDir, data)
  assert.equal(storeLine.file, join(data, 'gerbang.db'))
  assert.equal((await call(first.url, key)).status, 200)
  first.child.kill('SIGTERM')
  assert.equal((await first.exited).code, 0)

  const listed = await runGerbang(['keys', 'list', '--json'], env)
  assert.equal(listed.code, 0, listed.stderr)
  assert.deepEqual((JSON.parse(listed.stdout) as Array<{ id: string }>).map((c) => c.id), [id])
  const second = await startGatewayProcess(t, routes, env)
  assert.equal((await call(second.url, key)).status, 200)
})

test('keys commands without REDIS_URL: list, revoke and rotate need an existing store and say where they looked', { timeout: 30_000 }, async (t) => {
  const dir = join(await tempDir(t), 'nothing-here')
  const listed = await runGerbang(['keys', 'list'], { ...ENV, GERBANG_DATA_DIR: dir })
  assert.equal(listed.code, 1)
  assert.match(listed.stderr, /no embedded store in .*nothing-here/)
  assert.match(listed.stderr, /GERBANG_DATA_DIR/)
  await assert.rejects(stat(dir), 'nothing was created')
})

test('a revoke from the CLI is refused by both workers of a running gateway within 1 s', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t)
  const routes = await echoRoutes(t, dir)
  const env = { ...ENV, GERBANG_DATA_DIR: join(dir, 'data') }
  const created = await runGerbang(['keys', 'create', '--client', 'Dinkes', '--integrations', 'echo', '--json'], env)
  assert.equal(created.code, 0, created.stderr)
  const { id, key } = JSON.parse(created.stdout) as { id: string, key: string }
  const gw = await startGatewayProcess(t, routes, env, ['--workers', '2'])
  const workers = new Set(gw.readyLine.pids as number[])
  assert.equal(workers.size, 2)
  t.after(() => { for (const pid of workers) try { process.kill(pid, 'SIGKILL') } catch { /* gone */ } })

  // Both workers know (and cache) the key.
  const warmed = new Set<number>()
  for (let i = 0; i < 40 && warmed.size < 2; i++) {
    const answer = await call(gw.url, key)
    assert.equal(answer.status, 200)
    warmed.add(await pidOf(gw, answer.requestId))
  }
  assert.equal(warmed.size, 2, 'both workers answered the key')

  const revoked = await runGerbang(['keys', 'revoke', id], env)
  assert.equal(revoked.code, 0, revoked.stderr)
  const acknowledged = Date.now()
  const after: Array<Answer & { at: number }> = []
  while (Date.now() - acknowledged < 1600) {
    const at = Date.now()
    after.push({ ...await call(gw.url, key), at })
    await sleep(20)
  }
  const late = after.filter((a) => a.at - acknowledged >= 1000)
  const latePids = new Set(await Promise.all(late.map(async (a) => await pidOf(gw, a.requestId))))
  assert.equal(latePids.size, 2, 'both workers answered after the first second')
  // 401, or 429 once this address has sent too many invalid credentials (src/auth/failure-throttle.ts).
  for (const a of late) assert.ok(a.status === 401 || a.status === 429, `answered ${a.status} ${a.at - acknowledged} ms after the revoke`)
  const firstRefusal = after.find((a) => a.status !== 200)
  t.diagnostic(`first refusal ${(firstRefusal?.at ?? NaN) - acknowledged} ms after the revoke was acknowledged`)
})

test('backup while 200 req/s of keyed traffic runs, then restore into a fresh directory: every key is accepted there', { timeout: 90_000 }, async (t) => {
  const dir = await tempDir(t)
  const routes = await echoRoutes(t, dir)
  const data = join(dir, 'data')
  const keys = await seedClients(data, 100)
  const gw = await startGatewayProcess(t, routes, { ...ENV, GERBANG_DATA_DIR: data })

  // 200 requests a second, spread over the keys, until the backup is done.
  const state = { running: true }
  const statuses = new Map<number, number>()
  const traffic = (async () => {
    let n = 0
    const started = Date.now()
    const inFlight: Array<Promise<void>> = []
    while (state.running) {
      const key = keys[n % keys.length] as string
      n++
      inFlight.push(call(gw.url, key).then(({ status }) => { statuses.set(status, (statuses.get(status) ?? 0) + 1) }))
      await sleepUntil(started + n * 5)
    }
    await Promise.all(inFlight)
    return n / ((Date.now() - started) / 1000)
  })()
  await sleep(1000)
  const file = join(dir, 'backup.db')
  const backup = await runGerbang(['backup', '--to', file], { ...ENV, GERBANG_DATA_DIR: data })
  await sleep(500)
  state.running = false
  const rate = await traffic
  assert.equal(backup.code, 0, backup.stderr)
  assert.match(backup.stdout, /100 clients/)
  assert.deepEqual([...statuses.keys()], [200], `statuses during the backup: ${JSON.stringify([...statuses])}`)
  // The floor shows traffic really ran through the backup; a starved CI machine
  // does not keep the 200 req/s pace (139 was seen), so it is set well below.
  assert.ok(rate > 50, `traffic ran at ${rate.toFixed(0)} req/s`)
  t.diagnostic(`traffic during the backup: ${rate.toFixed(0)} req/s, ${statuses.get(200) ?? 0} answers, all 200`)

  // A second backup to the same file is refused, not overwritten.
  const again = await runGerbang(['backup', '--to', file], { ...ENV, GERBANG_DATA_DIR: data })
  assert.equal(again.code, 1)
  assert.match(again.stderr, /already exists/)

  const fresh = join(dir, 'restored')
  const restored = await runGerbang(['restore', '--from', file], { ...ENV, GERBANG_DATA_DIR: fresh })
  assert.equal(restored.code, 0, restored.stderr)
  assert.match(restored.stdout, /100 clients/)
  const second = await startGatewayProcess(t, routes, { ...ENV, GERBANG_DATA_DIR: fresh })
  await everyKeyAccepted(second.url, keys)

  // Restoring over a store that is in use, or that holds clients, is refused.
  const busy = await runGerbang(['restore', '--from', file], { ...ENV, GERBANG_DATA_DIR: fresh })
  assert.equal(busy.code, 1)
  assert.match(busy.stderr, /running|in use/)
  second.child.kill('SIGTERM')
  await second.exited
  const full = await runGerbang(['restore', '--from', file], { ...ENV, GERBANG_DATA_DIR: fresh })
  assert.equal(full.code, 1)
  assert.match(full.stderr, /--force/)
  const forced = await runGerbang(['restore', '--from', file, '--force'], { ...ENV, GERBANG_DATA_DIR: fresh })
  assert.equal(forced.code, 0, forced.stderr)
})

test('migrate --to-redis moves clients, keys, users, roles, audit and key requests; a gateway on that Redis accepts every key', { timeout: 90_000 }, async (t) => {
  const dir = await tempDir(t)
  const routes = await echoRoutes(t, dir)
  const data = join(dir, 'data')
  const keys = await seedClients(data, 60)
  // A rotated key in its grace period, a revoked client, a user, a role.
  const store = new DiskStore({ dir: data })
  const pepper = store.keyPepper(undefined)
  const service = new ClientService(store, new SecretHasher(pepper))
  const rotating = await service.create({ name: 'Rotating', integrations: ['echo'] })
  const rotated = await service.rotate(rotating.client.id, 3_600_000)
  const gone = await service.create({ name: 'Gone', integrations: ['echo'] })
  await service.revoke(gone.client.id)
  await store.createUser({ email: 'kominfo@bantenprov.go.id', name: 'Kominfo', role: 'auditor', passwordHash: 'scrypt$x', createdAt: new Date().toISOString() })
  await store.saveRole({ name: 'auditor', description: 'reads the audit log', permissions: ['audit:read'], createdAt: new Date().toISOString() })
  // The self-service key-request queue: pending, approved with its one-time link, declined.
  const pending = newKeyRequest(1)
  const approved = newKeyRequest(2)
  const declined = newKeyRequest(3)
  for (const r of [pending, approved, declined]) assert.ok(await store.createKeyRequest(r, 200))
  const linkHash = randomUUID().replaceAll('-', '')
  await store.updateKeyRequest(approved.id, 'pending', { status: 'approved', linkHash, clientId: gone.client.id })
  await store.updateKeyRequest(declined.id, 'pending', { status: 'declined', reason: 'bukan instansi pemerintah' })
  const requests = await store.listKeyRequests()
  const requestCounts = await store.countKeyRequests()
  const audit = await store.listAudit(0, 1000)
  await store.close()

  const redis = await startRedis(t, { own: true })
  const migrated = await runGerbang(['migrate', '--to-redis'], { ...ENV, GERBANG_DATA_DIR: data, REDIS_URL: redis.url })
  assert.equal(migrated.code, 0, migrated.stderr)
  assert.match(migrated.stdout, /62 clients/)
  assert.match(migrated.stderr, /GERBANG_KEY_PEPPER/)

  const target = new RedisStore({ url: redis.url })
  t.after(async () => { await target.close() })
  await storeConnected(target, 5000)
  assert.equal(await target.countClients(), 62)
  assert.equal((await target.getUser('kominfo@bantenprov.go.id'))?.role, 'auditor')
  assert.equal((await target.getRole('auditor'))?.permissions[0], 'audit:read')
  assert.deepEqual(await target.listAudit(0, 1000), audit)
  assert.match(migrated.stdout, /3 key requests/)
  assert.deepEqual(await target.listKeyRequests(), requests)
  assert.deepEqual(await target.listKeyRequests({ status: 'pending' }), [requests.find((r) => r.id === pending.id)])
  assert.deepEqual(await target.countKeyRequests(), requestCounts)
  assert.equal((await target.findKeyRequestByLink(linkHash))?.id, approved.id)

  // Into a Redis that already holds clients: refused.
  const twice = await runGerbang(['migrate', '--to-redis'], { ...ENV, GERBANG_DATA_DIR: data, REDIS_URL: redis.url })
  assert.equal(twice.code, 1)
  assert.match(twice.stderr, /already holds/)

  const gw = await startGatewayProcess(t, routes, { REDIS_URL: redis.url, GERBANG_KEY_PEPPER: pepper, GERBANG_DATA_DIR: join(dir, 'unused') })
  await everyKeyAccepted(gw.url, [...keys, rotating.key, rotated?.key ?? ''])
  assert.equal((await call(gw.url, gone.key)).status, 401)
})
