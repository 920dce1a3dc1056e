// What opens a circuit breaker (README "Circuit breakers and retries"): one
// failure per client request, after its retries; upstream timeouts; 5xx
// answers but not 4xx, 501 or clients leaving; nothing with circuitBreaker:
// off. And what an open breaker answers: 503 at once, nothing upstream,
// /readyz still ready. Real upstreams on 127.0.0.1.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { oneIntegration, startGateway } from '../helpers/gateway.js'
import { startDroppingTcp, startOrigin } from '../helpers/origin.js'
import { assertProblem, closedPort, send } from './client.js'
import { trapUnhandled } from '../helpers/unhandled.js'
import { sleep, waitUntil } from '../helpers/time.js'
import { breakerOf, round } from './circuit-breaker-fixtures.js'

// The check test/proxy/circuit-breaker-load.test.ts ends with, made once these tests have run.
const unhandled = trapUnhandled()
after(() => { assert.deepEqual(unhandled, [], 'no unhandled rejection or exception escaped') })

test('one failure per client request, after its retries; /readyz reports the breaker and stays ready', async (t) => {
  const tcp = await startDroppingTcp(t)
  const echo = await startOrigin((_req, res) => { res.end('ok') })
  t.after(echo.close)
  const yaml = [
    'defaults:',
    '  auth: none',
    'integrations:',
    `  yankes: { upstream: "http://127.0.0.1:${tcp.port}", retries: 2, circuitBreaker: { failures: 3, openFor: 10s } }`,
    `  satu-data: { upstream: "${echo.url}" }`,
    ''
  ].join('\n')
  const gw = await startGateway(t, yaml)
  const breaker = breakerOf(gw)
  for (let i = 1; i <= 3; i++) {
    assert.equal(breaker.state, 'closed')
    assertProblem(await send(gw.url, '/yankes/kamar'), 502, 'UPSTREAM_UNAVAILABLE', '/yankes/kamar')
    assert.equal(tcp.connections(), 3 * i, 'three attempts per request')
    assert.equal(breaker.failures, i === 3 ? 0 : i)
  }
  assert.equal(breaker.state, 'open')
  assert.equal(breaker.opens, 1)

  const started = performance.now()
  const refused = await send(gw.url, '/yankes/kamar')
  const ms = performance.now() - started
  const body = assertProblem(refused, 503, 'UPSTREAM_CIRCUIT_OPEN', '/yankes/kamar')
  assert.equal(refused.headers['retry-after'], '10')
  assert.equal(body.detail,
    'yankes is unavailable: its circuit breaker opened after repeated upstream failures; the gateway tries it again in 10 s')
  assert.equal(tcp.connections(), 9, 'an open breaker sends nothing upstream')
  // At once (nothing went upstream, as the count above shows); the bound is generous for a loaded machine.
  assert.ok(ms < 250, `refused after ${round(ms)} ms`)

  // A POST with a body is refused just the same (its body unread, so the connection closes).
  const post = await send(gw.url, '/yankes/pasien', {
    method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '2' }, body: '{}'
  })
  assertProblem(post, 503, 'UPSTREAM_CIRCUIT_OPEN', '/yankes/pasien')

  // The other integration is not affected, and the gateway stays ready.
  assert.equal((await send(gw.url, '/satu-data/getGroup')).status, 200)
  const ready = await fetch(`${gw.url}/readyz`)
  assert.equal(ready.status, 200)
  const readyBody = await ready.json() as Record<string, unknown>
  assert.deepEqual(readyBody.breakers, { yankes: 'open', 'satu-data': 'closed' })
  assert.equal(readyBody.status, 'ready')
})

test('upstream timeouts count as failures; once open, answers no longer wait for the timeout', async (t) => {
  const origin = await startOrigin(() => { /* never answers */ })
  t.after(origin.close)
  const gw = await startGateway(t, oneIntegration('yankes', origin.url, { timeout: '300ms', circuitBreaker: '{ failures: 2, openFor: 10s }' }))
  for (let i = 0; i < 2; i++) {
    const started = performance.now()
    assertProblem(await send(gw.url, '/yankes/kamar'), 504, 'UPSTREAM_TIMEOUT')
    assert.ok(performance.now() - started >= 290)
  }
  const started = performance.now()
  assertProblem(await send(gw.url, '/yankes/kamar'), 503, 'UPSTREAM_CIRCUIT_OPEN')
  const ms = performance.now() - started
  // At once: a generous bound, under the 300 ms timeout it no longer waits for.
  assert.ok(ms < 250, `refused after ${round(ms)} ms`)
  assert.equal(origin.seen.length, 2)
})

test('what counts: 500, 502, 503 and 504 answers (passthrough too) do; 4xx, 501, successes in between and clients leaving do not', async (t) => {
  const origin = await startOrigin((req, res) => {
    const url = req.url ?? ''
    if (url.startsWith('/hang')) return
    const status = Number(/\/status\/(\d{3})/.exec(url)?.[1] ?? 200)
    res.writeHead(status, status === 503 ? { 'retry-after': '120' } : {})
    res.end(`status ${status}`)
  })
  t.after(origin.close)
  const names = ['client-errors', 'not-implemented', 'server-errors', 'passthrough', 'maintenance', 'gateway-timeouts', 'mixed', 'clients-leave']
  const yaml = [
    'defaults:',
    '  auth: none',
    '  circuitBreaker: { failures: 2, openFor: 10s }',
    'integrations:',
    ...names.map((n) => `  ${n}: { upstream: "${origin.url}"${n === 'passthrough' ? ', upstreamErrors: passthrough' : ''} }`),
    ''
  ].join('\n')
  const gw = await startGateway(t, yaml)

  for (const status of [400, 401, 404, 404, 409, 422, 429]) assert.equal((await send(gw.url, `/client-errors/status/${status}`)).status, status)
  for (let i = 0; i < 3; i++) assertProblem(await send(gw.url, '/not-implemented/status/501'), 502, 'UPSTREAM_ERROR')
  assertProblem(await send(gw.url, '/server-errors/status/500'), 502, 'UPSTREAM_ERROR')
  assertProblem(await send(gw.url, '/server-errors/status/502'), 502, 'UPSTREAM_ERROR')
  assertProblem(await send(gw.url, '/server-errors/status/500'), 503, 'UPSTREAM_CIRCUIT_OPEN')
  for (let i = 0; i < 2; i++) assert.equal((await send(gw.url, '/passthrough/status/500')).status, 500)
  assertProblem(await send(gw.url, '/passthrough/status/500'), 503, 'UPSTREAM_CIRCUIT_OPEN')
  // An upstream 503 passes through with its own Retry-After until it opens the breaker.
  for (let i = 0; i < 2; i++) {
    const answer = await send(gw.url, '/maintenance/status/503')
    assert.equal(answer.status, 503)
    assert.equal(answer.headers['retry-after'], '120')
    assert.equal(answer.body.toString(), 'status 503')
  }
  assertProblem(await send(gw.url, '/maintenance/status/503'), 503, 'UPSTREAM_CIRCUIT_OPEN')
  for (let i = 0; i < 2; i++) assertProblem(await send(gw.url, '/gateway-timeouts/status/504'), 504, 'UPSTREAM_TIMEOUT')
  assertProblem(await send(gw.url, '/gateway-timeouts/status/504'), 503, 'UPSTREAM_CIRCUIT_OPEN')
  for (const path of ['/status/500', '/status/200', '/status/500', '/status/404', '/status/502', '/status/200']) await send(gw.url, `/mixed${path}`)
  // Clients that give up before the upstream answers say nothing about it.
  for (let i = 0; i < 3; i++) {
    const req = httpRequest(`${gw.url}/clients-leave/hang`)
    req.on('error', () => {})
    req.end()
    await waitUntil(`hanging request ${i + 1} to reach the upstream`, () => origin.seen.filter((r) => r.url === '/hang').length > i)
    req.destroy()
  }
  await sleep(50)

  const states = Object.fromEntries(names.map((n) => [n, breakerOf(gw, n).state]))
  assert.deepEqual(states, {
    'client-errors': 'closed',
    'not-implemented': 'closed',
    'server-errors': 'open',
    passthrough: 'open',
    maintenance: 'open',
    'gateway-timeouts': 'open',
    mixed: 'closed',
    'clients-leave': 'closed'
  })
})

test('circuitBreaker: off never opens', async (t) => {
  const gw = await startGateway(t, oneIntegration('yankes', `http://127.0.0.1:${await closedPort()}`, { retries: '0', circuitBreaker: 'off' }))
  for (let i = 0; i < 10; i++) assertProblem(await send(gw.url, '/yankes/kamar'), 502, 'UPSTREAM_UNAVAILABLE')
  const breaker = breakerOf(gw)
  assert.equal(breaker.enabled, false)
  assert.equal(breaker.state, 'closed')
  assert.equal(breaker.opens, 0)
})
