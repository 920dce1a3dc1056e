// The rate limiter's own timing on a mocked clock: windows that end, refusals
// that last until then, Retry-After and `t=` counting down, and the local
// fallback's windows. The MemoryStore keeps the shared windows by Date.now(),
// so `t.mock.timers` moves both at once (and runs the heartbeat's interval
// only when ticked). test/limits/ covers the limiter across real processes.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyBaseLogger } from 'fastify'
import { policy, RateLimiter, type LimitResult, type Policy } from '../../src/limits/rate-limiter.js'
import { MemoryStore } from '../../src/store/memory-store.js'
import type { Store } from '../../src/store/types.js'
import { flakyStore } from '../helpers/flaky-store.js'

const MINUTE = policy('default', { limit: 5, windowMs: 60_000 })

function limiterOn (t: TestContext, store: Store = new MemoryStore(), logger?: FastifyBaseLogger): RateLimiter {
  t.mock.timers.enable({ apis: ['Date', 'setInterval', 'setTimeout'], now: Date.parse('2026-01-05T08:00:00Z') })
  const limiter = new RateLimiter(store, { heartbeatMs: 2000, ...(logger !== undefined ? { logger } : {}) })
  t.after(() => { limiter.close() })
  return limiter
}

function header (result: LimitResult, name: string): string | undefined {
  const at = result.headers.indexOf(name)
  return at === -1 ? undefined : result.headers[at + 1]
}

async function check (limiter: RateLimiter, policies: readonly Policy[] = [MINUTE], partition = 'client-1'): Promise<LimitResult> {
  return await limiter.check(partition, 'yankes', policies)
}

test('a window allows its limit, refuses until it ends, and the next window starts afresh', async (t) => {
  const limiter = limiterOn(t)
  for (let n = 1; n <= 5; n++) {
    const result = await check(limiter)
    assert.equal(result.error, undefined, `request ${n}`)
    assert.equal(header(result, 'ratelimit'), `"default";r=${5 - n};t=60`, `request ${n}`)
  }
  const refused = await check(limiter)
  assert.equal(refused.error?.code, 'RATE_LIMITED')
  assert.equal(refused.error?.headers?.['retry-after'], '60')
  assert.deepEqual(refused.error?.extras?.violatedPolicies, ['default'])

  // The refusal is remembered (answered without the store), counting down.
  t.mock.timers.tick(20_500)
  const later = await check(limiter)
  assert.equal(later.error?.headers?.['retry-after'], '40', 'rounded up')
  assert.equal(header(later, 'ratelimit'), '"default";r=0;t=40')
  assert.equal(header(later, 'x-ratelimit-reset'), '40')
  t.mock.timers.tick(39_499)
  assert.equal((await check(limiter)).error?.headers?.['retry-after'], '1', 'a millisecond before the end')

  t.mock.timers.tick(1)
  const fresh = await check(limiter)
  assert.equal(fresh.error, undefined, 'a new window')
  assert.equal(header(fresh, 'ratelimit'), '"default";r=4;t=60')
})

test('each partition and integration has its own window', async (t) => {
  const limiter = limiterOn(t)
  for (let n = 0; n < 5; n++) await check(limiter)
  assert.equal((await check(limiter)).error?.code, 'RATE_LIMITED')
  assert.equal((await check(limiter, [MINUTE], 'client-2')).error, undefined)
  assert.equal((await limiter.check('client-1', 'satu-data', [MINUTE])).error, undefined)
})

test('a daily quota outlives the minute windows: refused until the day ends, with that Retry-After', async (t) => {
  const limiter = limiterOn(t)
  const policies = [policy('default', { limit: 100, windowMs: 60_000 }), policy('daily', { limit: 3, windowMs: 86_400_000 })]
  for (let n = 0; n < 3; n++) {
    assert.equal((await check(limiter, policies)).error, undefined)
    t.mock.timers.tick(61_000) // each request in a minute window of its own
  }
  const refused = await check(limiter, policies)
  assert.deepEqual(refused.error?.extras?.violatedPolicies, ['daily'])
  assert.equal(refused.error?.headers?.['retry-after'], String(86_400 - 183))
  t.mock.timers.tick(86_400_000 - 183_000)
  assert.equal((await check(limiter, policies)).error, undefined, 'a new day')
})

test('with the store down each process limits alone in windows of its own, and says so once', async (t) => {
  const store = flakyStore()
  const warnings: string[] = []
  const logger = {
    warn: (_fields: unknown, msg: string) => { warnings.push(msg) }, info: () => {}
  } as unknown as FastifyBaseLogger
  const limiter = limiterOn(t, store, logger)
  store.down = true
  const second = policy('default', { limit: 3, windowMs: 1000 })
  for (let n = 0; n < 3; n++) assert.equal((await check(limiter, [second])).error, undefined, `request ${n + 1}`)
  const refused = await check(limiter, [second])
  assert.equal(refused.error?.code, 'RATE_LIMITED')
  assert.equal(refused.error?.headers?.['retry-after'], '1')
  t.mock.timers.tick(999)
  assert.equal((await check(limiter, [second])).error?.code, 'RATE_LIMITED')
  t.mock.timers.tick(1)
  assert.equal((await check(limiter, [second])).error, undefined, 'the local window ended')
  assert.deepEqual(warnings, ['the store cannot count requests: each process now limits alone, at its share of every limit'])
})
