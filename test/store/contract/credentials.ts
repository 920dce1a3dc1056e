// The CredentialStore contract (src/store/credentials.ts) as tests: clients,
// the legacy import, edits and deletion; keys and tokens are in
// credential-keys.ts. Run on every store by storeContract (index.ts).
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import type { Client, CredentialStore } from '../../../src/store/types.js'
import { keyAndTokenContract } from './credential-keys.js'
import { createNamed, isConflict, LIMITS, names, newClient, newHash, type MakeStore } from './helpers.js'

export function credentialStoreContract (make: MakeStore<CredentialStore>): void {
  describe('clients', () => {
    test('a created client reads back as it was given, unknown ids as undefined', LIMITS, async (t) => {
      const store = await make(t)
      const client = newClient('RSUD dr. Dradjat Prawiranegara', {
        description: 'Rumah sakit daerah, Serang',
        integrations: ['satusehat', 'bpjs-vclaim'],
        rateLimit: '100/1m',
        expiresAt: '2027-12-31T23:59:59.000Z',
        allowedIps: ['10.20.0.0/16', '192.0.2.7']
      })
      await store.createClient(client, newHash())
      assert.deepEqual(await store.getClient(client.id), client)
      const everything = newClient('all integrations', { integrations: '*' })
      await store.createClient(everything, newHash())
      assert.deepEqual(await store.getClient(everything.id), everything)
      assert.equal(await store.getClient(randomUUID()), undefined)
    })

    test('a second client with the same name in another case is a conflict and leaves nothing behind', LIMITS, async (t) => {
      const store = await make(t)
      const first = newClient('Dinkes Banten')
      await store.createClient(first, newHash())
      const second = newClient('dinkes BANTEN')
      const secondKey = newHash()
      await assert.rejects(store.createClient(second, secondKey), isConflict)
      assert.equal(await store.getClient(second.id), undefined)
      assert.equal(await store.resolveKey(secondKey), undefined)
      assert.deepEqual(await names(store), ['Dinkes Banten'])
    })

    test('listClients sorts by name regardless of case and honours the limit', LIMITS, async (t) => {
      const store = await make(t)
      assert.deepEqual(await store.listClients(), [])
      const made = await createNamed(store, ['gamma', 'alpha', 'Beta', 'delta'])
      assert.deepEqual(await names(store), ['alpha', 'Beta', 'delta', 'gamma'])
      assert.deepEqual(await names(store, { limit: 2 }), ['alpha', 'Beta'])
      assert.deepEqual(await names(store, { offset: 1, limit: 2 }), ['Beta', 'delta'])
      assert.deepEqual(await names(store, { offset: 3 }), ['gamma'])
      assert.deepEqual(await names(store, { offset: 4 }), [])
      assert.deepEqual(await names(store, { offset: 10, limit: 5 }), [])
      assert.deepEqual(await names(store, { offset: 0, limit: 0 }), [])
      // Whole clients come back, not just names.
      const listed = await store.listClients({ limit: 1 })
      assert.deepEqual(listed, [made[1]?.client])
    })

    test('listClients returns at most 100 clients by default', LIMITS, async (t) => {
      const store = await make(t)
      const all = Array.from({ length: 105 }, (_, i) => `client ${String(i).padStart(3, '0')}`)
      await Promise.all(all.map(async (n) => { await store.createClient(newClient(n), newHash()) }))
      assert.deepEqual(await names(store), all.slice(0, 100))
    })

    test('search matches a case-insensitive fragment of the name, never of the id', LIMITS, async (t) => {
      const store = await make(t)
      const made = await createNamed(store, ['RSUD Serang', 'Puskesmas Cilegon', 'Dinas Kesehatan Kota Serang', 'Bapenda'])
      assert.deepEqual(await names(store, { search: 'SERANG' }), ['Dinas Kesehatan Kota Serang', 'RSUD Serang'])
      // A fragment from the middle of a name.
      assert.deepEqual(await names(store, { search: 'kesmas' }), ['Puskesmas Cilegon'])
      assert.deepEqual(await names(store, { search: 'sehatan kota' }), ['Dinas Kesehatan Kota Serang'])
      assert.deepEqual(await names(store, { search: 'serang', limit: 1 }), ['Dinas Kesehatan Kota Serang'])
      // The offset counts matches only, not the clients skipped over.
      assert.deepEqual(await names(store, { search: 'serang', offset: 1 }), ['RSUD Serang'])
      assert.deepEqual(await names(store, { search: 'serang', offset: 1, limit: 1 }), ['RSUD Serang'])
      assert.deepEqual(await names(store, { search: 'serang', offset: 2 }), [])
      assert.deepEqual(await names(store, { search: 'kesmas', offset: 1 }), [])
      assert.deepEqual(await names(store, { search: 'nowhere' }), [])
      // Ids sit next to names in some layouts; they must not be searchable.
      const id = made[3]?.client.id ?? ''
      assert.deepEqual(await names(store, { search: id }), [])
      assert.deepEqual(await names(store, { search: id.slice(9, 23) }), [])
      // Nor may a fragment straddle the end of a name and the start of its id.
      assert.deepEqual(await names(store, { search: `bapenda${id.slice(0, 4)}` }), [])
    })

    test('glob characters in a search are literal', LIMITS, async (t) => {
      const store = await make(t)
      await createNamed(store, ['a*b', 'a?c', 'x[1]y', 'x1y', 'axc', 'plain ab', 'back\\slash', 'caret^x'])
      assert.deepEqual(await names(store, { search: '*' }), ['a*b'])
      assert.deepEqual(await names(store, { search: 'a*b' }), ['a*b'])
      assert.deepEqual(await names(store, { search: '?' }), ['a?c'])
      assert.deepEqual(await names(store, { search: 'a?c' }), ['a?c'])
      assert.deepEqual(await names(store, { search: '[' }), ['x[1]y'])
      assert.deepEqual(await names(store, { search: ']' }), ['x[1]y'])
      assert.deepEqual(await names(store, { search: '[1]' }), ['x[1]y'])
      assert.deepEqual(await names(store, { search: '\\' }), ['back\\slash'])
      assert.deepEqual(await names(store, { search: '^' }), ['caret^x'])
    })

    test('a search with a limit returns the first matching names in order among many clients', { timeout: 60_000 }, async (t) => {
      // Enough clients that a store reading its index in pages would stop
      // after the first page and return an arbitrary, not the first, set.
      const store = await make(t)
      const all = Array.from({ length: 12_000 }, (_, i) => `client ${String(i).padStart(5, '0')}`)
      for (let i = 0; i < all.length; i += 250) {
        await Promise.all(all.slice(i, i + 250).map(async (n) => { await store.createClient(newClient(n), newHash()) }))
      }
      assert.deepEqual(await names(store, { search: 'CLIENT', limit: 50 }), all.slice(0, 50))
      assert.deepEqual(await names(store, { search: '1', limit: 3 }), ['client 00001', 'client 00010', 'client 00011'])
      // Pages that straddle the 10,000th name, with and without a search.
      assert.deepEqual(await names(store, { search: 'CLIENT', offset: 9990, limit: 20 }), all.slice(9990, 10010))
      assert.deepEqual(await names(store, { offset: 9990, limit: 20 }), all.slice(9990, 10010))
      assert.deepEqual(await names(store, { search: 'client', offset: 11_990, limit: 50 }), all.slice(11_990))
      assert.deepEqual(await names(store, { offset: 11_990, limit: 50 }), all.slice(11_990))
      const ones = all.filter((n) => n.includes('1'))
      assert.deepEqual(await names(store, { search: '1', offset: ones.length - 3, limit: 10 }), ['client 11997', 'client 11998', 'client 11999'])
      assert.deepEqual(await names(store, { search: '1', offset: 5000, limit: 4 }), ones.slice(5000, 5004))
      assert.equal(await store.countClients(), 12_000)
    })

    test('countClients counts every client, revoked ones included, and not refused ones', LIMITS, async (t) => {
      const store = await make(t)
      assert.equal(await store.countClients(), 0)
      const made = await createNamed(store, ['one', 'two', 'three'])
      assert.equal(await store.countClients(), 3)
      await store.revokeClient(made[0]?.client.id ?? '', '2026-03-01T08:00:00.000Z')
      assert.equal(await store.countClients(), 3)
      await assert.rejects(store.createClient(newClient('TWO'), newHash()), isConflict)
      assert.equal(await store.countClients(), 3)
    })

    test('revokeClient sets revokedAt once; unknown ids give undefined', LIMITS, async (t) => {
      const store = await make(t)
      const [made] = await createNamed(store, ['to be revoked'])
      const id = made?.client.id ?? ''
      const first = await store.revokeClient(id, '2026-03-01T08:00:00.000Z')
      assert.equal(first?.revokedAt, '2026-03-01T08:00:00.000Z')
      assert.equal(first?.name, 'to be revoked')
      const second = await store.revokeClient(id, '2026-03-02T08:00:00.000Z')
      assert.equal(second?.revokedAt, '2026-03-01T08:00:00.000Z')
      assert.equal((await store.getClient(id))?.revokedAt, '2026-03-01T08:00:00.000Z')
      assert.equal(await store.revokeClient(randomUUID(), '2026-03-01T08:00:00.000Z'), undefined)
    })

    test('concurrent revokes of one client agree on a single revokedAt', LIMITS, async (t) => {
      // Two admins (or two gateway processes) revoking at the same moment:
      // whatever time wins, every caller and every later read must see it.
      const store = await make(t)
      const [made] = await createNamed(store, ['revoked twice at once'])
      const id = made?.client.id ?? ''
      const [a, b] = await Promise.all([
        store.revokeClient(id, '2026-03-01T08:00:00.000Z'),
        store.revokeClient(id, '2026-03-01T08:00:00.500Z')
      ])
      const stored = (await store.getClient(id))?.revokedAt
      assert.ok(stored !== undefined)
      assert.deepEqual([a?.revokedAt, b?.revokedAt], [stored, stored])
    })

    test('touchClients sets lastUsedAt, seen by getClient and listClients', LIMITS, async (t) => {
      const store = await make(t)
      const [one, two, three] = await createNamed(store, ['one', 'two', 'three'])
      const id1 = one?.client.id ?? ''
      const id2 = two?.client.id ?? ''
      await store.touchClients(new Map([[id1, '2026-03-01T08:00:00.000Z'], [id2, '2026-03-01T09:30:00.000Z']]))
      assert.equal((await store.getClient(id1))?.lastUsedAt, '2026-03-01T08:00:00.000Z')
      assert.equal((await store.getClient(id2))?.lastUsedAt, '2026-03-01T09:30:00.000Z')
      const listed = new Map((await store.listClients()).map((c) => [c.id, c.lastUsedAt]))
      assert.deepEqual(listed, new Map([
        [id1, '2026-03-01T08:00:00.000Z'],
        [three?.client.id, undefined],
        [id2, '2026-03-01T09:30:00.000Z']
      ]))
      // A later batch moves it on.
      await store.touchClients(new Map([[id1, '2026-03-01T10:00:00.000Z']]))
      assert.equal((await store.getClient(id1))?.lastUsedAt, '2026-03-01T10:00:00.000Z')
      await store.touchClients(new Map())
    })
  })

  keyAndTokenContract(make)

  describe('legacy import', () => {
    const mark = { id: '7', importedAt: '2026-01-02T03:04:05.000Z' }

    test('importClient creates a legacy client whose old key resolves, and legacySummary counts it', LIMITS, async (t) => {
      const store = await make(t)
      assert.deepEqual(await store.legacySummary(), { clients: 0, keyLengths: [] })
      const client = newClient('dinkes.bantenprov.go.id', { integrations: '*', allowedIps: ['10.0.0.0/8'], legacy: mark })
      const hash = newHash()
      assert.deepEqual(await store.importClient(client, hash, 40, false), { outcome: 'created' })
      const resolved = await store.resolveKey(hash)
      assert.equal(resolved?.client.id, client.id)
      assert.deepEqual(resolved?.client.legacy, mark)
      assert.deepEqual((await store.getClient(client.id))?.legacy, mark)
      assert.deepEqual((await store.listClients({ search: 'dinkes' })).map((c) => c.id), [client.id])
      assert.equal(await store.countClients(), 1)
      await store.importClient(newClient('other', { legacy: { ...mark, id: '8' } }), newHash(), 32, false)
      await store.createClient(newClient('not-legacy'), newHash())
      assert.deepEqual(await store.legacySummary(), { clients: 2, keyLengths: [32, 40] })
    })

    test('importClient refuses a taken key hash or name, and a dry run writes nothing', LIMITS, async (t) => {
      const store = await make(t)
      const first = newClient('RSUD Banten', { legacy: mark })
      const hash = newHash()
      assert.deepEqual(await store.importClient(first, hash, 40, true), { outcome: 'created' })
      assert.equal(await store.resolveKey(hash), undefined, 'a dry run writes nothing')
      assert.equal(await store.countClients(), 0)
      assert.deepEqual(await store.legacySummary(), { clients: 0, keyLengths: [] })

      await store.importClient(first, hash, 40, false)
      assert.deepEqual(await store.importClient(newClient('another name', { legacy: mark }), hash, 40, false),
        { outcome: 'key-taken', clientId: first.id })
      assert.deepEqual(await store.importClient(newClient('rsud banten', { legacy: mark }), newHash(), 40, true),
        { outcome: 'name-taken', clientId: first.id })
      assert.deepEqual(await store.importClient(newClient('RSUD BANTEN', { legacy: mark }), newHash(), 40, false),
        { outcome: 'name-taken', clientId: first.id })
      assert.equal(await store.countClients(), 1)
      assert.equal((await store.resolveKey(hash))?.client.name, 'RSUD Banten', 'the first owner keeps the key')
    })

    test('an imported client rotates like any other, and setLegacyMark records it', LIMITS, async (t) => {
      const store = await make(t)
      const client = newClient('legacy-9', { legacy: mark, integrations: [] })
      const old = newHash()
      await store.importClient(client, old, 40, false)
      const fresh = newHash()
      assert.equal(await store.rotateKey(client.id, fresh, 60_000), true)
      const later = { ...mark, rotatedAt: '2026-02-01T00:00:00.000Z', oldKeyUntil: '2026-02-01T01:00:00.000Z' }
      const updated = await store.setLegacyMark(client.id, later)
      assert.deepEqual(updated?.legacy, later)
      assert.deepEqual(updated?.integrations, [], 'an empty list stays a list')
      assert.deepEqual((await store.resolveKey(old))?.client.legacy, later)
      assert.ok((await store.resolveKey(old))?.expiresAt !== undefined, 'the old key is in its grace period')
      assert.equal((await store.resolveKey(fresh))?.client.id, client.id)
      await store.revokeClient(client.id, new Date().toISOString())
      const revoked = await store.setLegacyMark(client.id, mark)
      assert.ok(revoked?.revokedAt !== undefined, 'the mark does not undo a revoke')
      assert.equal(await store.setLegacyMark('no-such-client', mark), undefined)
    })
  })

  describe('client edits and deletion (issue 18)', () => {
    test('updateClient changes the fields given, removes those set to null, and keeps the rest', LIMITS, async (t) => {
      const store = await make(t)
      const client = newClient('RSUD Malingping', { description: 'lama', integrations: ['yankes'], rateLimit: '10/1m', allowedIps: ['10.0.0.0/8'] })
      const key = newHash()
      await store.createClient(client, key)
      const updated = await store.updateClient(client.id, {
        description: 'baru', integrations: ['yankes', 'satu-data'], quota: '1000/1d', rateLimit: null, allowedIps: null, keyHint: 'joL8'
      })
      const expected: Client = { ...client, description: 'baru', integrations: ['yankes', 'satu-data'], quota: '1000/1d', keyHint: 'joL8' }
      delete expected.rateLimit
      delete expected.allowedIps
      assert.deepEqual(updated, expected)
      assert.deepEqual(await store.getClient(client.id), expected)
      assert.deepEqual((await store.resolveKey(key))?.client, expected, 'its key resolves to the edited client')
      assert.deepEqual((await store.updateClient(client.id, { integrations: '*' }))?.integrations, '*')
      assert.deepEqual((await store.updateClient(client.id, { integrations: [] }))?.integrations, [], 'an empty list stays a list')
      assert.equal(await store.updateClient(randomUUID(), { description: 'x' }), undefined)
      await store.revokeClient(client.id, new Date().toISOString())
      assert.ok((await store.updateClient(client.id, { description: 'y' }))?.revokedAt !== undefined, 'an edit never undoes a revoke')
    })

    test('deleteClient removes a revoked client, its keys and its name; an active or unknown one stays', LIMITS, async (t) => {
      const store = await make(t)
      const client = newClient('Dinkes Serang')
      const key = newHash()
      await store.createClient(client, key)
      const token = newHash()
      await store.saveToken(token, client.id, key, 60_000)
      assert.equal(await store.deleteClient(client.id), false, 'an active client is not deleted')
      assert.equal((await store.getClient(client.id))?.id, client.id)
      await store.revokeClient(client.id, new Date().toISOString())
      assert.equal(await store.deleteClient(client.id), true)
      assert.equal(await store.getClient(client.id), undefined)
      assert.equal(await store.resolveKey(key), undefined)
      assert.equal(await store.resolveToken(token), undefined)
      assert.deepEqual(await names(store), [])
      assert.equal(await store.countClients(), 0)
      assert.equal(await store.deleteClient(client.id), false, 'once')
      // The name can be used again.
      await store.createClient(newClient('dinkes serang'), newHash())
      assert.deepEqual(await names(store), ['dinkes serang'])
    })
  })
}
