// The CredentialStore contract (src/store/credentials.ts), continued: what
// a key or a token resolves to, and for how long (rotation, grace periods,
// expiry). Part of credentialStoreContract (credentials.ts).
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import type { CredentialStore } from '../../../src/store/types.js'
import { sleep } from '../../helpers/time.js'
import { createNamed, LIMITS, newClient, newHash, type MakeStore } from './helpers.js'

export function keyAndTokenContract (make: MakeStore<CredentialStore>): void {
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
      assert.ok(
        found?.expiresAt !== undefined && found.expiresAt >= before + 150 && found.expiresAt <= after + 200 + 20,
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
      assert.ok(
        found?.expiresAt !== undefined && found.expiresAt >= before + 250 && found.expiresAt <= after + 300 + 20,
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
}
