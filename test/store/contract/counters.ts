// The CounterStore contract (src/store/counters.ts) as tests. Run on every
// store by storeContract (index.ts).
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { CounterStore } from '../../../src/store/types.js'
import { sleepUntil } from '../../helpers/time.js'
import { LIMITS, type MakeStore } from './helpers.js'

export function counterStoreContract (make: MakeStore<CounterStore>): void {
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
      // Windows of hundreds of ms: a machine busy enough to hold the loop for
      // 100 ms (coverage on two cores did) must not move a write past an expiry.
      const written = Date.now()
      await store.addCounts([
        { bucket: 'short', ttlMs: 600, counts: new Map([['hits', 1]]) },
        { bucket: 'kept', ttlMs: 800, counts: new Map([['hits', 1]]) }
      ])
      assert.deepEqual(await store.readCountFields('short', ['hits']), [1])
      await sleepUntil(written + 400)
      const rewritten = Date.now()
      await store.addCounts([{ bucket: 'kept', ttlMs: 800, counts: new Map([['hits', 2]]) }])
      await sleepUntil(written + 1000)
      assert.deepEqual(await store.readCounts(['short', 'kept']), [new Map(), new Map([['hits', 3]])])
      assert.deepEqual(await store.readCountFields('short', ['hits']), [0])
      await sleepUntil(rewritten + 1200)
      assert.deepEqual(await store.readCounts(['kept']), [new Map()])
      // A write after expiry starts from zero.
      await store.addCounts([{ bucket: 'short', ttlMs: 60_000, counts: new Map([['hits', 5]]) }])
      assert.deepEqual(await store.readCountFields('short', ['hits']), [5])
    })
  })
}
