// Retries (README "Circuit breakers and retries"): which requests are sent
// again, after which failures, and never past the integration's timeout.
// Real upstreams on 127.0.0.1 that drop, refuse or ignore connections.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createServer as createNetServer, type Socket, type AddressInfo } from 'node:net'
import { request as httpRequest } from 'node:http'
import { startDroppingTcp, startOrigin, type Origin } from '../helpers/origin.js'
import { oneIntegration, startGateway, type TestGateway } from '../helpers/gateway.js'
import { assertProblem, closedPort, send, type Answer, type SendOptions } from './client.js'
import { trapUnhandled } from '../helpers/unhandled.js'
import { assertElapsed, sleep, waitUntil } from '../helpers/time.js'

// The process must survive every retry path without a stray rejection.
const unhandled = trapUnhandled()

/**
 * An origin that drops the connection of its first request (after reading its
 * head, without a byte of answer) and answers every later one 200.
 */
async function startDroppingOrigin (t: TestContext): Promise<Origin> {
  let requests = 0
  const origin = await startOrigin((req, res) => {
    if (requests++ === 0) {
      req.socket.destroy()
      return
    }
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"ok":true}')
    })
  })
  t.after(origin.close)
  return origin
}

/** Backoff jitter pinned to its middle (× 1.0): delays of exactly 25, 50, 100, 200, 400 ms. */
function pinJitter (t: TestContext): void {
  const random = Math.random
  Math.random = () => 0.5
  t.after(() => { Math.random = random })
}

/** A gateway whose yankes upstream refuses every connection, with retries: 5. */
async function refusingGateway (t: TestContext, timeout: string): Promise<TestGateway> {
  return await startGateway(t, oneIntegration('yankes', `http://127.0.0.1:${await closedPort()}`, { retries: '5', timeout }))
}

/** GET /yankes/kamar, timed from the client. */
async function timedSend (gw: TestGateway): Promise<{ answer: Answer, ms: number }> {
  const started = performance.now()
  const answer = await send(gw.url, '/yankes/kamar')
  return { answer, ms: performance.now() - started }
}

interface Case {
  name: string
  options: SendOptions
  retried: boolean
}

const body = '{"nama":"Budi"}'
const withBody = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }
const cases: Case[] = [
  { name: 'GET', options: { method: 'GET' }, retried: true },
  { name: 'HEAD', options: { method: 'HEAD' }, retried: true },
  { name: 'OPTIONS', options: { method: 'OPTIONS' }, retried: true },
  { name: 'DELETE', options: { method: 'DELETE' }, retried: true },
  { name: 'PUT without a body', options: { method: 'PUT' }, retried: true },
  { name: 'GET with content-length: 0', options: { method: 'GET', headers: { 'content-length': '0' } }, retried: true },
  { name: 'POST without a body', options: { method: 'POST' }, retried: false },
  { name: 'POST with a body', options: { method: 'POST', headers: withBody, body }, retried: false },
  { name: 'POST with a chunked body', options: { method: 'POST', chunks: [Buffer.from(body)] }, retried: false },
  { name: 'PATCH without a body', options: { method: 'PATCH' }, retried: false },
  { name: 'PUT with a body', options: { method: 'PUT', headers: withBody, body }, retried: false },
  { name: 'POST without a body, with Idempotency-Key', options: { method: 'POST', headers: { 'idempotency-key': 'k-1' } }, retried: true },
  {
    name: 'POST with content-length: 0 and Idempotency-Key',
    options: { method: 'POST', headers: { 'idempotency-key': 'k-2', 'content-length': '0' } },
    retried: true
  },
  { name: 'PATCH without a body, with Idempotency-Key', options: { method: 'PATCH', headers: { 'idempotency-key': 'k-3' } }, retried: true },
  {
    name: 'POST with a body and Idempotency-Key (the body cannot be replayed)',
    options: { method: 'POST', headers: { ...withBody, 'idempotency-key': 'k-4' }, body },
    retried: false
  }
]

for (const c of cases) {
  test(`a dropped connection: ${c.name} is ${c.retried ? '' : 'not '}retried`, async (t) => {
    const origin = await startDroppingOrigin(t)
    const gw = await startGateway(t, oneIntegration('yankes', origin.url))
    const answer = await send(gw.url, '/yankes/pasien', c.options)
    if (c.retried) {
      assert.equal(answer.status, 200, answer.body.toString())
      assert.equal(origin.seen.length, 2, 'the upstream saw the first try and the retry')
      assert.ok(origin.seen.every((r) => r.method === c.options.method))
      assert.deepEqual(origin.seen[1]?.rawHeaders, origin.seen[0]?.rawHeaders, 'the retry is the same request')
    } else {
      assertProblem(answer, 502, 'UPSTREAM_UNAVAILABLE', '/yankes/pasien')
      assert.equal(origin.seen.length, 1, 'the upstream saw the request once')
    }
  })
}

test('retries: 0 turns retries off', async (t) => {
  const origin = await startDroppingOrigin(t)
  const gw = await startGateway(t, oneIntegration('yankes', origin.url, { retries: '0' }))
  assertProblem(await send(gw.url, '/yankes/kamar'), 502, 'UPSTREAM_UNAVAILABLE', '/yankes/kamar')
  assert.equal(origin.seen.length, 1)
})

test('a reset with no answer is retried up to `retries` times, then answers 502 naming the attempts', async (t) => {
  const tcp = await startDroppingTcp(t)
  const gw = await startGateway(t, oneIntegration('yankes', `http://127.0.0.1:${tcp.port}`, { retries: '3' }))
  const body = assertProblem(await send(gw.url, '/yankes/kamar'), 502, 'UPSTREAM_UNAVAILABLE', '/yankes/kamar')
  assert.match(body.detail as string, /^yankes .* \(4 attempts\)$/)
  assert.equal(tcp.connections(), 4)
  assert.equal(gw.logs.filter((l) => l.msg === 'upstream connection failed; retrying').length, 3)
})

test('a refused connection with retries: 5 answers 502 after the backoff, well within the timeout', async (t) => {
  pinJitter(t)
  const { answer, ms } = await timedSend(await refusingGateway(t, '5s'))
  const body = assertProblem(answer, 502, 'UPSTREAM_UNAVAILABLE', '/yankes/kamar')
  assert.equal(body.detail, 'yankes refused the connection (6 attempts)')
  // 25 + 50 + 100 + 200 + 400 ms of backoff; refusals on 127.0.0.1 take well under a millisecond.
  t.diagnostic(`502 after ${Math.round(ms)} ms`)
  assertElapsed(ms, 775, 775, 'answered (775 ms of backoff expected)')
})

test('the backoff is jittered between 0.5 and 1.5 times its base', async (t) => {
  const gw = await refusingGateway(t, '5s')
  const delays: number[] = []
  for (let i = 0; i < 4; i++) {
    const { answer, ms } = await timedSend(gw)
    assertProblem(answer, 502, 'UPSTREAM_UNAVAILABLE')
    delays.push(ms)
  }
  t.diagnostic(`502 after ${delays.map((d) => Math.round(d)).join(', ')} ms`)
  for (const ms of delays) assertElapsed(ms, 387, 1162.5, 'answered (387.5–1162.5 ms of backoff expected)')
  const logged = gw.logs.filter((l) => l.msg === 'upstream connection failed; retrying')
  assert.equal(logged.length, 20)
  for (const line of logged) {
    const base = 25 * 2 ** ((line.retry as number) - 1)
    const delay = line.delayMs as number
    assert.ok(delay >= Math.floor(base * 0.5) && delay <= Math.ceil(base * 1.5), `retry ${String(line.retry)} waited ${delay} ms`)
  }
})

test('a retry that cannot start before the deadline is not made: the total never exceeds timeout', async (t) => {
  pinJitter(t)
  // Backoffs of 25 and 50 ms fit in 100 ms; the third (100 ms) would start after it.
  const { answer, ms } = await timedSend(await refusingGateway(t, '100ms'))
  const body = assertProblem(answer, 502, 'UPSTREAM_UNAVAILABLE', '/yankes/kamar')
  assert.equal(body.detail, 'yankes refused the connection (3 attempts)')
  // "3 attempts" says the third backoff was not started; the ceiling only
  // guards against waiting out a much longer deadline.
  assertElapsed(ms, 75, 100)
})

for (const retries of [0, 5]) {
  test(`an upstream that never answers: 504 at the timeout with retries: ${retries}, sent once`, async (t) => {
    const origin = await startOrigin(() => { /* accepts, never answers */ })
    t.after(origin.close)
    const gw = await startGateway(t, oneIntegration('yankes', origin.url, { timeout: '1s', retries: String(retries) }))
    const { answer, ms } = await timedSend(gw)
    const body = assertProblem(answer, 504, 'UPSTREAM_TIMEOUT', '/yankes/kamar')
    assert.equal(body.detail, 'yankes did not answer within 1000 ms')
    assertElapsed(ms, 990, 1000)
    assert.equal(origin.seen.length, 1, 'a response-phase timeout is never retried')
  })
}

test('a timeout after a retry still fires at the original deadline', async (t) => {
  // The first connection is dropped, the retry's is held open: 504 at 600 ms
  // from the client's request, not 600 ms from the retry.
  let requests = 0
  const origin = await startOrigin((req) => { if (requests++ === 0) req.socket.destroy() })
  t.after(origin.close)
  const gw = await startGateway(t, oneIntegration('yankes', origin.url, { timeout: '600ms' }))
  const { answer, ms } = await timedSend(gw)
  assertProblem(answer, 504, 'UPSTREAM_TIMEOUT', '/yankes/kamar')
  assert.equal(origin.seen.length, 2)
  assertElapsed(ms, 590, 600)
})

test('a connect timeout is not retried', async (t) => {
  // TCP connects at once, the TLS handshake never completes.
  const tcp = createNetServer((socket) => { socket.on('error', () => {}) })
  const sockets = new Set<Socket>()
  let connections = 0
  tcp.on('connection', (s: Socket) => { connections++; sockets.add(s) })
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve))
  t.after(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => tcp.close(() => { resolve() }))
  })
  const { port } = tcp.address() as AddressInfo
  const gw = await startGateway(t, oneIntegration('yankes', `https://127.0.0.1:${port}`,
    { connectTimeout: '200ms', timeout: '2s', retries: '5' }))
  const started = performance.now()
  const body = assertProblem(await send(gw.url, '/yankes/kamar'), 504, 'UPSTREAM_TIMEOUT', '/yankes/kamar')
  const ms = performance.now() - started
  assert.equal(body.detail, 'yankes did not accept a connection within 200 ms')
  assertElapsed(ms, 190, 200, 'answered (at the connect timeout, not the 2 s timeout)')
  assert.equal(connections, 1)
})

test('never retried once the response headers arrived', async (t) => {
  const origin = await startOrigin((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' })
    res.write('{"data":[')
    setTimeout(() => req.socket.destroy(), 20)
  })
  t.after(origin.close)
  const gw = await startGateway(t, oneIntegration('yankes', origin.url))
  const res = await fetch(`${gw.url}/yankes/kamar`)
  assert.equal(res.status, 200)
  await assert.rejects(res.text(), 'a truncated body must not look complete')
  await sleep(200)
  assert.equal(origin.seen.length, 1)
})

test('an upstream 502 answer is not retried (only failures to get an answer are)', async (t) => {
  const origin = await startOrigin((_req, res) => { res.writeHead(502); res.end('bad gateway') })
  t.after(origin.close)
  const gw = await startGateway(t, oneIntegration('yankes', origin.url))
  assertProblem(await send(gw.url, '/yankes/kamar'), 502, 'UPSTREAM_ERROR', '/yankes/kamar')
  assert.equal(origin.seen.length, 1)
})

test('a client that leaves during the backoff stops the retries', async (t) => {
  pinJitter(t)
  const tcp = await startDroppingTcp(t)
  const gw = await startGateway(t, oneIntegration('yankes', `http://127.0.0.1:${tcp.port}`, { retries: '5', timeout: '10s' }))
  // Attempts at about 0, 25, 75, 175, 375 and 775 ms: leave in the third
  // backoff (75–175 ms), as soon as the gateway has logged it.
  const req = httpRequest(`${gw.url}/yankes/kamar`)
  req.on('error', () => {})
  req.end()
  const retrying = (): number => gw.logs.filter((l) => l.msg === 'upstream connection failed; retrying').length
  await waitUntil('the third retry to be scheduled', () => retrying() >= 3, { intervalMs: 2 })
  req.destroy()
  const atLeave = tcp.connections()
  assert.equal(atLeave, 3)
  await sleep(900)
  assert.equal(tcp.connections(), atLeave, 'no attempt after the client left')
  // The third retry was scheduled (its backoff is where the client left) and never made.
  assert.equal(gw.logs.filter((l) => l.msg === 'upstream connection failed; retrying').length, 3)
})

test('no unhandled rejection or exception escaped while retrying', () => {
  assert.deepEqual(unhandled, [])
})
