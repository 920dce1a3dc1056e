// WebSocket on integrations with `websocket: true` (docs/contract.md section 9),
// memory, measured on the gateway as its own process: backpressure bounds what
// a client sending faster than its upstream reads costs, and 1,000 idle
// sockets are held (the RSS per socket docs/routes-yaml.md quotes).
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { idleRss, sampleRss } from '../helpers/memory.js'
import { startGatewayProcess } from '../helpers/process.js'
import { sleep, waitUntil } from '../helpers/time.js'
import { connect, exchange, MiB, startWsOrigin, wsBase, type WsOrigin } from './websocket-fixtures.js'

async function gatewayProcess (
  t: TestContext, origin: WsOrigin
): Promise<{ url: string, pid: number, logs: Array<Record<string, unknown>> }> {
  const dir = await mkdtemp(join(tmpdir(), 'gerbang-ws-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const file = join(dir, 'routes.yaml')
  await writeFile(file, [
    'defaults:', '  auth: none', '  rateLimit: 100000/1m', 'integrations:',
    '  up:', `    upstream: ${origin.url}`, '    websocket: true', '    bodyLimit: 1mb', '    idleTimeout: 5m', ''
  ].join('\n'))
  const gw = await startGatewayProcess(t, file)
  assert.ok(gw.child.pid !== undefined)
  return { url: gw.url, pid: gw.child.pid, logs: gw.logs }
}

/**
 * Sends 64 MiB to /slow in frames of `frameSize` bytes, the client keeping at
 * most 4 MiB waiting on its side; returns the gateway's RSS growth over its
 * idle RSS just before.
 */
async function slowUpload (
  t: TestContext, gw: { url: string, pid: number }, origin: WsOrigin, frameSize: number
): Promise<number> {
  const before = await idleRss(gw.pid)
  origin.slow.bytes = 0
  origin.slow.hash = createHash('sha256')
  const { ws } = await connect(`${wsBase(gw)}/up/slow`)
  const peakRss = sampleRss(gw.pid)
  const sent = createHash('sha256')
  const started = performance.now()
  const frame = randomBytes(frameSize)
  for (let i = 0; i < 64 * MiB / frameSize; i++) {
    const chunk = Buffer.from(frame)
    chunk.writeUInt32BE(i, 0)
    sent.update(chunk)
    ws.send(chunk)
    // What piles up beyond this would be in the gateway, or held back by it.
    await waitUntil('the client\'s send buffer to drain under 4 MiB', () => ws.bufferedAmount <= 4 * MiB, { timeoutMs: 30_000, intervalMs: 5 })
  }
  await waitUntil('the upstream to read all 64 MiB', () => origin.slow.bytes >= 64 * MiB, { timeoutMs: 60_000 })
  const peak = Math.max(before, peakRss())
  const growth = peak - before
  t.diagnostic(`64 MiB in ${frameSize / 1024} KiB frames in ${Math.round(performance.now() - started)} ms; gateway RSS ` +
    `${(before / MiB).toFixed(1)} → peak ${(peak / MiB).toFixed(1)} MiB, growth ${(growth / MiB).toFixed(1)} MiB`)
  assert.equal(origin.slow.bytes, 64 * MiB)
  assert.equal(origin.slow.hash.digest('hex'), sent.digest('hex'), 'every byte arrived, in order')
  ws.close()
  await sleep(300)
  return growth
}

/** A gateway process with every code path run once, ready for a baseline. */
async function warmGateway (t: TestContext, origin: WsOrigin): Promise<{ url: string, pid: number }> {
  const gw = await gatewayProcess(t, origin)
  const warm = await connect(`${wsBase(gw)}/up/echo`)
  await exchange(warm.ws, 20, () => randomBytes(64 * 1024))
  warm.ws.close()
  await warm.closed
  await sleep(300)
  return gw
}

test('64 MiB from a client to a slow upstream: backpressure holds the gateway\'s RSS growth under 32 MiB', { timeout: 120_000 }, async (t) => {
  const origin = await startWsOrigin(t)
  // The upstream reads 20 MiB/s. Without backpressure the gateway would hold most of the 64 MiB
  // (measured with it taken out: about 100 MiB of growth, whatever the frame size).
  const growth = await slowUpload(t, await warmGateway(t, origin), origin, 8 * 1024)
  assert.ok(growth < 32 * MiB, `the gateway's RSS grew by ${(growth / MiB).toFixed(1)} MiB`)
})

test('64 MiB in 64 KiB frames to a slow upstream: the same backpressure, RSS growth under 32 MiB too', { timeout: 120_000 }, async (t) => {
  // Each 64 KiB message costs two short-lived buffers in the gateway (socket reads, ws's
  // reassembly of a frame split across reads; the upstream gets it unmasked-copy-free, see
  // zeroMask in src/proxy/websocket.ts), and V8 collects dead buffers only once enough of
  // them have piled up: the growth is that garbage, measured 23 MiB, never near 64 MiB.
  const origin = await startWsOrigin(t)
  const growth = await slowUpload(t, await warmGateway(t, origin), origin, 64 * 1024)
  assert.ok(growth < 32 * MiB, `the gateway's RSS grew by ${(growth / MiB).toFixed(1)} MiB`)
})

test('1,000 concurrent idle sockets are held (RSS per socket reported)', { timeout: 120_000 }, async (t) => {
  const origin = await startWsOrigin(t)
  const gw = await gatewayProcess(t, origin)
  const base = wsBase(gw)
  const warm = await connect(`${base}/up/echo`)
  await exchange(warm.ws, 5, (i) => `w${i}`)
  warm.ws.close()
  await warm.closed
  await sleep(300)
  const before = await idleRss(gw.pid)
  const clients: Array<Awaited<ReturnType<typeof connect>>> = []
  for (let batch = 0; batch < 10; batch++) {
    clients.push(...await Promise.all(Array.from({ length: 100 }, async () => await connect(`${base}/up/echo`))))
  }
  assert.equal(clients.length, 1000)
  await sleep(500)
  const after = await idleRss(gw.pid)
  const perSocket = (after - before) / 1000
  t.diagnostic(`gateway RSS ${(before / MiB).toFixed(1)} → ${(after / MiB).toFixed(1)} MiB with 1,000 idle WebSockets: ` +
    `${(perSocket / 1024).toFixed(1)} KiB per socket (its client and upstream connections together)`)
  const metrics = await (await fetch(`${gw.url}/metrics`)).text()
  assert.match(metrics, /gerbang_websockets_open\{integration="up"\} 1000/)
  // Every one of them still works.
  const answers = await Promise.all(clients.map(async (c, i) => (await exchange(c.ws, 1, () => `s${i}`))[0]?.data.toString()))
  assert.deepEqual(answers, clients.map((_c, i) => `s${i}`))
  assert.ok(perSocket < 100 * 1024, `${(perSocket / 1024).toFixed(1)} KiB per socket`)
  for (const c of clients) c.ws.close()
  await Promise.all(clients.map(async (c) => await c.closed))
})
