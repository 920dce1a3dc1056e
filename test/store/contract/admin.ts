// The AdminStore contract (src/store/admin.ts, src/store/key-requests.ts)
// as tests: users, roles, sessions, the audit log and the key-request queue.
// Run on every store by storeContract (index.ts).
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import type { AdminStore, KeyRequestStore, ListKeyRequestsOptions, Role, User } from '../../../src/store/types.js'
import { sleepUntil } from '../../helpers/time.js'
import { isConflict, LIMITS, newAudit, newHash, newKeyRequest, newRole, newSession, newUser, type MakeStore } from './helpers.js'

export function adminStoreContract (make: MakeStore<AdminStore>): void {
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
      await sleepUntil(saved + 250)
      assert.equal(await store.getSession(id), undefined)
    })

    test('touchSession restarts the TTL of a live session and brings back no other', LIMITS, async (t) => {
      const store = await make(t)
      const id = newHash()
      const session = newSession('budi@bantenprov.go.id')
      const saved = Date.now()
      await store.saveSession(id, session, 200)
      await sleepUntil(saved + 100)
      const touched = Date.now()
      await store.touchSession(id, 400)
      // Past the first TTL, within the second.
      await sleepUntil(saved + 300)
      assert.deepEqual(await store.getSession(id), session)
      await sleepUntil(touched + 500)
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
      await sleepUntil(saved + 250)
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
        await Promise.all(Array.from({ length: Math.min(250, total - n) },
          async (_, i) => { await store.appendAudit(newAudit(n + i)) }))
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

  describe('key requests (issue 18, item 6)', () => {
    const apps = async (store: KeyRequestStore, options?: ListKeyRequestsOptions): Promise<string[]> =>
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
      const burst = await Promise.all(Array.from({ length: 8 }, async (_, i) =>
        await store.createKeyRequest(newKeyRequest(10 + i), 5)))
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
}
