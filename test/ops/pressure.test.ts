import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp } from '../../src/app.js'
import { routesFrom } from '../helpers/gateway.js'
import type { Problem } from '../helpers/problem.js'
import { sleep, waitUntil } from '../helpers/time.js'

test('with the event loop held up, requests get 503 OVERLOADED with Retry-After at once; /healthz still answers', async (t) => {
  const app = await buildApp({
    routes: routesFrom('defaults:\n  auth: none\nintegrations:\n  yankes:\n    upstream: http://127.0.0.1:9\n'),
    pressure: { maxEventLoopDelayMs: 100, sampleIntervalMs: 100 }
  })
  t.after(async () => { await app.close() })
  await app.ready()
  await sleep(250)

  assert.notEqual((await app.inject('/readyz')).statusCode, 503, 'not overloaded before')
  // Hold the loop the way overload does: 200 ms at a time, over and over.
  // under-pressure judges the MEAN of the 10 ms delay probes since its last
  // sample, so a single long block is not enough: whether it counts depends
  // on where it falls against the probe and sample timers (CI once saw a 1 s
  // block pass unnoticed). Held like this, every probe is late by ~200 ms.
  let holding = true
  const hold = (): void => {
    const until = Date.now() + 200
    while (Date.now() < until) { /* busy */ }
    if (holding) setImmediate(hold)
  }
  t.after(() => { holding = false })
  hold()
  await sleep(700)

  const shed = await app.inject('/yankes/kamar')
  const alive = await app.inject('/healthz')
  holding = false
  assert.equal(shed.statusCode, 503)
  assert.match(String(shed.headers['content-type']), /^application\/problem\+json/)
  assert.equal(shed.headers['retry-after'], '5')
  const problem = shed.json<Problem>()
  assert.equal(problem.code, 'OVERLOADED')
  assert.match(problem.detail, /overloaded/)
  assert.equal(alive.statusCode, 200, 'a busy process is still alive')

  // Once the loop is quiet again, requests are served.
  await waitUntil('requests to be served again', async () => (await app.inject('/yankes/kamar')).statusCode !== 503)
})

test('a start-up that held the event loop does not shed the first requests once the gateway is ready', async (t) => {
  const app = await buildApp({
    routes: routesFrom('defaults:\n  auth: none\nintegrations:\n  yankes:\n    upstream: http://127.0.0.1:9\n'),
    pressure: { maxEventLoopDelayMs: 100, sampleIntervalMs: 100 }
  })
  t.after(async () => { await app.close() })
  // Start-up work (loading modules, opening the store, compiling routes) holds
  // the loop before the gateway is ready, on a busy machine for seconds; that
  // is not load, and a restarted gateway must not answer its first clients 503.
  const until = Date.now() + 1500
  while (Date.now() < until) { /* busy */ }
  await app.ready()
  await sleep(1)

  const first = await app.inject('/yankes/kamar')
  assert.notEqual(first.statusCode, 503, 'the first request after start-up is not shed')
  assert.equal(first.json<Problem>().code, 'UPSTREAM_UNAVAILABLE', 'it reached the (dead) upstream')
})
