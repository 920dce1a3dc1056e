// A busy bucket leases its next tokens before it runs out (src/limits/rate-limiter.ts),
// so in steady state no request waits for the store; a small one does not, so
// limits shared by several processes strand no tokens. Against a real Redis.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setImmediate as turn } from 'node:timers/promises'
import { RedisStore } from '../../src/store/redis-store.js'
import { policy, RateLimiter, type LimitResult } from '../../src/limits/rate-limiter.js'
import { parseRate, type Rate } from '../../src/config/units.js'
import { startRedis, storeConnected } from '../helpers/redis.js'
import { sleep } from '../helpers/time.js'

async function limiterOnRedis (t: import('node:test').TestContext): Promise<RateLimiter> {
  const redis = await startRedis(t)
  const store = new RedisStore({ url: redis.url, prefix: redis.prefix })
  t.after(async () => { await store.close() })
  await storeConnected(store)
  const limiter = new RateLimiter(store)
  t.after(() => { limiter.close() })
  return limiter
}

/**
 * Sends `count` requests of one client, pausing every `every` (1 ms, as a
 * busy client's requests come: a lease ahead is asked for 250 requests
 * before it is needed, 25 ms at this pace); returns how many had to wait
 * for the store and what each got.
 */
async function send (
  limiter: RateLimiter, limit: string, count: number, every: number, pauseMs = 0
): Promise<{ waited: number, results: LimitResult[] }> {
  const policies = [policy('default', parseRate(limit) as Rate)]
  let waited = 0
  const results: LimitResult[] = []
  for (let i = 0; i < count; i++) {
    const verdict = limiter.check('client-1', 'yankes', policies)
    if (verdict instanceof Promise) {
      waited++
      results.push(await verdict)
    } else {
      results.push(verdict)
    }
    if (i % every === every - 1) await (pauseMs > 0 ? sleep(pauseMs) : turn())
  }
  return { waited, results }
}

function remainingOf (result: LimitResult): number {
  const at = result.headers.indexOf('x-ratelimit-remaining')
  return Number(result.headers[at + 1])
}

test('a busy bucket never waits for the store after its first lease', async (t) => {
  const limiter = await limiterOnRedis(t)
  // Leases of 1,000 (the most): 5,000 requests would wait 5 times without leasing ahead.
  const { waited, results } = await send(limiter, '1000000/1m', 5000, 10, 1)
  assert.equal(waited, 1, 'only the very first request waits for a lease')
  assert.ok(results.every((r) => r.error === undefined))
  // One process: the remaining count is exact, one less each request.
  assert.deepEqual(results.map(remainingOf), results.map((_, i) => 1_000_000 - 1 - i))
})

test('the limit stays exact: 2,000/1m lets exactly 2,000 through, then refuses', async (t) => {
  const limiter = await limiterOnRedis(t)
  const { results } = await send(limiter, '2000/1m', 2100, 20)
  const passed = results.filter((r) => r.error === undefined)
  assert.equal(passed.length, 2000)
  assert.ok(results.slice(2000).every((r) => r.error?.code === 'RATE_LIMITED'))
  assert.deepEqual(passed.map(remainingOf), passed.map((_, i) => 2000 - 1 - i))
})

test('a small bucket (leases under 64 tokens) asks only when it has nothing left', async (t) => {
  const limiter = await limiterOnRedis(t)
  // 100/1m: leases of 25, then smaller as the window fills; each is asked for when the last token is spent.
  const { waited, results } = await send(limiter, '100/1m', 100, 1)
  assert.ok(waited >= 4, `waited ${waited} times: leases were taken ahead of need`)
  assert.equal(results.filter((r) => r.error === undefined).length, 100)
})
