// The Redis store against the Store contract, plus what only Redis has: other
// processes on the same server, outages, and a keyspace an attacker might dump.
import { before, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { ClientService } from '../../src/auth/clients.js'
import { generateToken, KEY_PREFIX, SecretHasher, TOKEN_PREFIX } from '../../src/auth/secrets.js'
import { RedisStore } from '../../src/store/redis-store.js'
import { StoreUnavailableError, type Store } from '../../src/store/types.js'
import { startRedis, type TestRedis } from '../helpers/redis.js'
import { waitUntil } from '../helpers/time.js'
import { collectChanges, newClient, newHash, newUser, storeContract, within } from './contract/index.js'

const run = promisify(execFile)

/** A store on `url` that is connected, and closed when the test ends. */
async function openStore (t: TestContext, url: string, prefix: string): Promise<RedisStore> {
  const store = new RedisStore({ url, prefix })
  t.after(async () => { await store.close() })
  await waitUntil(`connecting to ${url}`, () => store.isAvailable(), 5000)
  return store
}

// One server for the whole file (or REDIS_URL's); each test gets its own prefix
// on it, so every test starts from an empty store. Tests that stop Redis start their own.
let shared: TestRedis | undefined
let stores = 0
before(async (c) => {
  // startRedis stops its server through t.after; only a test context (here the
  // file's root one, so after the last test) has that.
  if (!('after' in c)) throw new Error('expected the root test context')
  shared = await startRedis(c)
})

function sharedRedis (): TestRedis {
  if (shared === undefined) throw new Error('the file-level Redis did not start')
  return shared
}

storeContract('RedisStore', async (t) => {
  const redis = sharedRedis()
  stores += 1
  return await openStore(t, redis.url, `${redis.prefix}${stores}:`)
})

test('RedisStore: a change published by one instance reaches another instance on the same Redis within 1 s', { timeout: 10_000 }, async (t) => {
  const redis = sharedRedis()
  const prefix = `${redis.prefix}pubsub:`
  const publisher = await openStore(t, redis.url, prefix)
  const listener = await openStore(t, redis.url, prefix)
  const received = await collectChanges(listener)
  const clientId = randomUUID()
  await publisher.publishChange({ clientId })
  await waitUntil('the change reaching the other instance', () => received.length > 0, 1000)
  assert.deepEqual(received, [{ clientId }])
})

const isUnavailable = (err: unknown): boolean => err instanceof StoreUnavailableError

/** Every data method must fail with StoreUnavailableError, each within 1 s. */
async function assertAllUnavailable (store: Store, clientId: string, keyHash: string): Promise<void> {
  const calls: Array<[string, () => Promise<unknown>]> = [
    ['createClient', async () => { await store.createClient(newClient(`during the outage ${randomUUID()}`), newHash()) }],
    ['getClient', async () => await store.getClient(clientId)],
    ['listClients', async () => await store.listClients()],
    ['listClients with search', async () => await store.listClients({ search: 'outage' })],
    ['revokeClient', async () => await store.revokeClient(clientId, new Date().toISOString())],
    ['rotateKey', async () => await store.rotateKey(clientId, newHash(), 0)],
    ['resolveKey', async () => await store.resolveKey(keyHash)],
    ['touchClients', async () => { await store.touchClients(new Map([[clientId, new Date().toISOString()]])) }],
    ['saveToken', async () => { await store.saveToken(newHash(), clientId, keyHash, 60_000) }],
    ['resolveToken', async () => await store.resolveToken(newHash())],
    ['createUser', async () => {
      await store.createUser({ email: `${randomUUID()}@example.org`, name: 'x', role: 'viewer', passwordHash: 'x', createdAt: new Date().toISOString() })
    }],
    ['getUser', async () => await store.getUser('someone@example.org')],
    ['countClients', async () => await store.countClients()],
    ['listUsers', async () => await store.listUsers()],
    ['updateUser', async () => await store.updateUser(newUser('someone@example.org'))],
    ['deleteUser', async () => await store.deleteUser('someone@example.org')],
    ['listRoles', async () => await store.listRoles()],
    ['getRole', async () => await store.getRole('auditor')],
    ['saveRole', async () => {
      await store.saveRole({ name: 'auditor', description: '', permissions: [], createdAt: new Date().toISOString() })
    }],
    ['deleteRole', async () => await store.deleteRole('auditor')],
    ['saveSession', async () => {
      await store.saveSession(newHash(), { email: 'someone@example.org', csrfToken: 'x', epoch: 0, createdAt: new Date().toISOString(), absoluteExpiry: Date.now() + 60_000 }, 60_000)
    }],
    ['getSession', async () => await store.getSession(newHash())],
    ['touchSession', async () => { await store.touchSession(newHash(), 60_000) }],
    ['deleteSession', async () => { await store.deleteSession(newHash()) }],
    ['appendAudit', async () => {
      await store.appendAudit({ at: new Date().toISOString(), actor: 'cli', action: 'client.create', targetType: 'client', targetId: clientId, targetName: 'x' })
    }],
    ['listAudit', async () => await store.listAudit(0, 10)],
    ['addCounts', async () => { await store.addCounts([{ bucket: 'outage', ttlMs: 60_000, counts: new Map([['hits', 1]]) }]) }],
    ['readCounts', async () => await store.readCounts(['outage'])],
    ['readCountFields', async () => await store.readCountFields('outage', ['hits'])],
    ['publishChange', async () => { await store.publishChange({ clientId }) }]
  ]
  for (const [name, call] of calls) {
    await within(1000, assert.rejects(call(), isUnavailable, `${name} should fail with StoreUnavailableError`), name)
  }
}

test('RedisStore: while Redis is down every call fails fast, and the store recovers by itself', { timeout: 30_000 }, async (t) => {
  // Its own server: this test kills it.
  const redis = await startRedis(t, { own: true })
  const store = await openStore(t, redis.url, redis.prefix)
  const client = newClient('survives nothing')
  const keyHash = newHash()
  await store.createClient(client, keyHash)
  let resyncs = 0
  const received = await collectChanges(store, () => { resyncs += 1 })
  // The subscription is live once a change goes round; only then can a loss be
  // noticed. Checked at the end, so that a broken subscription does not hide
  // how the rest of the store behaves through the outage.
  await store.publishChange({ clientId: client.id })
  const liveBefore = await waitUntil('the subscription before the outage', () => received.length > 0, 1000)
    .then(() => true, () => false)

  await redis.kill()
  // Straight away, before the client may even have noticed the socket closing...
  await assertAllUnavailable(store, client.id, keyHash)
  // ...and once it has.
  await waitUntil('isAvailable() turning false', () => !store.isAvailable(), 1000)
  await assertAllUnavailable(store, client.id, keyHash)
  assert.equal(store.isAvailable(), false)
  assert.equal(resyncs, 0)

  await redis.restart()
  await waitUntil('the store reconnecting after the restart', () => store.isAvailable(), 5000)
  // The restarted server is empty (and has no scripts loaded): everything works from scratch.
  const after = newClient('after the outage')
  const afterKey = newHash()
  await store.createClient(after, afterKey)
  assert.deepEqual(await store.getClient(after.id), after)
  assert.deepEqual(await store.resolveKey(afterKey), { client: after, expiresAt: undefined })
  assert.equal(await store.rotateKey(after.id, newHash(), 0), true)
  await waitUntil('onResync after the reconnection', () => resyncs > 0, 5000)
  assert.ok(liveBefore, 'a change published before the outage never reached the subscriber')
  // And changes flow again.
  received.length = 0
  const clientId = randomUUID()
  await store.publishChange({ clientId })
  await waitUntil('a change after the reconnection', () => received.length > 0, 1000)
  assert.deepEqual(received, [{ clientId }])
})

/** Every key under `prefix` and every value in it, the way an attacker with redis-cli would read them. */
async function dumpKeyspace (redis: Redis, prefix: string): Promise<{ keys: string[], values: string[] }> {
  const keys: string[] = []
  const values: string[] = []
  let cursor = '0'
  do {
    const [next, page] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    cursor = next
    for (const key of page) {
      keys.push(key)
      const type = await redis.type(key)
      if (type === 'string') values.push(await redis.get(key) ?? '')
      else if (type === 'hash') values.push(...Object.entries(await redis.hgetall(key)).flat())
      else if (type === 'set') values.push(...await redis.smembers(key))
      else if (type === 'zset') values.push(...await redis.zrange(key, 0, -1, 'WITHSCORES'))
      else if (type === 'list') values.push(...await redis.lrange(key, 0, -1))
      else assert.fail(`key ${key} has type ${type}, which this dump does not read`)
    }
  } while (cursor !== '0')
  return { keys, values }
}

test('RedisStore: no key or token is stored in clear', { timeout: 10_000 }, async (t) => {
  // Its own server, so that redis-cli KEYS sees this test's keys only.
  const redis = await startRedis(t, { own: true })
  const store = await openStore(t, redis.url, redis.prefix)
  const hasher = new SecretHasher('a-test-pepper-of-enough-length')
  const service = new ClientService(store, hasher)
  const secrets: string[] = []
  const hashes: string[] = []
  for (let i = 1; i <= 3; i++) {
    const { client, key } = await service.create({ name: `Secret keeper ${i}`, description: 'holds secrets', integrations: ['satusehat'] })
    const token = generateToken()
    await store.saveToken(hasher.hash(token), client.id, hasher.hash(key), 60_000)
    secrets.push(key, key.slice(KEY_PREFIX.length), token, token.slice(TOKEN_PREFIX.length))
    hashes.push(hasher.hash(key), hasher.hash(token))
  }

  const reader = new Redis(redis.url)
  t.after(async () => { await reader.quit() })
  const { keys, values } = await dumpKeyspace(reader, redis.prefix)
  // The dump must have seen the credentials (by their hashes), or it proves nothing.
  for (const hash of hashes) assert.ok(keys.some((k) => k.includes(hash)), `no key holds the hash ${hash}`)
  for (const text of [...keys, ...values]) {
    for (const secret of secrets) assert.ok(!text.includes(secret), `${JSON.stringify(text)} contains a secret`)
  }

  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(redis.port), 'KEYS', '*'])
  for (const hash of hashes) assert.ok(stdout.includes(hash), `redis-cli KEYS does not list the hash ${hash}`)
  for (const secret of secrets) assert.ok(!stdout.includes(secret), 'redis-cli KEYS shows a secret')
})
