// The ChangeFeed contract (src/store/change-feed.ts) as tests: what one
// process publishes, the processes sharing the store hear (here the same
// store; other instances in redis-store.test.ts and disk-store.test.ts).
// Run on every store by storeContract (index.ts).
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import type { ChangeFeed } from '../../../src/store/types.js'
import { waitUntil } from '../../helpers/time.js'
import { collectChanges, LIMITS, type MakeStore } from './helpers.js'

export function changeFeedContract (make: MakeStore<ChangeFeed>): void {
  describe('changes', () => {
    test('publishChange reaches a subscriber of the same store within 1 s', LIMITS, async (t) => {
      const store = await make(t)
      const received = await collectChanges(store)
      const clientId = randomUUID()
      await store.publishChange({ clientId })
      await waitUntil('the change notification', () => received.length > 0, 1000)
      assert.deepEqual(received, [{ clientId }])
    })

    test('a legacyImport change reaches subscribers as published', LIMITS, async (t) => {
      const store = await make(t)
      const received = await collectChanges(store)
      await store.publishChange({ clientId: '', legacyImport: true })
      await waitUntil('the change notification', () => received.length > 0, 1000)
      assert.deepEqual(received, [{ clientId: '', legacyImport: true }])
    })
  })
}
