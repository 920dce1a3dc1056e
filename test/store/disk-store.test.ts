// The embedded store on disk against the Store contract, plus what only it
// has: other instances (other processes) on the same directory, the key
// pepper it keeps, and a runtime file it may rebuild.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { execFile } from 'node:child_process'
import { DiskStore, RUNTIME_FILE, StoreMissingError, storeExists } from '../../src/store/disk-store.js'
import { collectChanges, newClient, newHash, storeContract } from './contract/index.js'
import { sleep, waitUntil } from '../helpers/time.js'

/** A fresh directory, deleted when the test ends. */
async function tempDir (t: TestContext, parent = tmpdir()): Promise<string> {
  const dir = await mkdtemp(join(parent, 'gerbang-disk-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

function open (
  t: TestContext, dir: string, options: Partial<ConstructorParameters<typeof DiskStore>[0]> = {}
): DiskStore {
  const store = new DiskStore({ dir, ...options })
  t.after(async () => { await store.close() })
  return store
}

// The contract checks what the store answers, not that it reached the disk
// (disk-crash.test.ts and the tests below do, on a real disk): in memory
// (tmpfs) its hundreds of fsyncs cost nothing, which took minutes off the suite.
const CONTRACT_PARENT = existsSync('/dev/shm') ? '/dev/shm' : tmpdir()
storeContract('DiskStore', async (t) => open(t, await tempDir(t, CONTRACT_PARENT)))

test('DiskStore: what one instance writes, another on the same directory reads, and its changes arrive within 1 s', { timeout: 10_000 }, async (t) => {
  const dir = await tempDir(t)
  const a = open(t, dir)
  const b = open(t, dir)
  const received = await collectChanges(b)
  const client = newClient('RSUD Balaraja', { integrations: ['yankes'] })
  const keyHash = newHash()
  await a.createClient(client, keyHash)
  assert.deepEqual(await b.resolveKey(keyHash), { client, expiresAt: undefined })
  await a.revokeClient(client.id, '2026-03-01T08:00:00.000Z')
  const published = Date.now()
  await a.publishChange({ clientId: client.id })
  await waitUntil('the change reaching the other instance', () => received.length > 0, 1000)
  assert.ok(Date.now() - published < 1000)
  assert.deepEqual(received, [{ clientId: client.id }])
  assert.equal((await b.resolveKey(keyHash))?.client.revokedAt, '2026-03-01T08:00:00.000Z')
})

test('DiskStore: a process\'s own change is heard at once, and only once', { timeout: 10_000 }, async (t) => {
  const store = open(t, await tempDir(t), { pollMs: 20 })
  const received = await collectChanges(store)
  await store.publishChange({ clientId: 'x' })
  assert.deepEqual(received, [{ clientId: 'x' }])
  await sleep(100) // polled every 20 ms: five chances to hear it again
  assert.deepEqual(received, [{ clientId: 'x' }])
})

test('DiskStore: everything survives closing and opening again', { timeout: 10_000 }, async (t) => {
  const dir = await tempDir(t)
  const first = new DiskStore({ dir })
  const client = newClient('Bapenda', { integrations: '*', legacy: { id: '3', importedAt: '2026-01-01T00:00:00.000Z' } })
  const keyHash = newHash()
  await first.createClient(client, keyHash)
  await first.touchClients(new Map([[client.id, '2026-03-01T08:00:00.000Z']]))
  await first.createUser({ email: 'a@bantenprov.go.id', name: 'a', role: 'admin', passwordHash: 'x', createdAt: '2026-01-01T00:00:00.000Z' })
  await first.appendAudit({ at: '2026-01-01T00:00:00.000Z', actor: 'cli', action: 'client.create', targetType: 'client', targetId: client.id, targetName: client.name })
  await first.close()
  const second = open(t, dir)
  assert.deepEqual(await second.resolveKey(keyHash), { client: { ...client, lastUsedAt: '2026-03-01T08:00:00.000Z' }, expiresAt: undefined })
  assert.equal((await second.listUsers()).length, 1)
  assert.equal((await second.listAudit(0, 10)).length, 1)
})

test('DiskStore: the files are the owner\'s only', { timeout: 10_000 }, async (t) => {
  const dir = join(await tempDir(t), 'data')
  const store = open(t, dir)
  await store.createClient(newClient('x'), newHash())
  assert.equal((await stat(dir)).mode & 0o777, 0o700)
  assert.equal((await stat(store.files.data)).mode & 0o777, 0o600)
  assert.equal((await stat(store.files.data + '-wal')).mode & 0o777, 0o600)
})

test('DiskStore: with create: false a missing store is an error, and nothing is made', { timeout: 10_000 }, async (t) => {
  const dir = join(await tempDir(t), 'nowhere')
  assert.throws(() => new DiskStore({ dir, create: false }), StoreMissingError)
  assert.equal(storeExists(dir), false)
})

test('DiskStore: the key pepper is made once and kept; GERBANG_KEY_PEPPER must stay the same', { timeout: 10_000 }, async (t) => {
  const own = open(t, await tempDir(t))
  const pepper = own.keyPepper(undefined)
  assert.ok(pepper.length >= 32)
  assert.equal(own.keyPepper(undefined), pepper)
  assert.equal(own.keyPepper(pepper), pepper, 'the same value in the environment is fine')
  assert.throws(() => own.keyPepper('another pepper of enough length'), /GERBANG_KEY_PEPPER is not the pepper/)
  assert.equal(own.ownsPepper(), true)

  const fromEnv = open(t, await tempDir(t))
  assert.equal(fromEnv.keyPepper('an operator pepper, 16+ bytes'), 'an operator pepper, 16+ bytes')
  assert.equal(fromEnv.ownsPepper(), false)
  assert.equal(fromEnv.keyPepper('an operator pepper, 16+ bytes'), 'an operator pepper, 16+ bytes')
  assert.throws(() => fromEnv.keyPepper('another pepper of enough length'), /GERBANG_KEY_PEPPER is not the pepper/)
  assert.throws(() => fromEnv.keyPepper(undefined), /made with GERBANG_KEY_PEPPER, which is not set/)
})

test('DiskStore: leases of two instances never pass a limit together', { timeout: 10_000 }, async (t) => {
  const dir = await tempDir(t)
  const a = open(t, dir)
  const b = open(t, dir)
  const counters = [{ key: 'yankes', limit: 100, windowMs: 60_000 }]
  let granted = 0
  for (let i = 0; i < 200; i++) {
    const store = i % 2 === 0 ? a : b
    granted += (await store.lease('client-1', counters, 2, 1000)).granted
  }
  assert.equal(granted, 100)
  assert.equal(await a.heartbeat('a', 5000), 1)
  assert.equal(await b.heartbeat('b', 5000), 2)
})

test('DiskStore: an unreadable runtime file is rebuilt; the clients are untouched', { timeout: 10_000 }, async (t) => {
  const dir = await tempDir(t)
  const first = new DiskStore({ dir })
  const client = newClient('kept')
  const keyHash = newHash()
  await first.createClient(client, keyHash)
  await first.close()
  await rm(join(dir, RUNTIME_FILE + '-wal'), { force: true })
  await writeFile(join(dir, RUNTIME_FILE), 'not a database at all, but long enough to have a header of sorts....................')
  const second = open(t, dir)
  assert.equal((await second.resolveKey(keyHash))?.client.id, client.id)
  assert.equal(await second.heartbeat(randomUUID(), 5000), 1)
})

test('processes opening a new store at the same moment (--workers, a command beside a starting gateway) all open it', { timeout: 60_000 }, async (t) => {
  // Before the fix about 2 in 90 such openings failed with "database is locked".
  const moduleUrl = new URL('../../src/store/disk-store.js', import.meta.url).href
  const script = `import { DiskStore } from ${JSON.stringify(moduleUrl)}
try { const s = new DiskStore({ dir: process.argv[1] }); s.keyPepper(undefined); await s.close(); process.stdout.write('ok') }
catch (err) { process.stdout.write('FAIL ' + err.message) }`
  const failures: string[] = []
  for (let round = 0; round < 12; round++) {
    const dir = await mkdtemp(join(tmpdir(), 'gerbang-disk-race-'))
    t.after(async () => { await rm(dir, { recursive: true, force: true }) })
    const outputs = await Promise.all(Array.from({ length: 6 }, async () =>
      await new Promise<string>((resolve, reject) => {
        execFile(process.execPath, ['--input-type=module', '-e', script, join(dir, 'data')], (err, stdout) => {
          if (err !== null) reject(err)
          else resolve(stdout)
        })
      })))
    failures.push(...outputs.filter((o) => o !== 'ok'))
  }
  assert.deepEqual(failures, [])
})
