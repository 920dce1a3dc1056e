// The circuit breaker's own timing, on a clock the test moves by hand: no
// upstream, no waiting. test/proxy/circuit-breaker-*.test.ts cover the breaker
// inside a running gateway.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { CircuitBreaker, type BreakerLog } from '../../src/proxy/circuit-breaker.js'

interface Logged { level: 'info' | 'warn', fields: unknown, msg: string }

function setup (
  settings: { failures: number, openForMs: number } | null = { failures: 3, openForMs: 10_000 }, timeoutMs = 5000
): { breaker: CircuitBreaker, clock: { now: number }, log: BreakerLog, logged: Logged[] } {
  const clock = { now: 1_000 }
  const logged: Logged[] = []
  const log = {
    info: (fields: unknown, msg: string) => { logged.push({ level: 'info', fields, msg }) },
    warn: (fields: unknown, msg: string) => { logged.push({ level: 'warn', fields, msg }) }
  } as unknown as BreakerLog // only the (fields, msg) form is used
  const breaker = new CircuitBreaker('yankes', settings, timeoutMs, { now: () => clock.now })
  return { breaker, clock, log, logged }
}

function retryAfter (breaker: CircuitBreaker): string | undefined {
  return breaker.refusal().headers?.['retry-after']
}

test('closed: every request passes; `failures` consecutive failures open it, a success in between starts the count again', () => {
  const { breaker, log, logged } = setup()
  assert.equal(breaker.state, 'closed')
  assert.equal(breaker.admit(log), 'pass')
  breaker.failed(false, log)
  breaker.failed(false, log)
  assert.equal(breaker.failures, 2)
  breaker.succeeded(false, log)
  assert.equal(breaker.failures, 0)
  breaker.failed(false, log)
  breaker.failed(false, log)
  assert.equal(breaker.state, 'closed')
  breaker.failed(false, log)
  assert.equal(breaker.state, 'open')
  assert.equal(breaker.opens, 1)
  assert.equal(breaker.failures, 0)
  assert.deepEqual(logged.map((l) => [l.level, l.msg]),
    [['warn', 'circuit breaker open after 3 consecutive upstream failures; refusing requests for 10000 ms']])
})

test('open: refused until openFor has passed, Retry-After counting down in whole seconds (at least 1)', () => {
  const { breaker, clock, log } = setup()
  for (let i = 0; i < 3; i++) breaker.failed(false, log)
  assert.equal(breaker.admit(log), 'reject')
  assert.equal(retryAfter(breaker), '10')
  assert.match(breaker.refusal().message, /the gateway tries it again in 10 s$/)
  assert.equal(breaker.refusal().code, 'UPSTREAM_CIRCUIT_OPEN')
  clock.now += 500
  assert.equal(retryAfter(breaker), '10', 'rounded up')
  clock.now += 8_600
  assert.equal(retryAfter(breaker), '1')
  clock.now += 899
  assert.equal(breaker.state, 'open')
  assert.equal(breaker.admit(log), 'reject')
  assert.equal(retryAfter(breaker), '1', 'never 0')
})

test('after openFor: half-open before any request; one probe goes through, the others are refused with Retry-After 1', () => {
  const { breaker, clock, log, logged } = setup()
  for (let i = 0; i < 3; i++) breaker.failed(false, log)
  clock.now += 10_000
  assert.equal(breaker.state, 'half-open', 'noticed by state, without a request')
  assert.equal(breaker.admit(log), 'probe')
  assert.equal(breaker.admit(log), 'reject')
  assert.equal(retryAfter(breaker), '1')
  assert.match(breaker.refusal().message, /letting one trial request through/)
  assert.equal(logged.at(-1)?.msg, 'circuit breaker half-open: one probe request goes to the upstream')
})

test('half-open: the probe\'s success closes the breaker; outcomes of older requests change nothing meanwhile', () => {
  const { breaker, clock, log, logged } = setup()
  for (let i = 0; i < 3; i++) breaker.failed(false, log)
  // Requests let through before it opened report while it is open: ignored.
  breaker.failed(false, log)
  breaker.succeeded(false, log)
  assert.equal(breaker.state, 'open')
  clock.now += 10_000
  assert.equal(breaker.admit(log), 'probe')
  breaker.failed(false, log)
  assert.equal(breaker.state, 'half-open', 'only the probe decides')
  breaker.succeeded(true, log)
  assert.equal(breaker.state, 'closed')
  assert.equal(breaker.admit(log), 'pass')
  assert.equal(logged.at(-1)?.msg, 'circuit breaker closed: the probe request succeeded')
})

test('half-open: the probe\'s failure opens it for another openFor, from the failure', () => {
  const { breaker, clock, log, logged } = setup()
  for (let i = 0; i < 3; i++) breaker.failed(false, log)
  clock.now += 10_000
  assert.equal(breaker.admit(log), 'probe')
  clock.now += 2_000 // the probe took 2 s to fail
  breaker.failed(true, log)
  assert.equal(breaker.state, 'open')
  assert.equal(breaker.opens, 2)
  assert.equal(retryAfter(breaker), '10')
  assert.equal(logged.at(-1)?.level, 'warn')
  assert.match(logged.at(-1)?.msg ?? '', /^circuit breaker open again: the probe request failed; refusing requests for 10000 ms$/)
  clock.now += 9_999
  assert.equal(breaker.admit(log), 'reject')
  clock.now += 1
  assert.equal(breaker.admit(log), 'probe')
})

test('half-open: a probe released without a verdict, or never heard of for timeout + 1 s, frees the slot', () => {
  const { breaker, clock, log } = setup({ failures: 1, openForMs: 1_000 }, 5_000)
  breaker.failed(false, log)
  clock.now += 1_000
  assert.equal(breaker.admit(log), 'probe')
  breaker.released(true)
  assert.equal(breaker.admit(log), 'probe', 'the next request became the probe')
  // This one never reports: after its timeout and a second more it counts as lost.
  clock.now += 5_999
  assert.equal(breaker.admit(log), 'reject')
  clock.now += 1
  assert.equal(breaker.admit(log), 'probe')
})

test('circuitBreaker: off never opens, whatever fails', () => {
  const { breaker, clock, log } = setup(null)
  assert.equal(breaker.enabled, false)
  for (let i = 0; i < 1_000; i++) breaker.failed(false, log)
  clock.now += 60_000
  assert.equal(breaker.state, 'closed')
  assert.equal(breaker.admit(log), 'pass')
  assert.equal(breaker.opens, 0)
})
