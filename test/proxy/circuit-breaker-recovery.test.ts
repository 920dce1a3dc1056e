// How an open circuit breaker recovers (README "Circuit breakers and
// retries"): after openFor it is half-open and lets one probe through, whose
// failure opens it again and whose client leaving frees the slot; a new
// route table (a reload) starts with closed breakers. Real upstreams on
// 127.0.0.1.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { RouteTable } from '../../src/proxy/route-table.js'
import { oneIntegration, routesFrom, startGateway } from '../helpers/gateway.js'
import { startDroppingTcp, startOrigin } from '../helpers/origin.js'
import { assertProblem, closedPort, send } from './client.js'
import { trapUnhandled } from '../helpers/unhandled.js'
import { sleep, waitUntil } from '../helpers/time.js'
import { breakerOf } from './circuit-breaker-fixtures.js'

// The check test/proxy/circuit-breaker-load.test.ts ends with, made once these tests have run.
const unhandled = trapUnhandled()
after(() => { assert.deepEqual(unhandled, [], 'no unhandled rejection or exception escaped') })

test('half-open: after openFor one probe goes through; its failure opens the breaker again', async (t) => {
  const gw = await startGateway(t, oneIntegration('yankes', `http://127.0.0.1:${await closedPort()}`,
    { retries: '0', circuitBreaker: '{ failures: 1, openFor: 300ms }' }))
  const breaker = breakerOf(gw)
  assertProblem(await send(gw.url, '/yankes/kamar'), 502, 'UPSTREAM_UNAVAILABLE')
  assert.equal(breaker.state, 'open')
  const refused = await send(gw.url, '/yankes/kamar')
  assertProblem(refused, 503, 'UPSTREAM_CIRCUIT_OPEN')
  assert.equal(refused.headers['retry-after'], '1', 'at least 1 second, rounded up')

  await sleep(320)
  assert.equal(breaker.state, 'half-open', 'half-open once openFor has passed, before any request')
  assert.deepEqual((await (await fetch(`${gw.url}/readyz`)).json() as Record<string, unknown>).breakers, { yankes: 'half-open' })
  assertProblem(await send(gw.url, '/yankes/kamar'), 502, 'UPSTREAM_UNAVAILABLE')
  assert.equal(breaker.state, 'open')
  assert.equal(breaker.opens, 2)
  assertProblem(await send(gw.url, '/yankes/kamar'), 503, 'UPSTREAM_CIRCUIT_OPEN')
  assert.ok(gw.logs.some((l) => l.msg === 'circuit breaker half-open: one probe request goes to the upstream' && l.integration === 'yankes'))
  assert.ok(gw.logs.some((l) => l.level === 'warn' && String(l.msg).startsWith('circuit breaker open again: the probe request failed')))
})

test('half-open: a probe whose client leaves frees the slot for the next request', async (t) => {
  let hang = true
  const origin = await startOrigin((req, res) => {
    if ((req.url ?? '').startsWith('/fail')) { res.writeHead(500); res.end(); return }
    if (hang) return
    res.end('ok')
  })
  t.after(origin.close)
  const gw = await startGateway(t, oneIntegration('yankes', origin.url, { circuitBreaker: '{ failures: 1, openFor: 200ms }' }))
  assertProblem(await send(gw.url, '/yankes/fail'), 502, 'UPSTREAM_ERROR')
  await sleep(220)
  const probe = httpRequest(`${gw.url}/yankes/kamar`)
  probe.on('error', () => {})
  probe.end()
  await waitUntil('the probe to reach the upstream', () => origin.seen.some((r) => r.url === '/kamar'))
  assertProblem(await send(gw.url, '/yankes/kamar'), 503, 'UPSTREAM_CIRCUIT_OPEN')
  probe.destroy()
  await sleep(50)
  hang = false
  assert.equal((await send(gw.url, '/yankes/kamar')).status, 200, 'the next request became the probe')
  assert.equal(breakerOf(gw).state, 'closed')
})

test('a new route table (a reload) comes with closed breakers', async (t) => {
  const tcp = await startDroppingTcp(t)
  const yaml = oneIntegration('yankes', `http://127.0.0.1:${tcp.port}`, { retries: '0', circuitBreaker: '{ failures: 1, openFor: 1m }' })
  const gw = await startGateway(t, yaml)
  assertProblem(await send(gw.url, '/yankes/kamar'), 502, 'UPSTREAM_UNAVAILABLE')
  assertProblem(await send(gw.url, '/yankes/kamar'), 503, 'UPSTREAM_CIRCUIT_OPEN')
  const old = gw.app.routeTable.table
  gw.app.routeTable.table = new RouteTable(routesFrom(yaml))
  t.after(async () => { await old.close() })
  assert.equal(breakerOf(gw).state, 'closed')
  assert.equal(old.routes[0]?.breaker.state, 'open')
  assertProblem(await send(gw.url, '/yankes/kamar'), 502, 'UPSTREAM_UNAVAILABLE')
  assert.equal(tcp.connections(), 2, 'the new table sent the request upstream')
})
