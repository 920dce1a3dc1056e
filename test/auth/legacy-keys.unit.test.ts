import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { Authenticator } from '../../src/auth/authenticator.js'
import type { Principal } from '../../src/auth/principal.js'
import { importLegacyRows } from '../../src/auth/legacy-import.js'
import { ClientService } from '../../src/auth/clients.js'
import { SecretHasher } from '../../src/auth/secrets.js'
import { parseRoutes, type Integration } from '../../src/config/routes-loader.js'
import { GerbangError } from '../../src/errors.js'
import { MemoryStore } from '../../src/store/memory-store.js'
import type { ResolvedCredential } from '../../src/store/types.js'
import { sleep } from '../helpers/time.js'

// Which keys of the old API manager's shape reach the store, and how often:
// only lengths an import brought in, and an unknown one at most once per 5 s.

class CountingStore extends MemoryStore {
  lookups = 0
  override async resolveKey (keyHash: string): Promise<ResolvedCredential | undefined> {
    this.lookups++
    return await super.resolveKey(keyHash)
  }
}

const sha1 = (text: string): string => createHash('sha1').update(text).digest('hex')

function integration (): Integration {
  const result = parseRoutes('integrations:\n  yankes:\n    upstream: http://127.0.0.1:9\n')
  assert.ok(result.ok)
  return result.config.integrations[0] as Integration
}

async function outcome (auth: Authenticator, key: string): Promise<Principal | GerbangError> {
  return await auth.authenticate({ 'x-api-key': key }, '', integration(), '127.0.0.1')
}

test('legacy-shaped keys: looked up only when an import brought keys of their length in, unknown ones once per 5 s', async (t) => {
  const store = new CountingStore()
  const hasher = new SecretHasher('legacy-keys-test-pepper-0123456789')
  const auth = new Authenticator(store, hasher, { failures: { limit: 10_000 } })
  await auth.start()
  t.after(async () => { await auth.close() })

  const before = await outcome(auth, sha1('dinkes'))
  assert.ok(before instanceof GerbangError && before.code === 'CREDENTIALS_INVALID')
  assert.equal(store.lookups, 0, 'before any import, a 40-hex key is refused without a lookup')

  const odd = 'Custom-Key_0123456789.abc'
  await importLegacyRows(store, hasher, [{ id: '1', key: sha1('dinkes'), domain: 'dinkes' }, { id: '2', key: odd }],
    { integrations: '*', dryRun: false })
  // The import announced itself: the authenticator reread the lengths.
  await sleep(20)

  const found = await outcome(auth, sha1('dinkes'))
  assert.ok(!(found instanceof GerbangError), String(found))
  assert.equal(found.name, 'dinkes')
  assert.equal(found.legacy, true)
  assert.ok(!(await outcome(auth, odd) instanceof GerbangError), 'a 25-character key that an import brought in')
  const lookups = store.lookups

  const random = randomBytes(20).toString('hex')
  for (let i = 0; i < 20; i++) {
    const answer = await outcome(auth, random)
    assert.ok(answer instanceof GerbangError && answer.code === 'CREDENTIALS_INVALID')
  }
  assert.equal(store.lookups, lookups + 1, 'a random 40-hex key reaches the store once, then is remembered as unknown')

  assert.ok(await outcome(auth, randomBytes(16).toString('hex')) instanceof GerbangError)
  assert.ok(await outcome(auth, 'x'.repeat(129)) instanceof GerbangError)
  assert.ok(await outcome(auth, 'has a space in it, 40 characters long..') instanceof GerbangError)
  assert.equal(store.lookups, lookups + 1, 'other lengths and shapes are refused without a lookup')

  // A Gerbang client's key is never accepted in a legacy shape: only imported clients have one.
  const clients = new ClientService(store, hasher)
  const { client } = await clients.create({ name: 'not imported', integrations: '*' })
  const forged = 'f'.repeat(40)
  await store.rotateKey(client.id, hasher.hash(forged), 0)
  const refused = await outcome(auth, forged)
  assert.ok(refused instanceof GerbangError && refused.code === 'CREDENTIALS_INVALID')
})

test('rotating a legacy client: the old key works through the grace, the new Gerbang key at once, a revoke ends both', async (t) => {
  const store = new MemoryStore()
  const hasher = new SecretHasher('legacy-keys-test-pepper-0123456789')
  const auth = new Authenticator(store, hasher, { freshMs: 0 })
  await auth.start()
  t.after(async () => { await auth.close() })
  const old = sha1('rsud-malingping')
  const report = await importLegacyRows(store, hasher, [{ id: '42', key: old, domain: 'rsud-malingping' }], { integrations: '*', dryRun: false })
  const id = report.clients[0]?.clientId as string
  const clients = new ClientService(store, hasher)
  const rotated = await clients.rotate(id, 3600_000)
  assert.ok(rotated !== undefined)
  assert.equal(rotated.client.legacy?.id, '42')
  assert.ok(rotated.client.legacy?.rotatedAt !== undefined)
  const until = Date.parse(rotated.client.legacy?.oldKeyUntil ?? '')
  assert.ok(Math.abs(until - (Date.now() + 3600_000)) < 5000)
  assert.ok(!(await outcome(auth, old) instanceof GerbangError), 'the old key in its grace')
  assert.ok(!(await outcome(auth, rotated.key) instanceof GerbangError), 'the new key')
  await clients.revoke(id)
  assert.ok(await outcome(auth, old) instanceof GerbangError)
  assert.ok(await outcome(auth, rotated.key) instanceof GerbangError)
})
