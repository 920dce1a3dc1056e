// The Store contract (src/store/types.ts) as tests: one suite per role
// (credentials.ts, admin.ts, counters.ts, limits.ts, change-feed.ts) and the
// lifecycle every store has, all run on every implementation (the
// *-store.test.ts files beside this folder), so the embedded stores and
// Redis cannot drift apart. Each test gets a fresh, empty store from `make`,
// which also arranges its closing.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Store } from '../../../src/store/types.js'
import { adminStoreContract } from './admin.js'
import { changeFeedContract } from './change-feed.js'
import { counterStoreContract } from './counters.js'
import { credentialStoreContract } from './credentials.js'
import { LIMITS, within, type MakeStore } from './helpers.js'
import { limitStoreContract } from './limits.js'

export { collectChanges, newClient, newHash, newUser, within } from './helpers.js'

export function storeContract (name: string, make: MakeStore<Store>): void {
  describe(`${name}: the Store contract`, () => {
    credentialStoreContract(make)
    adminStoreContract(make)
    counterStoreContract(make)
    limitStoreContract(make)
    changeFeedContract(make)

    describe('lifecycle', () => {
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
