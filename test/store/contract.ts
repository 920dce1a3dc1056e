// The Store contract (src/store/types.ts) as tests: every implementation runs
// this same suite, so the embedded store and Redis cannot drift apart. Each
// test gets a fresh, empty store from `make`, which also arranges its closing.
import { describe, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes, randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  StoreConflictError, type AuditEntry, type Client, type KeyRequest, type Role, type Session, type Store, type StoreChange, type User
} from '../../src/store/types.js'

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

export function newUser (email: string, extra: Partial<User> = {}): User {
  return {
    email,
    name: email.slice(0, email.indexOf('@')),
    role: 'viewer',
    passwordHash: 'scrypt$16384$8$1$c2FsdA==$aGFzaA==',
    createdAt: new Date().toISOString(),
    ...extra
  }
}

function newRole (name: string, extra: Partial<Role> = {}): Role {
  return { name, description: `${name} role`, permissions: ['clients:read'], createdAt: new Date().toISOString(), ...extra }
}

function newSession (email: string): Session {
  return { email, csrfToken: newHash(), epoch: 0, createdAt: new Date().toISOString(), absoluteExpiry: Date.now() + 8 * 3600_000 }
}

function newAudit (n: number, extra: Partial<AuditEntry> = {}): AuditEntry {
  return {
    at: new Date(Date.UTC(2026, 2, 1, 8) + n).toISOString(),
    actor: 'admin@bantenprov.go.id',
    action: 'client.create',
    targetType: 'client',
    targetId: `client-${n}`,
    targetName: `Client ${n}`,
    ...extra
  }
}

/** A pending key request made `n` ms after a fixed instant (so the order is known). */
export function newKeyRequest (n: number, extra: Partial<KeyRequest> = {}): KeyRequest {
  return {
    id: randomUUID(),
    agency: 'Dinas Kesehatan Kota Serang',
    app: `SIMRS ${n}`,
    email: 'it@dinkes.serangkota.go.id',
    integrations: ['yankes'],
    purpose: 'Ketersediaan kamar untuk aplikasi rujukan',
    address: '192.0.2.7',
    createdAt: new Date(Date.UTC(2026, 2, 1, 8) + n).toISOString(),
    status: 'pending',
    ...extra
  }
}

/** Sleeps until `ms` after `since` (epoch ms). */
async function sleepUntil (since: number, ms: number): Promise<void> {
  await sleep(Math.max(0, since + ms - Date.now()))
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
        await store.saveToken(token, made?.client.id ?? '', made?.keyHash ?? '', 200)
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
        await store.saveToken(token, made?.client.id ?? '', made?.keyHash ?? '', 60_000)
        await store.revokeClient(made?.client.id ?? '', '2026-03-01T08:00:00.000Z')
        const found = await store.resolveToken(token)
        assert.equal(found?.client.id, made?.client.id)
        assert.equal(found?.client.revokedAt, '2026-03-01T08:00:00.000Z')
      })

      test('a token resolves only while the key it was minted with resolves for the same client', LIMITS, async (t) => {
        const store = await make(t)
        const [made, other] = await createNamed(store, ['token minter', 'someone else'])
        const id = made?.client.id ?? ''
        const viaKey = newHash()
        await store.saveToken(viaKey, id, made?.keyHash ?? '', 60_000)
        assert.equal((await store.resolveToken(viaKey))?.client.id, id)
        // Minted with a key that is not this client's, or no key at all: never resolves.
        const viaOthersKey = newHash()
        await store.saveToken(viaOthersKey, id, other?.keyHash ?? '', 60_000)
        assert.equal(await store.resolveToken(viaOthersKey), undefined)
        const viaNoKey = newHash()
        await store.saveToken(viaNoKey, id, newHash(), 60_000)
        assert.equal(await store.resolveToken(viaNoKey), undefined)

        // Rotation with no grace ends the old key's tokens at once, and only those.
        const newKey = newHash()
        assert.equal(await store.rotateKey(id, newKey, 0), true)
        assert.equal(await store.resolveToken(viaKey), undefined)
        const viaNewKey = newHash()
        await store.saveToken(viaNewKey, id, newKey, 60_000)
        const found = await store.resolveToken(viaNewKey)
        assert.equal(found?.client.id, id)
        assert.ok(found?.expiresAt !== undefined && found.expiresAt > Date.now() + 50_000, 'a token of a live key keeps its own expiry')
        // Another client's tokens are untouched.
        const othersToken = newHash()
        await store.saveToken(othersToken, other?.client.id ?? '', other?.keyHash ?? '', 60_000)
        assert.equal((await store.resolveToken(othersToken))?.client.id, other?.client.id)
      })

      test('in a rotation\'s grace period, an old key\'s token resolves until the key\'s expiry at most', LIMITS, async (t) => {
        const store = await make(t)
        const [made] = await createNamed(store, ['token through grace'])
        const id = made?.client.id ?? ''
        const token = newHash()
        await store.saveToken(token, id, made?.keyHash ?? '', 60_000)
        const before = Date.now()
        assert.equal(await store.rotateKey(id, newHash(), 300), true)
        const found = await store.resolveToken(token)
        const after = Date.now()
        assert.equal(found?.client.id, id)
        assert.ok(found?.expiresAt !== undefined && found.expiresAt >= before + 250 && found.expiresAt <= after + 300 + 20,
          `expiresAt ${(found?.expiresAt ?? 0) - before} ms after the rotation, want about 300 (the key's grace), not the token's 60 s`)
        // A token shorter than the grace keeps its own expiry.
        const short = newHash()
        await store.saveToken(short, id, made?.keyHash ?? '', 100)
        const shortFound = await store.resolveToken(short)
        assert.ok(shortFound?.expiresAt !== undefined && shortFound.expiresAt <= Date.now() + 100 + 20)
        await sleep(after + 400 - Date.now())
        assert.equal(await store.resolveToken(token), undefined)
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

      test('listUsers lists every user sorted by email, ignoring case; an empty store has none', LIMITS, async (t) => {
        const store = await make(t)
        assert.deepEqual(await store.listUsers(), [])
        const zaenal = newUser('zaenal@bantenprov.go.id')
        const ahmad = newUser('Ahmad@BantenProv.go.id', { role: 'admin' })
        const budi = newUser('budi@bantenprov.go.id', { role: 'auditor', sessionEpoch: 2 })
        for (const user of [zaenal, ahmad, budi]) await store.createUser(user)
        assert.deepEqual(await store.listUsers(), [ahmad, budi, zaenal])
        // A refused duplicate adds nothing to the list.
        await assert.rejects(store.createUser(newUser('BUDI@bantenprov.go.id')), isConflict)
        assert.deepEqual(await store.listUsers(), [ahmad, budi, zaenal])
      })

      test('updateUser replaces a user found by email in any case; an unknown email gives false and creates nobody', LIMITS, async (t) => {
        const store = await make(t)
        const user = newUser('Siti.Rahma@BantenProv.go.id', { role: 'operator' })
        await store.createUser(user)
        const changed: User = {
          ...user,
          email: 'siti.rahma@bantenprov.go.id',
          role: 'admin',
          passwordHash: 'scrypt$16384$8$1$bmV3$bmV3',
          updatedAt: '2026-03-02T08:00:00.000Z',
          sessionEpoch: 1
        }
        assert.equal(await store.updateUser(changed), true)
        assert.deepEqual(await store.getUser('SITI.RAHMA@bantenprov.go.id'), changed)
        assert.deepEqual(await store.listUsers(), [changed])
        const stranger = newUser('nobody@bantenprov.go.id')
        assert.equal(await store.updateUser(stranger), false)
        assert.equal(await store.getUser(stranger.email), undefined)
        assert.deepEqual(await store.listUsers(), [changed])
      })

      test('deleteUser removes a user found by email in any case, once; the email can then be used again', LIMITS, async (t) => {
        const store = await make(t)
        const gone = newUser('Gone@BantenProv.go.id')
        const kept = newUser('kept@bantenprov.go.id')
        await store.createUser(gone)
        await store.createUser(kept)
        assert.equal(await store.deleteUser('gone@bantenprov.go.id'), true)
        assert.equal(await store.getUser(gone.email), undefined)
        assert.deepEqual(await store.listUsers(), [kept])
        assert.equal(await store.deleteUser(gone.email), false)
        assert.equal(await store.deleteUser('nobody@bantenprov.go.id'), false)
        assert.deepEqual(await store.listUsers(), [kept])
        // Nothing of the deleted user is left to conflict with or to update.
        assert.equal(await store.updateUser(gone), false)
        const again = newUser('GONE@bantenprov.go.id', { role: 'admin' })
        await store.createUser(again)
        assert.deepEqual(await store.getUser(gone.email), again)
        assert.deepEqual(await store.listUsers(), [again, kept])
      })
    })

    describe('roles', () => {
      test('saveRole creates or replaces; listRoles sorts by name; getRole finds one', LIMITS, async (t) => {
        const store = await make(t)
        assert.deepEqual(await store.listRoles(), [])
        assert.equal(await store.getRole('auditor'), undefined)
        const auditor = newRole('auditor', { permissions: ['audit:read', 'clients:read'] })
        const helpdesk = newRole('helpdesk', { permissions: [] })
        const billing = newRole('billing', { permissions: ['clients:read', 'routes:read'] })
        for (const role of [helpdesk, auditor, billing]) await store.saveRole(role)
        assert.deepEqual(await store.listRoles(), [auditor, billing, helpdesk])
        assert.deepEqual(await store.getRole('billing'), billing)
        const changed: Role = { ...helpdesk, description: 'first line', permissions: ['clients:read', 'clients:write'], updatedAt: '2026-03-02T08:00:00.000Z' }
        await store.saveRole(changed)
        assert.deepEqual(await store.getRole('helpdesk'), changed)
        assert.deepEqual(await store.listRoles(), [auditor, billing, changed])
      })

      test('deleteRole removes a role once', LIMITS, async (t) => {
        const store = await make(t)
        const auditor = newRole('auditor')
        const billing = newRole('billing')
        await store.saveRole(auditor)
        await store.saveRole(billing)
        assert.equal(await store.deleteRole('auditor'), true)
        assert.equal(await store.getRole('auditor'), undefined)
        assert.deepEqual(await store.listRoles(), [billing])
        assert.equal(await store.deleteRole('auditor'), false)
        assert.equal(await store.deleteRole('nonexistent'), false)
        assert.deepEqual(await store.listRoles(), [billing])
      })
    })

    describe('sessions', () => {
      test('a session reads back until its TTL, then not at all', LIMITS, async (t) => {
        const store = await make(t)
        const id = newHash()
        const session = newSession('siti@bantenprov.go.id')
        const saved = Date.now()
        await store.saveSession(id, session, 150)
        assert.deepEqual(await store.getSession(id), session)
        assert.equal(await store.getSession(newHash()), undefined)
        await sleepUntil(saved, 250)
        assert.equal(await store.getSession(id), undefined)
      })

      test('touchSession restarts the TTL of a live session and brings back no other', LIMITS, async (t) => {
        const store = await make(t)
        const id = newHash()
        const session = newSession('budi@bantenprov.go.id')
        const saved = Date.now()
        await store.saveSession(id, session, 200)
        await sleepUntil(saved, 100)
        const touched = Date.now()
        await store.touchSession(id, 400)
        // Past the first TTL, within the second.
        await sleepUntil(saved, 300)
        assert.deepEqual(await store.getSession(id), session)
        await sleepUntil(touched, 500)
        assert.equal(await store.getSession(id), undefined)
        // An expired or unknown session is not revived by a touch.
        await store.touchSession(id, 60_000)
        assert.equal(await store.getSession(id), undefined)
        const unknown = newHash()
        await store.touchSession(unknown, 60_000)
        assert.equal(await store.getSession(unknown), undefined)
      })

      test('saveSession replaces a session and restarts its TTL; deleteSession removes it', LIMITS, async (t) => {
        const store = await make(t)
        const id = newHash()
        const other = newHash()
        const first = newSession('ahmad@bantenprov.go.id')
        await store.saveSession(id, first, 150)
        await store.saveSession(other, newSession('kept@bantenprov.go.id'), 60_000)
        const second = { ...first, csrfToken: newHash(), epoch: 3 }
        const saved = Date.now()
        await store.saveSession(id, second, 60_000)
        assert.deepEqual(await store.getSession(id), second)
        await sleepUntil(saved, 250)
        assert.deepEqual(await store.getSession(id), second)
        await store.deleteSession(id)
        assert.equal(await store.getSession(id), undefined)
        await store.deleteSession(id)
        await store.deleteSession(newHash())
        assert.equal((await store.getSession(other))?.email, 'kept@bantenprov.go.id')
      })
    })

    describe('audit', () => {
      test('listAudit gives entries newest first, from an offset, at most limit of them', LIMITS, async (t) => {
        const store = await make(t)
        assert.deepEqual(await store.listAudit(0, 10), [])
        const entries = [1, 2, 3, 4, 5].map((n) => newAudit(n))
        entries[2] = newAudit(3, {
          action: 'user.update',
          targetType: 'user',
          details: { role: 'admin', sessionEpoch: 2, passwordChanged: true, integrations: ['satusehat', 'bpjs-vclaim'] }
        })
        for (const entry of entries) await store.appendAudit(entry)
        const [e1, e2, e3, e4, e5] = entries
        assert.deepEqual(await store.listAudit(0, 10), [e5, e4, e3, e2, e1])
        assert.deepEqual(await store.listAudit(0, 2), [e5, e4])
        assert.deepEqual(await store.listAudit(1, 2), [e4, e3])
        assert.deepEqual(await store.listAudit(4, 10), [e1])
        assert.deepEqual(await store.listAudit(5, 10), [])
        assert.deepEqual(await store.listAudit(0, 0), [])
      })

      test('the audit log keeps the newest 100,000 entries', { timeout: 120_000 }, async (t) => {
        const store = await make(t)
        const total = 101_500
        // The first on its own: a Redis script not yet loaded is retried, which could reorder a batch.
        await store.appendAudit(newAudit(0))
        // Small batches: the Redis store gives each command 500 ms, and a
        // loaded CI machine did not answer 5,000 queued scripts in time.
        for (let n = 1; n < total; n += 250) {
          await Promise.all(Array.from({ length: Math.min(250, total - n) }, async (_, i) => { await store.appendAudit(newAudit(n + i)) }))
        }
        const ids = async (offset: number, limit: number): Promise<string[]> =>
          (await store.listAudit(offset, limit)).map((e) => e.targetId)
        assert.deepEqual(await ids(0, 3), ['client-101499', 'client-101498', 'client-101497'])
        assert.deepEqual(await ids(99_997, 10), ['client-1502', 'client-1501', 'client-1500'])
        assert.deepEqual(await ids(100_000, 10), [])
        await store.appendAudit(newAudit(total))
        assert.deepEqual(await ids(99_998, 10), ['client-1502', 'client-1501'])
      })
    })

    describe('counters', () => {
      test('addCounts accumulates per bucket and field; readCounts gives every field, in the order asked', LIMITS, async (t) => {
        const store = await make(t)
        await store.addCounts([])
        await store.addCounts([
          { bucket: 'minute:2026-03-01T08:00', ttlMs: 60_000, counts: new Map([['satusehat:200', 3], ['satusehat:502', 1]]) },
          { bucket: 'minute:2026-03-01T08:01', ttlMs: 60_000, counts: new Map([['satusehat:200', 5]]) }
        ])
        await store.addCounts([
          { bucket: 'minute:2026-03-01T08:00', ttlMs: 60_000, counts: new Map([['satusehat:200', 4], ['bpjs-vclaim:200', 2], ['idle', 0]]) },
          // A bucket of zeros only is not written at all.
          { bucket: 'minute:2026-03-01T08:02', ttlMs: 60_000, counts: new Map([['satusehat:200', 0]]) }
        ])
        assert.deepEqual(await store.readCounts(['minute:2026-03-01T08:01', 'minute:2026-03-01T08:02', 'minute:2026-03-01T08:00', 'nowhere']), [
          new Map([['satusehat:200', 5]]),
          new Map(),
          new Map([['satusehat:200', 7], ['satusehat:502', 1], ['bpjs-vclaim:200', 2]]),
          new Map()
        ])
        assert.deepEqual(await store.readCounts([]), [])
      })

      test('readCountFields gives the chosen counters in order, 0 for missing fields and buckets', LIMITS, async (t) => {
        const store = await make(t)
        await store.addCounts([{ bucket: 'day:2026-03-01', ttlMs: 60_000, counts: new Map([['a', 2], ['b', 40], ['c', 7]]) }])
        await store.addCounts([{ bucket: 'day:2026-03-01', ttlMs: 60_000, counts: new Map([['a', 1]]) }])
        assert.deepEqual(await store.readCountFields('day:2026-03-01', ['c', 'missing', 'a', 'b']), [7, 0, 3, 40])
        assert.deepEqual(await store.readCountFields('day:2026-03-02', ['a', 'b']), [0, 0])
        assert.deepEqual(await store.readCountFields('day:2026-03-01', []), [])
      })

      test('a bucket vanishes ttlMs after its last write, and every write restarts that', LIMITS, async (t) => {
        const store = await make(t)
        const written = Date.now()
        await store.addCounts([
          { bucket: 'short', ttlMs: 150, counts: new Map([['hits', 1]]) },
          { bucket: 'kept', ttlMs: 200, counts: new Map([['hits', 1]]) }
        ])
        assert.deepEqual(await store.readCountFields('short', ['hits']), [1])
        await sleepUntil(written, 100)
        const rewritten = Date.now()
        await store.addCounts([{ bucket: 'kept', ttlMs: 200, counts: new Map([['hits', 2]]) }])
        await sleepUntil(written, 250)
        assert.deepEqual(await store.readCounts(['short', 'kept']), [new Map(), new Map([['hits', 3]])])
        assert.deepEqual(await store.readCountFields('short', ['hits']), [0])
        await sleepUntil(rewritten, 300)
        assert.deepEqual(await store.readCounts(['kept']), [new Map()])
        // A write after expiry starts from zero.
        await store.addCounts([{ bucket: 'short', ttlMs: 60_000, counts: new Map([['hits', 5]]) }])
        assert.deepEqual(await store.readCountFields('short', ['hits']), [5])
      })
    })

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

      test('a legacyImport change reaches subscribers as published', LIMITS, async (t) => {
        const store = await make(t)
        const received = await collectChanges(store)
        await store.publishChange({ clientId: '', legacyImport: true })
        await waitUntil(() => received.length > 0, 1000, 'the change notification')
        assert.deepEqual(received, [{ clientId: '', legacyImport: true }])
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

    describe('key requests (issue 18, item 6)', () => {
      const apps = async (store: Store, options?: Parameters<Store['listKeyRequests']>[0]): Promise<string[]> =>
        (await store.listKeyRequests(options)).map((r) => r.app)

      test('a request reads back as given; lists are newest first, by status, with limit and offset; counts per status', LIMITS, async (t) => {
        const store = await make(t)
        assert.deepEqual(await store.listKeyRequests(), [])
        assert.deepEqual(await store.countKeyRequests(), { pending: 0, approved: 0, declined: 0, issued: 0, expired: 0 })
        const made = [newKeyRequest(1), newKeyRequest(3, { integrations: [] }), newKeyRequest(2)]
        for (const r of made) assert.equal(await store.createKeyRequest(r, 10), true)
        assert.deepEqual(await store.getKeyRequest(made[1]?.id ?? ''), made[1], 'an empty list stays a list')
        assert.equal(await store.getKeyRequest(randomUUID()), undefined)
        assert.deepEqual(await apps(store), ['SIMRS 3', 'SIMRS 2', 'SIMRS 1'])
        assert.deepEqual(await apps(store, { limit: 2 }), ['SIMRS 3', 'SIMRS 2'])
        assert.deepEqual(await apps(store, { offset: 1, limit: 1 }), ['SIMRS 2'])
        assert.deepEqual(await apps(store, { offset: 3 }), [])
        assert.deepEqual(await apps(store, { limit: 0 }), [])
        // The same instant: by id, descending, in every store.
        const twins = [newKeyRequest(9, { app: 'kembar' }), newKeyRequest(9, { app: 'kembar' })]
        for (const r of twins) await store.createKeyRequest(r, 10)
        const ids = twins.map((r) => r.id).sort().reverse()
        assert.deepEqual((await store.listKeyRequests({ limit: 2 })).map((r) => r.id), ids)
        await store.updateKeyRequest(made[0]?.id ?? '', 'pending', { status: 'declined', reason: 'Bukan instansi pemerintah' })
        assert.deepEqual(await apps(store, { status: 'declined' }), ['SIMRS 1'])
        assert.deepEqual(await apps(store, { status: 'pending', offset: 2 }), ['SIMRS 3', 'SIMRS 2'])
        assert.deepEqual(await apps(store, { status: 'issued' }), [])
        assert.deepEqual(await store.countKeyRequests(), { pending: 4, approved: 0, declined: 1, issued: 0, expired: 0 })
      })

      test('no request is added once maxPending are pending; decided ones do not count', LIMITS, async (t) => {
        const store = await make(t)
        const first = newKeyRequest(1)
        assert.equal(await store.createKeyRequest(first, 2), true)
        assert.equal(await store.createKeyRequest(newKeyRequest(2), 2), true)
        const third = newKeyRequest(3)
        assert.equal(await store.createKeyRequest(third, 2), false)
        assert.equal(await store.getKeyRequest(third.id), undefined, 'nothing written')
        await store.updateKeyRequest(first.id, 'pending', { status: 'declined', reason: 'x' })
        assert.equal(await store.createKeyRequest(third, 2), true)
        await assert.rejects(store.createKeyRequest(third, 10), isConflict, 'an id is never reused')
        // Many at once from many processes: never past the limit.
        const burst = await Promise.all(Array.from({ length: 8 }, async (_, i) => await store.createKeyRequest(newKeyRequest(10 + i), 5)))
        assert.equal(burst.filter(Boolean).length, 3)
        assert.equal((await store.countKeyRequests()).pending, 5)
      })

      test('updateKeyRequest changes a request only from the status named, once; null removes a field', LIMITS, async (t) => {
        const store = await make(t)
        const request = newKeyRequest(1)
        await store.createKeyRequest(request, 10)
        assert.equal(await store.updateKeyRequest(request.id, 'approved', { status: 'issued' }), undefined, 'not approved yet')
        assert.equal(await store.updateKeyRequest(randomUUID(), 'pending', { status: 'declined' }), undefined)
        assert.deepEqual(await store.getKeyRequest(request.id), request, 'unchanged')
        const approved = { status: 'approved', decidedBy: 'operator@bantenprov.go.id', decidedAt: '2026-03-02T01:00:00.000Z', clientId: randomUUID(), linkHash: newHash(), linkExpiresAt: '2026-03-03T01:00:00.000Z' } as const
        const after = await store.updateKeyRequest(request.id, 'pending', approved)
        assert.deepEqual(after, { ...request, ...approved })
        assert.deepEqual(await store.getKeyRequest(request.id), after)
        // Two openings of the same link at once: one wins.
        const both = await Promise.all([
          store.updateKeyRequest(request.id, 'approved', { status: 'issued', issuedAt: '2026-03-02T02:00:00.000Z', issuedTo: '198.51.100.1' }),
          store.updateKeyRequest(request.id, 'approved', { status: 'issued', issuedAt: '2026-03-02T02:00:00.000Z', issuedTo: '198.51.100.2' })
        ])
        assert.equal(both.filter((r) => r !== undefined).length, 1)
        const issued = await store.getKeyRequest(request.id)
        assert.equal(issued?.status, 'issued')
        assert.equal(issued?.issuedTo, both.find((r) => r !== undefined)?.issuedTo)
        const removed = await store.updateKeyRequest(request.id, 'issued', { decidedBy: null, reason: 'catatan' })
        assert.equal(removed?.decidedBy, undefined)
        assert.equal(removed?.reason, 'catatan')
        assert.equal('decidedBy' in (await store.getKeyRequest(request.id) ?? {}), false)
      })

      test('findKeyRequestByLink finds a request by its current link only', LIMITS, async (t) => {
        const store = await make(t)
        const request = newKeyRequest(1)
        await store.createKeyRequest(request, 10)
        const first = newHash()
        assert.equal(await store.findKeyRequestByLink(first), undefined)
        await store.updateKeyRequest(request.id, 'pending', { status: 'approved', linkHash: first })
        assert.equal((await store.findKeyRequestByLink(first))?.id, request.id)
        await store.updateKeyRequest(request.id, 'approved', { status: 'expired', expiredAt: '2026-03-03T01:00:00.000Z' })
        assert.equal((await store.findKeyRequestByLink(first))?.status, 'expired', 'an expired link is still found (to say so)')
        const second = newHash()
        await store.updateKeyRequest(request.id, 'expired', { status: 'approved', linkHash: second, expiredAt: null })
        assert.equal(await store.findKeyRequestByLink(first), undefined, 'a replaced link is gone')
        assert.equal((await store.findKeyRequestByLink(second))?.status, 'approved')
        assert.deepEqual(await apps(store, { status: 'expired' }), [])
        assert.deepEqual(await apps(store, { status: 'approved' }), ['SIMRS 1'])
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
