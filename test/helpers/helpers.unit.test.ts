// The shared test helpers themselves (test/helpers/time.ts, routes.ts,
// problem.ts): a helper that passes when it should fail would hide bugs
// everywhere it is used.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseRoutes } from '../../src/config/routes-loader.js'
import { assertProblem } from './problem.js'
import { routesYaml } from './routes.js'
import { assertElapsed, LATE_MS, sleepUntil, waitFor, waitUntil } from './time.js'

test('waitUntil returns as soon as the check holds, async checks included', async () => {
  let calls = 0
  const started = performance.now()
  await waitUntil('the third call', () => ++calls === 3, { intervalMs: 1 })
  assert.equal(calls, 3)
  await waitUntil('an async check', async () => await Promise.resolve(true))
  assert.ok(performance.now() - started < 1000)
})

test('waitUntil fails past its deadline, saying what it waited for and the detail', async () => {
  const started = performance.now()
  await assert.rejects(waitUntil('the moon to turn blue', () => false, { timeoutMs: 50, intervalMs: 5, detail: () => 'last colour: grey' }),
    { message: 'timed out after 50 ms waiting for the moon to turn blue\nlast colour: grey' })
  assert.ok(performance.now() - started >= 49)
  await assert.rejects(waitUntil('a number', () => false, 20), /^Error: timed out after 20 ms waiting for a number$/)
})

test('waitUntil passes on an error the check throws', async () => {
  await assert.rejects(waitUntil('anything', () => { throw new Error('the process died') }), /the process died/)
})

test('waitFor returns the first value that is not undefined', async () => {
  const values = [undefined, undefined, 0, 1]
  assert.equal(await waitFor('a value', () => values.shift(), { intervalMs: 1 }), 0)
  await assert.rejects(waitFor('nothing', () => undefined, 10), /waiting for nothing/)
})

test('sleepUntil waits for a moment on the clock, and not at all for one gone by', async () => {
  const target = Date.now() + 30
  await sleepUntil(target)
  assert.ok(Date.now() >= target)
  const started = performance.now()
  await sleepUntil(Date.now() - 1000)
  assert.ok(performance.now() - started < 20)
})

test('assertElapsed: an exact lower bound, and LATE_MS past the expected time as the ceiling', () => {
  assertElapsed(300, 290, 300)
  assertElapsed(300 + LATE_MS - 1, 290, 300)
  assert.throws(() => { assertElapsed(289, 290, 300) }, /answered after 289 ms, sooner than 290 ms/)
  assert.throws(() => { assertElapsed(300 + LATE_MS, 290, 300, 'cut') }, /cut after 1300 ms, more than 1000 ms later than the 300 ms expected/)
})

test('routesYaml writes defaults, fields in order, flow values as they are and lists as block lists', () => {
  const yaml = routesYaml({
    defaults: { auth: 'none', rateLimit: '1000/1m' },
    integrations: {
      yankes: { upstream: 'http://127.0.0.1:3000', circuitBreaker: '{ failures: 2, openFor: 1s }', retries: 0, description: undefined },
      bpjs: { upstream: 'http://127.0.0.1:3001', plugins: ['static-headers: { set: { x-satu: "1" } }'] }
    }
  })
  assert.equal(yaml, [
    'defaults:',
    '  auth: none',
    '  rateLimit: 1000/1m',
    'integrations:',
    '  yankes:',
    '    upstream: http://127.0.0.1:3000',
    '    circuitBreaker: { failures: 2, openFor: 1s }',
    '    retries: 0',
    '  bpjs:',
    '    upstream: http://127.0.0.1:3001',
    '    plugins:',
    '      - static-headers: { set: { x-satu: "1" } }',
    ''
  ].join('\n'))
  const parsed = parseRoutes(routesYaml({
    defaults: { auth: 'none' },
    integrations: { yankes: { upstream: 'http://127.0.0.1:3000', circuitBreaker: '{ failures: 2, openFor: 1s }', retries: 0 } }
  }))
  assert.ok(parsed.ok, JSON.stringify(parsed.ok ? [] : parsed.problems))
  assert.deepEqual(parsed.config.integrations[0]?.circuitBreaker, { failures: 2, openForMs: 1000 })
  assert.equal(routesYaml({ integrations: { a: { upstream: 'http://127.0.0.1:1' } } }), 'integrations:\n  a:\n    upstream: http://127.0.0.1:1\n')
})

test('assertProblem accepts a whole problem document, from fetch or from a raw answer, and refuses one member short', () => {
  const body = {
    type: 'about:blank',
    title: 'Bad Gateway',
    status: 502,
    code: 'UPSTREAM_UNAVAILABLE',
    detail: 'yankes refused the connection',
    instance: '/yankes/kamar',
    requestId: 'req-1',
    timestamp: new Date().toISOString()
  }
  const text = JSON.stringify(body)
  const fetched = { status: 502, headers: new Headers({ 'content-type': 'application/problem+json', 'x-request-id': 'req-1' }), body: text }
  assert.equal(assertProblem(fetched, 502, 'UPSTREAM_UNAVAILABLE', '/yankes/kamar').detail, body.detail)
  const raw = { status: 502, headers: { 'content-type': 'application/problem+json; charset=utf-8', 'x-request-id': 'req-1' }, body: Buffer.from(text) }
  assert.equal(assertProblem(raw, 502, 'UPSTREAM_UNAVAILABLE').code, 'UPSTREAM_UNAVAILABLE')

  assert.throws(() => assertProblem(fetched, 503, 'UPSTREAM_UNAVAILABLE'), /expected 503 UPSTREAM_UNAVAILABLE, got 502/)
  assert.throws(() => assertProblem(fetched, 502, 'UPSTREAM_UNAVAILABLE', '/elsewhere'))
  assert.throws(() => assertProblem({ ...raw, headers: { 'content-type': 'application/json', 'x-request-id': 'req-1' } }, 502, 'UPSTREAM_UNAVAILABLE'), /content-type/)
  assert.throws(() => assertProblem({ ...fetched, body: JSON.stringify({ ...body, requestId: 'other' }) }, 502, 'UPSTREAM_UNAVAILABLE'))
  assert.throws(() => assertProblem({ ...fetched, body: JSON.stringify({ ...body, detail: '' }) }, 502, 'UPSTREAM_UNAVAILABLE'))
  assert.throws(() => assertProblem({ ...fetched, body: JSON.stringify({ ...body, detail: 'at foo (/app/dist/x.js:12:3)' }) }, 502, 'UPSTREAM_UNAVAILABLE'),
    /no stack trace/)
  assert.throws(() => assertProblem({ ...fetched, body: JSON.stringify({ ...body, timestamp: '2020-01-01T00:00:00.000Z' }) }, 502, 'UPSTREAM_UNAVAILABLE'),
    /is not now/)
})
