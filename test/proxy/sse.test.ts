// Server-sent events and idleTimeout (docs/contract.md section 9): once an
// answer's headers are in, `timeout` no longer bounds it; idleTimeout bounds
// the silence between two of its chunks. Events pass chunk by chunk, and a
// client that leaves ends the upstream's stream at once.
import { describe, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { request, type IncomingMessage, type ServerResponse } from 'node:http'
import { startGateway, type TestGateway } from '../helpers/gateway.js'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { parseRoutes } from '../../src/config/routes-loader.js'
import { assertProblem, send } from './client.js'
import { assertElapsed, LATE_MS, sleep, waitUntil } from '../helpers/time.js'

/**
 * What the SSE origin was told to do, from its query: `every` ms between `count` events, then `silent` ms of silence,
 * then the end.
 */
interface Plan { every: number, count: number, silent: number }

interface SseOrigin {
  origin: Origin
  /** performance.now() when each event was written, by event id. */
  sentAt: Map<number, number>
  /** Streams whose connection closed before the origin ended them (the gateway let go of them). */
  abandoned: Array<{ at: number }>
  /** When the origin wrote its last byte to the stream under way. */
  lastWriteAt: () => number
}

/**
 * An origin streaming text/event-stream as its query says (`/stream?every=2000&count=10&silent=0`); `/slow?ms=N`
 * answers after N ms.
 */
async function startSseOrigin (t: TestContext): Promise<SseOrigin> {
  const sentAt = new Map<number, number>()
  const abandoned: Array<{ at: number }> = []
  let lastWrite = 0
  const origin = await startOrigin((req, res) => {
    const url = new URL(req.url ?? '/', 'http://origin')
    if (url.pathname === '/slow') {
      setTimeout(() => { res.writeHead(200, { 'content-type': 'application/json' }).end('{"late":true}') }, Number(url.searchParams.get('ms')))
      return
    }
    const plan: Plan = {
      every: Number(url.searchParams.get('every') ?? 100),
      count: Number(url.searchParams.get('count') ?? 1),
      silent: Number(url.searchParams.get('silent') ?? 0)
    }
    stream(res, plan)
  })
  t.after(async () => { await origin.close() })

  function stream (res: ServerResponse, plan: Plan): void {
    let finished = false
    res.on('close', () => { if (!finished) abandoned.push({ at: performance.now() }) })
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    res.write(': stream opened\n\n')
    lastWrite = performance.now()
    let id = 0
    const next = (): void => {
      if (res.destroyed) return
      if (id === plan.count) {
        setTimeout(() => {
          finished = true
          res.end('event: end\ndata: {}\n\n')
        }, plan.silent)
        return
      }
      id++
      sentAt.set(id, performance.now())
      res.write(`id: ${id}\nevent: bed\ndata: {"id":${id},"free":${40 - id}}\n\n`)
      lastWrite = performance.now()
      setTimeout(next, plan.every)
    }
    setTimeout(next, plan.every)
  }
  return { origin, sentAt, abandoned, lastWriteAt: () => lastWrite }
}

interface Received {
  status: number
  headers: IncomingMessage['headers']
  /** performance.now() when each event arrived, by id. */
  events: Map<number, number>
  ended: 'complete' | 'cut'
  /** performance.now() when the stream ended or broke. */
  endedAt: number
}

/** Reads an event stream from the gateway, noting when each event arrives and how the stream ends. */
async function readStream (base: string, path: string, onEvent?: (id: number) => void): Promise<Received> {
  const { hostname, port } = new URL(base)
  const req = request({ host: hostname, port, path, agent: false, headers: { accept: 'text/event-stream' } })
  req.end()
  const [res] = await once(req, 'response') as [IncomingMessage]
  const events = new Map<number, number>()
  let buffered = ''
  res.setEncoding('utf8')
  res.on('data', (chunk: string) => {
    const now = performance.now()
    buffered += chunk
    let end: number
    while ((end = buffered.indexOf('\n\n')) !== -1) {
      const block = buffered.slice(0, end)
      buffered = buffered.slice(end + 2)
      const id = /^id: (\d+)$/m.exec(block)?.[1]
      if (id !== undefined) {
        events.set(Number(id), now)
        onEvent?.(Number(id))
      }
    }
  })
  const ended = await new Promise<'complete' | 'cut'>((resolve) => {
    res.on('end', () => { resolve('complete') })
    res.on('error', () => { resolve('cut') })
    res.on('close', () => { resolve(res.complete ? 'complete' : 'cut') })
  })
  return { status: res.statusCode ?? 0, headers: res.headers, events, ended, endedAt: performance.now() }
}

function sseRoutes (origin: string, extra: string[]): string {
  return ['defaults:', '  auth: none', 'integrations:', '  feed:', `    upstream: ${origin}`, ...extra.map((l) => `    ${l}`), ''].join('\n')
}

async function scrape (gw: TestGateway): Promise<string> {
  return await (await fetch(`${gw.url}/metrics`)).text()
}

// These tests mostly wait for time to pass, each on an origin and a gateway of its own: they wait side by side.
// (The slow reader below moves 100 MiB, so it runs on its own.)
describe('streams timed against timeout and idleTimeout', { concurrency: true }, () => {
  test('an event every 2 s for 20 s through timeout: 1s and idleTimeout: 5s: all 10 events, each passed on as it is sent', { timeout: 60_000 }, async (t) => {
    const sse = await startSseOrigin(t)
    const gw = await startGateway(t, sseRoutes(sse.origin.url, ['timeout: 1s', 'idleTimeout: 5s']))
    const started = performance.now()
    const got = await readStream(gw.url, '/feed/stream?every=2000&count=10')
    const took = performance.now() - started
    assert.equal(got.status, 200)
    assert.equal(got.headers['content-type'], 'text/event-stream')
    assert.equal(got.ended, 'complete', 'the stream ended normally')
    assert.equal(got.events.size, 10)
    const delays: number[] = []
    for (let id = 1; id <= 10; id++) {
      const sent = sse.sentAt.get(id)
      const arrived = got.events.get(id)
      assert.ok(sent !== undefined && arrived !== undefined, `event ${id} was sent and arrived`)
      delays.push(arrived - sent)
    }
    t.diagnostic(`delivery delays (ms): ${delays.map((d) => d.toFixed(1)).join(', ')}; stream lasted ${Math.round(took)} ms`)
    // Typically a millisecond or two. The bound is generous for a loaded machine; a
    // buffered stream would hold an event until the next one, 2 s later.
    for (const [i, delay] of delays.entries()) assert.ok(delay < 500, `event ${i + 1} arrived ${delay.toFixed(1)} ms after it was sent`)
    assert.ok(took > 20_000, 'the stream outlived timeout many times over')
    assert.ok(!gw.logs.some((l) => l.level === 50), 'nothing was logged as an error')
  })

  test('the same upstream silent for 6 s is cut at 5 s ± 0.5 s, logged and counted as idle_timeout', { timeout: 30_000 }, async (t) => {
    const sse = await startSseOrigin(t)
    const gw = await startGateway(t, sseRoutes(sse.origin.url, ['timeout: 1s', 'idleTimeout: 5s']))
    const got = await readStream(gw.url, '/feed/stream?every=2000&count=2&silent=6000')
    assert.equal(got.status, 200)
    assert.equal(got.events.size, 2, 'the events before the silence arrived')
    assert.equal(got.ended, 'cut', 'the client saw the connection break, not a complete answer')
    const silence = got.endedAt - sse.lastWriteAt()
    t.diagnostic(`cut ${Math.round(silence)} ms after the upstream's last byte`)
    assertElapsed(silence, 4500, 5000, 'cut')

    await waitUntil('the "request cut off by the upstream" log line', () => gw.logs.some((l) => l.msg === 'request cut off by the upstream'))
    const warning = gw.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('upstream sent nothing for idleTimeout'))
    assert.ok(warning !== undefined, 'the cut is logged')
    assert.equal(warning.level, 'warn')
    assert.equal(warning.integration, 'feed')
    assert.equal(warning.idleMs, 5000)
    const access = gw.logs.find((l) => l.msg === 'request cut off by the upstream')
    assert.equal(access?.integration, 'feed')
    assert.match(await scrape(gw), /gerbang_upstream_errors_total\{integration="feed",code="idle_timeout"\} 1/)
    // The upstream's stream was let go of too.
    await waitUntil('the upstream to see its stream closed', () => sse.abandoned.length === 1)
    assert.equal(sse.abandoned.length, 1)
  })

  test('idleTimeout defaults to timeout, and timeout still bounds the wait for the headers (504)', { timeout: 20_000 }, async (t) => {
    const sse = await startSseOrigin(t)
    const gw = await startGateway(t, sseRoutes(sse.origin.url, ['timeout: 1s']))
    // Chunks every 400 ms for 2.4 s: longer than the timeout, each silence shorter.
    const steady = await readStream(gw.url, '/feed/stream?every=400&count=6')
    assert.equal(steady.ended, 'complete')
    assert.equal(steady.events.size, 6)
    // A silence longer than the timeout (the idleTimeout by default) is cut.
    const silent = await readStream(gw.url, '/feed/stream?every=100&count=1&silent=2500')
    assert.equal(silent.ended, 'cut')
    const silence = silent.endedAt - sse.lastWriteAt()
    assertElapsed(silence, 900, 1000, 'cut')
    // Headers later than the timeout: the gateway's 504, as before.
    const late = await send(gw.url, '/feed/slow?ms=1500')
    assertProblem(late, 504, 'UPSTREAM_TIMEOUT')
  })

  test('idleTimeout longer than timeout keeps the 504 for headers later than timeout', { timeout: 20_000 }, async (t) => {
    const sse = await startSseOrigin(t)
    const gw = await startGateway(t, sseRoutes(sse.origin.url, ['timeout: 500ms', 'idleTimeout: 10s']))
    const started = performance.now()
    const late = await send(gw.url, '/feed/slow?ms=1500')
    assertProblem(late, 504, 'UPSTREAM_TIMEOUT')
    assert.ok(performance.now() - started < 1000 + LATE_MS, 'the 504 came at the timeout, not the idleTimeout')
  })

  test('a client that leaves an event stream closes the upstream\'s stream at once', { timeout: 20_000 }, async (t) => {
    const sse = await startSseOrigin(t)
    const gw = await startGateway(t, sseRoutes(sse.origin.url, ['idleTimeout: 30s']))
    const { hostname, port } = new URL(gw.url)
    const req = request({ host: hostname, port, path: '/feed/stream?every=200&count=1000', agent: false })
    req.end()
    const [res] = await once(req, 'response') as [IncomingMessage]
    assert.equal(res.statusCode, 200)
    await once(res, 'data')
    await sleep(300)
    const leftAt = performance.now()
    req.destroy()
    await waitUntil('the upstream to see its stream closed', () => sse.abandoned.length === 1)
    assert.equal(sse.abandoned.length, 1, 'the upstream saw its stream closed')
    const after = (sse.abandoned[0] as { at: number }).at - leftAt
    t.diagnostic(`the upstream's stream closed ${after.toFixed(1)} ms after the client left`)
    // At once; generous for a loaded machine, far under the 30 s idleTimeout.
    assert.ok(after < LATE_MS, `the upstream's stream closed ${after.toFixed(1)} ms after the client left`)
  })
})

test('a slow reader holding the stream back is not the upstream\'s silence', { timeout: 20_000 }, async (t) => {
  // 64 KiB chunks, 1600 of them (100 MiB, more than the sockets buffer), as fast as the gateway takes them; the client
  // stops reading for longer than idleTimeout.
  const chunk = Buffer.alloc(64 * 1024, 'x')
  const origin = await startOrigin((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' })
    let sent = 0
    const more = (): void => {
      while (sent < 1600) {
        sent++
        if (!res.write(chunk)) {
          res.once('drain', more)
          return
        }
      }
      res.end()
    }
    more()
  })
  t.after(origin.close)
  const gw = await startGateway(t, sseRoutes(origin.url, ['idleTimeout: 1s']))
  const { hostname, port } = new URL(gw.url)
  const req = request({ host: hostname, port, path: '/feed/bulk', agent: false })
  req.end()
  const [res] = await once(req, 'response') as [IncomingMessage]
  res.pause()
  await sleep(2500)
  let bytes = 0
  res.on('data', (c: Buffer) => { bytes += c.length })
  res.resume()
  await once(res, 'end')
  assert.equal(bytes, 1600 * chunk.length)
})

test('idleTimeout in routes.yaml: from defaults or the integration, never 0', () => {
  const base = (lines: string[]): ReturnType<typeof parseRoutes> => parseRoutes(['integrations:', '  a:', '    upstream: http://127.0.0.1:1', ...lines, ''].join('\n'), {})
  const parsed = parseRoutes(['defaults:', '  timeout: 2s', '  idleTimeout: 1m', 'integrations:', '  a:', '    upstream: http://127.0.0.1:1',
    '  b:', '    upstream: http://127.0.0.1:1', '    idleTimeout: 250ms', ''].join('\n'), {})
  assert.ok(parsed.ok)
  assert.deepEqual(parsed.config.integrations.map((i) => [i.name, i.timeoutMs, i.idleTimeoutMs]), [['a', 2000, 60_000], ['b', 2000, 250]])
  const own = base(['    timeout: 3s'])
  assert.ok(own.ok)
  assert.equal(own.config.integrations[0]?.idleTimeoutMs, 3000, 'without idleTimeout anywhere: the integration\'s timeout')
  const zero = base(['    idleTimeout: 0s'])
  assert.ok(!zero.ok)
  assert.deepEqual(zero.problems, [{ path: 'integrations.a.idleTimeout', line: 4, message: 'idleTimeout must be longer than 0' }])
  const bad = base(['    idleTimeout: soon'])
  assert.ok(!bad.ok)
  assert.equal(bad.problems[0]?.path, 'integrations.a.idleTimeout')
})
