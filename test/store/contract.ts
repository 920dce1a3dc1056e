// The Store contract (src/store/types.ts) as tests: every implementation runs
// this same suite, so the embedded store and Redis cannot drift apart. Each
// test gets a fresh, empty store from `make`, which also arranges its closing.
import { describe, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes, randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { StoreConflictError, type Client, type Store, type StoreChange, type User } from '../../src/store/types.js'

/** Fails instead of hanging when `promise` takes longer than `ms`. */
export async function within<T> (ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`${what} took longer than ${ms} ms`)) }, ms)
  })
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}

/** Polls `check` until it is true; fails after `ms`. */
export async function waitUntil (check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`)
    await sleep(10)
  }
}

/** Subscribes to `store` and returns the list its changes land in. */
export async function collectChanges (store: Store, onResync: () => void = () => {}): Promise<StoreChange[]> {
  const received: StoreChange[] = []
  await store.subscribe((change) => { received.push(change) }, onResync)
  return received
}

export function newClient (name: string, extra: Partial<Client> = {}): Client {
  return { id: randomUUID(), name, description: '', integrations: [], createdAt: new Date().toISOString(), ...extra }
}

/** Stands in for an HMAC-SHA256 hex digest; the store never sees anything else. */
export function newHash (): string {
  return randomBytes(32).toString('hex')
}

const isConflict = (err: unknown): boolean => err instanceof StoreConflictError

/** Creates clients with these names (in this order) and returns them with their key hashes. */
async function createNamed (store: Store, names: string[]): Promise<Array<{ client: Client, keyHash: string }>> {
  const made = []
  for (const name of names) {
    const client = newClient(name)
    const keyHash = newHash()
    await store.createClient(client, keyHash)
    made.push({ client, keyHash })
  }
  return made
}

async function names (store: Store, options?: Parameters<Store['listClients']>[0]): Promise<string[]> {
  return (await store.listClients(options)).map((c) => c.name)
}

/** Every test gets a few seconds: a store that hangs fails instead of stalling the run. */
const LIMITS = { timeout: 10_000 }

export function storeContract (name: string, make: (t: TestContext) => Promise<Store>): void {
  describe(`${name}: the Store contract`, () => {
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
        for (let i = 0; i < all.length; i += 1000) {
          await Promise.all(all.slice(i, i + 1000).map(async (n) => { await store.createClient(newClient(n), newHash()) }))
        }
        assert.deepEqual(await names(store, { search: 'CLIENT', limit: 50 }), all.slice(0, 50))
        assert.deepEqual(await names(store, { search: '1', limit: 3 }), ['client 00001', 'client 00010', 'client 00011'])
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

    describe('keys', () => {
      test('resolveKey gives the client and no expiry; unknown hashes give undefined', LIMITS, async (t) => {
        const store = await make(t)
        const client = newClient('resolver', { integrations: ['satusehat'] })
        const keyHash = newHash()
        await store.createClient(client, keyHash)
        assert.deepEqual(await store.resolveKey(keyHash), { client, expiresAt: undefined })
        assert.equal(await store.resolveKey(newHash()), undefined)
      })

      test('resolveKey still finds a revoked client, with its revokedAt', LIMITS, async (t) => {
        const store = await make(t)
        const [made] = await createNamed(store, ['revoked key'])
        await store.revokeClient(made?.client.id ?? '', '2026-03-01T08:00:00.000Z')
        const found = await store.resolveKey(made?.keyHash ?? '')
        assert.equal(found?.client.id, made?.client.id)
        assert.equal(found?.client.revokedAt, '2026-03-01T08:00:00.000Z')
      })

      test('rotateKey with no grace: the old key stops at once, the new one resolves', LIMITS, async (t) => {
        const store = await make(t)
        const [made] = await createNamed(store, ['rotate now'])
        const newKey = newHash()
        assert.equal(await store.rotateKey(made?.client.id ?? '', newKey, 0), true)
        assert.equal(await store.resolveKey(made?.keyHash ?? ''), undefined)
        assert.deepEqual(await store.resolveKey(newKey), { client: made?.client, expiresAt: undefined })
      })

      test('rotateKey with 300 ms grace: the old key resolves until then, with that expiry', LIMITS, async (t) => {
        const store = await make(t)
        const [made] = await createNamed(store, ['rotate gently'])
        const oldKey = made?.keyHash ?? ''
        const newKey = newHash()
        const before = Date.now()
        assert.equal(await store.rotateKey(made?.client.id ?? '', newKey, 300), true)
        const old = await store.resolveKey(oldKey)
        const after = Date.now()
        assert.equal(old?.client.id, made?.client.id)
        assert.ok(old?.expiresAt !== undefined, 'a key in its grace period has an expiry')
        assert.ok(old.expiresAt >= before + 250 && old.expiresAt <= after + 300 + 20,
          `expiresAt ${old.expiresAt - before} ms after the rotation, want about 300`)
        assert.deepEqual(await store.resolveKey(newKey), { client: made?.client, expiresAt: undefined })
        await sleep(after + 400 - Date.now())
        assert.equal(await store.resolveKey(oldKey), undefined)
        assert.deepEqual(await store.resolveKey(newKey), { client: made?.client, expiresAt: undefined })
      })

      test('rotating again during a grace period does not lengthen it, and keeps the middle key', LIMITS, async (t) => {
        const store = await make(t)
        const [made] = await createNamed(store, ['rotate twice'])
        const id = made?.client.id ?? ''
        const middle = newHash()
        const last = newHash()
        assert.equal(await store.rotateKey(id, middle, 200), true)
        assert.equal(await store.rotateKey(id, last, 60_000), true)
        const first = await store.resolveKey(made?.keyHash ?? '')
        assert.ok(first?.expiresAt !== undefined && first.expiresAt <= Date.now() + 200, 'the first key keeps its 200 ms grace')
        const between = await store.resolveKey(middle)
        assert.ok(between?.expiresAt !== undefined && between.expiresAt > Date.now() + 50_000, 'the middle key gets the new grace')
        assert.deepEqual(await store.resolveKey(last), { client: made?.client, expiresAt: undefined })
      })

      test('rotateKey refuses revoked and unknown clients and changes nothing', LIMITS, async (t) => {
        const store = await make(t)
        const [made] = await createNamed(store, ['revoked before rotation'])
        await store.revokeClient(made?.client.id ?? '', '2026-03-01T08:00:00.000Z')
        const refused = newHash()
        assert.equal(await store.rotateKey(made?.client.id ?? '', refused, 0), false)
        assert.equal(await store.resolveKey(refused), undefined)
        assert.equal((await store.resolveKey(made?.keyHash ?? ''))?.client.id, made?.client.id)
        const orphan = newHash()
        assert.equal(await store.rotateKey(randomUUID(), orphan, 0), false)
        assert.equal(await store.resolveKey(orphan), undefined)
      })

      test('a client whose name or description is the word "revokedAt" can still rotate', LIMITS, async (t) => {
        // The text of a client's fields is data: it must not read as its state.
        const store = await make(t)
        for (const client of [newClient('revokedAt'), newClient('ordinary', { description: 'revokedAt' })]) {
          await store.createClient(client, newHash())
          const newKey = newHash()
          assert.equal(await store.rotateKey(client.id, newKey, 0), true, `rotating ${JSON.stringify(client)}`)
          assert.equal((await store.resolveKey(newKey))?.client.id, client.id)
        }
      })
    })

    describe('tokens', () => {
      test('a token resolves with its expiry until its TTL, then not at all', LIMITS, async (t) => {
        const store = await make(t)
        const [made] = await createNamed(store, ['token holder'])
        const token = newHash()
        const before = Date.now()
        await store.saveToken(token, made?.client.id ?? '', 200)
        const found = await store.resolveToken(token)
        const after = Date.now()
        assert.deepEqual(found?.client, made?.client)
        assert.ok(found?.expiresAt !== undefined && found.expiresAt >= before + 150 && found.expiresAt <= after + 200 + 20,
          `expiresAt ${(found?.expiresAt ?? 0) - before} ms after saving, want about 200`)
        await sleep(after + 300 - Date.now())
        assert.equal(await store.resolveToken(token), undefined)
        assert.equal(await store.resolveToken(newHash()), undefined)
        // Keys and tokens are separate namespaces.
        assert.equal(await store.resolveToken(made?.keyHash ?? ''), undefined)
      })

      test('a token of a revoked client resolves with revokedAt, for the caller to refuse', LIMITS, async (t) => {
        const store = await make(t)
        const [made] = await createNamed(store, ['revoked token holder'])
        const token = newHash()
        await store.saveToken(token, made?.client.id ?? '', 60_000)
        await store.revokeClient(made?.client.id ?? '', '2026-03-01T08:00:00.000Z')
        const found = await store.resolveToken(token)
        assert.equal(found?.client.id, made?.client.id)
        assert.equal(found?.client.revokedAt, '2026-03-01T08:00:00.000Z')
      })
    })

    describe('users', () => {
      test('users are found by email in any case; a second one with the same email is a conflict', LIMITS, async (t) => {
        const store = await make(t)
        const user: User = {
          email: 'Siti.Rahma@BantenProv.go.id',
          name: 'Siti Rahma',
          role: 'operator',
          passwordHash: 'scrypt$16384$8$1$c2FsdA==$aGFzaA==',
          createdAt: new Date().toISOString()
        }
        await store.createUser(user)
        assert.deepEqual(await store.getUser('siti.rahma@bantenprov.go.id'), user)
        assert.deepEqual(await store.getUser('SITI.RAHMA@BANTENPROV.GO.ID'), user)
        await assert.rejects(store.createUser({ ...user, email: 'siti.rahma@bantenprov.go.id', role: 'admin' }), isConflict)
        assert.equal((await store.getUser(user.email))?.role, 'operator')
        assert.equal(await store.getUser('nobody@bantenprov.go.id'), undefined)
      })
    })

    describe('changes and lifecycle', () => {
      test('publishChange reaches a subscriber of the same store within 1 s', LIMITS, async (t) => {
        const store = await make(t)
        const received = await collectChanges(store)
        const clientId = randomUUID()
        await store.publishChange({ clientId })
        await waitUntil(() => received.length > 0, 1000, 'the change notification')
        assert.deepEqual(received, [{ clientId }])
      })

      test('isAvailable() is true and close() resolves', LIMITS, async (t) => {
        const store = await make(t)
        assert.equal(store.isAvailable(), true)
        assert.equal(typeof store.kind, 'string')
        // make() closes it again after the test: closing twice must be harmless.
        await within(2000, store.close(), 'close()')
      })
    })
  })
}
