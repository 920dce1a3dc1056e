// The LimitStore contract (src/store/limits.ts) as tests: leases from
// fixed windows, giving tokens back, and the heartbeat. Run on every store
// by storeContract (index.ts); leases of several instances on one store are
// in disk-store.test.ts, and the rate limiter on top of them in test/limits/.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import type { LimitStore } from '../../../src/store/types.js'
import { sleepUntil } from '../../helpers/time.js'
import { LIMITS, type MakeStore } from './helpers.js'

const MINUTE = 60_000

export function limitStoreContract (make: MakeStore<LimitStore>): void {
  describe('limits', () => {
    test('a lease grants a share of the room (room ÷ 4 × processes, at least 1, at most cap) and never passes the limit', LIMITS, async (t) => {
      const store = await make(t)
      const counters = [{ key: 'yankes', limit: 10, windowMs: MINUTE }]
      const first = await store.lease('client-1', counters, 1, 100)
      assert.equal(first.granted, 2, '10 ÷ 4, rounded down')
      assert.deepEqual(first.remaining, [8])
      assert.equal(first.resetMs.length, 1)
      assert.ok((first.resetMs[0] ?? 0) > MINUTE - 1000 && (first.resetMs[0] ?? 0) <= MINUTE, `resetMs ${String(first.resetMs[0])}`)
      let granted = first.granted
      for (let i = 0; i < 20; i++) granted += (await store.lease('client-1', counters, 1, 100)).granted
      assert.equal(granted, 10, 'every token of the window, and not one more')
      const empty = await store.lease('client-1', counters, 1, 100)
      assert.equal(empty.granted, 0)
      assert.deepEqual(empty.remaining, [0])
      // The share: more processes get smaller leases; cap bounds them; 1 at the least.
      assert.equal((await store.lease('client-2', [{ key: 'yankes', limit: 100, windowMs: MINUTE }], 5, 100)).granted, 5)
      assert.equal((await store.lease('client-3', [{ key: 'yankes', limit: 1000, windowMs: MINUTE }], 1, 7)).granted, 7)
      assert.equal((await store.lease('client-4', [{ key: 'yankes', limit: 3, windowMs: MINUTE }], 1, 100)).granted, 1)
    })

    test('a lease takes from every counter at once, as many as the fullest has room for', LIMITS, async (t) => {
      const store = await make(t)
      const counters = [{ key: 'minute', limit: 100, windowMs: MINUTE }, { key: 'daily', limit: 3, windowMs: 24 * 3600_000 }]
      const lease = await store.lease('client-1', counters, 1, 100)
      assert.equal(lease.granted, 1)
      assert.deepEqual(lease.remaining, [99, 2])
      assert.ok((lease.resetMs[1] ?? 0) > MINUTE, 'each counter keeps its own window')
      let granted = lease.granted
      for (let i = 0; i < 5; i++) granted += (await store.lease('client-1', counters, 1, 100)).granted
      assert.equal(granted, 3)
      // The minute counter was only charged what was granted.
      assert.deepEqual((await store.lease('client-1', [counters[0] as typeof counters[number]], 1, 1)).remaining, [96])
      // Counters of another group are others, even under the same key.
      assert.deepEqual((await store.lease('client-2', counters, 1, 100)).remaining, [99, 2])
    })

    test('release gives tokens back to running windows, never below zero; nothing to give back is a no-op', LIMITS, async (t) => {
      const store = await make(t)
      const counters = [{ key: 'yankes', limit: 10, windowMs: MINUTE }]
      assert.equal((await store.lease('client-1', counters, 1, 100)).granted, 2)
      await store.release('client-1', ['yankes'], 2)
      assert.deepEqual((await store.lease('client-1', counters, 1, 100)).remaining, [8], 'the 2 given back were leased again')
      await store.release('client-1', ['yankes'], 100)
      assert.deepEqual((await store.lease('client-1', counters, 1, 1)).remaining, [9], 'at most what was taken comes back')
      await store.release('client-1', [], 5)
      await store.release('client-1', ['yankes'], 0)
      await store.release('client-1', ['never-leased'], 3)
      assert.deepEqual((await store.lease('client-1', counters, 1, 1)).remaining, [8])
      assert.deepEqual((await store.lease('client-1', [{ key: 'never-leased', limit: 10, windowMs: MINUTE }], 1, 1)).remaining, [9])
    })

    test('a window starts at its first token and ends windowMs later, with all its room back', LIMITS, async (t) => {
      const store = await make(t)
      const counters = [{ key: 'short', limit: 2, windowMs: 200 }]
      const first = await store.lease('client-1', counters, 1, 100)
      // The window began during that call, so it has ended 200 ms after its answer at the latest.
      const leased = Date.now()
      assert.equal(first.granted, 1)
      assert.ok((first.resetMs[0] ?? 0) > 0 && (first.resetMs[0] ?? 0) <= 200, `resetMs ${String(first.resetMs[0])}`)
      assert.equal((await store.lease('client-1', counters, 1, 100)).granted, 1)
      assert.equal((await store.lease('client-1', counters, 1, 100)).granted, 0)
      await sleepUntil(leased + 250)
      const again = await store.lease('client-1', counters, 1, 100)
      assert.equal(again.granted, 1)
      assert.deepEqual(again.remaining, [1])
    })

    test('heartbeat counts this process among the live ones, once however often it beats', LIMITS, async (t) => {
      const store = await make(t)
      const id = randomUUID()
      const alive = await store.heartbeat(id, 5000)
      assert.ok(alive >= 1, `heartbeat answered ${alive}`)
      assert.equal(await store.heartbeat(id, 5000), alive)
    })
  })
}
