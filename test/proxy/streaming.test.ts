// Streaming: 50 MiB up and 50 MiB down through a gateway running as its own
// process. The receiving side stalls now and then; the sender must not get far
// ahead meanwhile (backpressure end to end), and the gateway's resident memory
// must stay flat (it streams instead of buffering). Neither the test nor the
// origin holds the payload either: it is generated, hashed and counted as it goes.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes, type Hash } from 'node:crypto'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { request, type IncomingMessage } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { startGatewayProcess } from '../helpers/process.js'
import { sleep } from '../helpers/time.js'

const MiB = 1024 * 1024
const TOTAL = 50 * MiB
const CHUNK = 64 * 1024
/**
 * The gateway's RSS may grow by less than this during a 50 MiB transfer, over
 * its idle RSS once every code path has run (lazy compilation is not growth).
 */
const MAX_GROWTH = 30 * MiB
/**
 * Where the receiving side stops reading, and for how long (chunk index → ms).
 * `memory`: the 50 MiB transfers pause long enough for a gateway that ignores
 * backpressure to read much of the payload into its memory meanwhile.
 * `backpressure`: one long pause early in a transfer bigger than every socket
 * buffer on the way (loopback receive buffers autotune up to tcp_rmem's
 * maximum, 32 MiB here), so that only backpressure can hold the sender back.
 */
const STALL_PLANS = {
  none: new Map<number, number>(),
  memory: new Map([[1 * MiB / CHUNK, 1000], [25 * MiB / CHUNK, 300]]),
  backpressure: new Map([[1 * MiB / CHUNK, 1500]])
}
type StallPlan = keyof typeof STALL_PLANS
const BACKPRESSURE_TOTAL = 160 * MiB
/**
 * How far the sender may get ahead of a stalled receiver in a backpressure
 * transfer: about 10 MiB is usual, the whole transfer when nothing holds it back.
 */
const MAX_LEAD = 100 * MiB

const BASE = randomBytes(CHUNK)

/** Chunk `i` of the generated payload: fresh memory each time, different content each time. */
function chunkAt (i: number): Buffer {
  const chunk = Buffer.allocUnsafe(CHUNK)
  BASE.copy(chunk)
  chunk.writeUInt32BE(i, 0)
  chunk.writeUInt32BE(i, CHUNK - 4)
  return chunk
}

/** Progress of the one transfer under way: bytes produced by the sender, consumed by the receiver. */
interface Meter {
  produced: number
  consumed: number
  /** The largest produced − consumed seen at the end of a stall. */
  maxLead: number
}

/** A Readable producing `total` bytes in 64 KiB chunks on demand, hashing and metering as it goes. */
function generated (total: number, hash: Hash, meter: Meter): Readable {
  const count = total / CHUNK
  let i = 0
  return new Readable({
    read () {
      if (i === count) {
        this.push(null)
        return
      }
      const chunk = chunkAt(i++)
      hash.update(chunk)
      meter.produced += chunk.length
      this.push(chunk)
    }
  })
}

/**
 * Reads a stream to its end, hashing and metering; stops for a while where
 * the plan says, and notes how far the sender got meanwhile.
 */
async function consume (
  stream: AsyncIterable<Buffer>, meter: Meter, plan: StallPlan
): Promise<{ bytes: number, sha256: string }> {
  const stalls = STALL_PLANS[plan]
  const hash = createHash('sha256')
  let bytes = 0
  let chunks = 0
  let nextStallAt = CHUNK
  for await (const chunk of stream) {
    hash.update(chunk)
    bytes += chunk.length
    meter.consumed = bytes
    if (stalls.size === 0) continue
    while (bytes >= nextStallAt) {
      const stall = stalls.get(chunks)
      if (stall !== undefined) {
        await sleep(stall)
        meter.maxLead = Math.max(meter.maxLead, meter.produced - meter.consumed)
      }
      chunks++
      nextStallAt += CHUNK
    }
  }
  return { bytes, sha256: hash.digest('hex') }
}

/** The resident set size of a process, in bytes. */
function rssOf (pid: number): number {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  assert.ok(match !== null, `no VmRSS for ${pid}`)
  return Number(match[1]) * 1024
}

/** Samples a process's RSS every 20 ms until stopped; returns the peak. */
function sampleRss (pid: number): () => number {
  let peak = rssOf(pid)
  const timer = setInterval(() => { peak = Math.max(peak, rssOf(pid)) }, 20)
  return () => {
    clearInterval(timer)
    return Math.max(peak, rssOf(pid))
  }
}

/** The idle RSS: the lowest of ten samples 20 ms apart. */
async function idleRss (pid: number): Promise<number> {
  let low = rssOf(pid)
  for (let i = 0; i < 10; i++) {
    await sleep(20)
    low = Math.min(low, rssOf(pid))
  }
  return low
}

interface Received { bytes: number, sha256: string }

interface StreamingOrigin {
  origin: Origin
  /** The meter of the transfer under way; the test sets a fresh one for each. */
  current: { meter: Meter }
}

/**
 * /upload?stall=<plan> reads its body, hashing and counting;
 * /download?bytes=N sends N generated bytes with backpressure.
 */
async function startStreamingOrigin (t: TestContext): Promise<StreamingOrigin> {
  const current = { meter: newMeter() }
  const origin = await startOrigin((req, res) => {
    const url = new URL(req.url ?? '/', 'http://origin')
    if (url.pathname === '/upload') {
      consume(req, current.meter, (url.searchParams.get('stall') ?? 'none') as StallPlan).then((received: Received) => {
        const body = JSON.stringify(received)
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
        res.end(body)
      }, (err: unknown) => { res.destroy(err as Error) })
      return
    }
    const total = Number(url.searchParams.get('bytes'))
    const chunked = url.searchParams.has('chunked')
    res.writeHead(200, { 'content-type': 'application/octet-stream', ...(chunked ? {} : { 'content-length': total }) })
    pipeline(generated(total, createHash('sha256'), current.meter), res).catch(() => { /* the client went away; the test fails on its own */ })
  })
  t.after(async () => { await origin.close() })
  return { origin, current }
}

function newMeter (): Meter {
  return { produced: 0, consumed: 0, maxLead: 0 }
}

/** The sha256 of the first `total` generated bytes. */
function expectedSha256 (total: number): string {
  const hash = createHash('sha256')
  for (let i = 0; i < total / CHUNK; i++) hash.update(chunkAt(i))
  return hash.digest('hex')
}

async function upload (
  base: string, prefix: string, total: number, chunked: boolean, meter: Meter, plan: StallPlan
): Promise<{ sentSha256: string, received: Received }> {
  const { hostname, port } = new URL(base)
  const req = request({
    host: hostname,
    port,
    method: 'PUT',
    path: `${prefix}/upload?stall=${plan}`,
    agent: false,
    headers: { 'content-type': 'application/octet-stream', ...(chunked ? {} : { 'content-length': String(total) }) }
  })
  const answered = once(req, 'response') as Promise<[IncomingMessage]>
  const hash = createHash('sha256')
  await pipeline(generated(total, hash, meter), req)
  const [res] = await answered
  const parts: Buffer[] = []
  for await (const chunk of res) parts.push(chunk as Buffer)
  const text = Buffer.concat(parts).toString('utf8')
  assert.equal(res.statusCode, 200, text)
  return { sentSha256: hash.digest('hex'), received: JSON.parse(text) as Received }
}

async function download (base: string, prefix: string, total: number, chunked: boolean, meter: Meter, plan: StallPlan): Promise<{ status: number, headers: IncomingMessage['headers'] } & Received> {
  const { hostname, port } = new URL(base)
  const req = request({ host: hostname, port, path: `${prefix}/download?bytes=${total}${chunked ? '&chunked' : ''}`, agent: false })
  req.end()
  const [res] = await once(req, 'response') as [IncomingMessage]
  const received = await consume(res, meter, plan)
  return { status: res.statusCode ?? 0, headers: res.headers, ...received }
}

test('50 MiB up and down stream through the gateway process, its memory flat and backpressure kept', { timeout: 180_000 }, async (t) => {
  const state = await startStreamingOrigin(t)
  const expected = expectedSha256(TOTAL)
  const dir = await mkdtemp(join(tmpdir(), 'gerbang-streaming-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const routesFile = join(dir, 'routes.yaml')
  await writeFile(routesFile, [
    'defaults:',
    '  auth: none',
    'integrations:',
    '  big:',
    `    upstream: ${state.origin.url}`,
    '    bodyLimit: 100mb',
    '  deep:',
    `    upstream: ${state.origin.url}`,
    '    bodyLimit: 1gb',
    ''
  ].join('\n'))
  const gateway = await startGatewayProcess(t, routesFile)
  const pid = gateway.child.pid
  assert.ok(pid !== undefined)

  // Every code path once, with small bodies, before the baseline.
  for (const chunked of [false, true]) {
    const up = await upload(gateway.url, '/big', MiB, chunked, newMeter(), 'none')
    assert.equal(up.received.sha256, up.sentSha256)
    assert.equal((await download(gateway.url, '/big', MiB, chunked, newMeter(), 'none')).bytes, MiB)
  }
  await sleep(300)
  t.diagnostic(`gateway RSS after warm-up: ${(await idleRss(pid) / MiB).toFixed(1)} MiB`)

  /** Runs one 50 MiB transfer, sampling the gateway's RSS throughout. */
  const measure = async <T>(name: string, transfer: (meter: Meter) => Promise<T>): Promise<T> => {
    // Each transfer is measured from the idle RSS just before it: the growth
    // a 50 MiB body causes, not what earlier transfers left to the allocator.
    const before = await idleRss(pid)
    const meter = newMeter()
    state.current.meter = meter
    const stop = sampleRss(pid)
    const started = performance.now()
    const result = await transfer(meter)
    const peak = stop()
    const growth = peak - before
    t.diagnostic(`${name}: RSS ${(before / MiB).toFixed(1)} → peak ${(peak / MiB).toFixed(1)} MiB, growth ${(growth / MiB).toFixed(1)} MiB, ` +
      `sender at most ${(meter.maxLead / MiB).toFixed(1)} MiB ahead of the stalled receiver, ` +
      `${Math.round(performance.now() - started)} ms`)
    assert.ok(growth < MAX_GROWTH, `${name}: the gateway's RSS grew by ${(growth / MiB).toFixed(1)} MiB (limit 30 MiB)`)
    return result
  }

  await t.test('a chunked 50 MiB upload arrives whole, the gateway\'s RSS flat', async () => {
    const { sentSha256, received } = await measure('chunked upload',
      async (meter) => await upload(gateway.url, '/big', TOTAL, true, meter, 'memory'))
    assert.equal(received.bytes, TOTAL)
    assert.equal(received.sha256, sentSha256)
  })

  await t.test('a 50 MiB upload with content-length arrives whole, the gateway\'s RSS flat', async () => {
    const { sentSha256, received } = await measure('content-length upload',
      async (meter) => await upload(gateway.url, '/big', TOTAL, false, meter, 'memory'))
    assert.equal(received.bytes, TOTAL)
    assert.equal(received.sha256, sentSha256)
  })

  await t.test('a 50 MiB download with content-length arrives whole, the gateway\'s RSS flat', async () => {
    const got = await measure('content-length download',
      async (meter) => await download(gateway.url, '/big', TOTAL, false, meter, 'memory'))
    assert.equal(got.status, 200)
    assert.equal(got.headers['content-length'], String(TOTAL))
    assert.equal(got.bytes, TOTAL)
    assert.equal(got.sha256, expected)
  })

  await t.test('a chunked 50 MiB download arrives whole, the gateway\'s RSS flat', async () => {
    const got = await measure('chunked download',
      async (meter) => await download(gateway.url, '/big', TOTAL, true, meter, 'memory'))
    assert.equal(got.status, 200)
    assert.equal(got.bytes, TOTAL)
    assert.equal(got.sha256, expected)
  })

  /** Runs one transfer bigger than every buffer on the way, the receiver stalling early. */
  const holdsBack = async <T>(name: string, transfer: (meter: Meter) => Promise<T>): Promise<T> => {
    const meter = newMeter()
    state.current.meter = meter
    const result = await transfer(meter)
    t.diagnostic(`${name}: sender at most ${(meter.maxLead / MiB).toFixed(1)} MiB ahead of the stalled receiver`)
    assert.ok(meter.maxLead > 0, `${name}: the receiver never stalled`)
    assert.ok(meter.maxLead < MAX_LEAD,
      `${name}: the sender got ${(meter.maxLead / MiB).toFixed(1)} MiB ahead of a receiver that had stopped reading: no backpressure`)
    return result
  }

  await t.test('backpressure: a stalled origin holds back an uploading client (content-length and chunked)', async () => {
    for (const chunked of [false, true]) {
      const { sentSha256, received } = await holdsBack(`${chunked ? 'chunked' : 'content-length'} upload of 160 MiB`,
        async (meter) => await upload(gateway.url, '/deep', BACKPRESSURE_TOTAL, chunked, meter, 'backpressure'))
      assert.equal(received.bytes, BACKPRESSURE_TOTAL)
      assert.equal(received.sha256, sentSha256)
    }
  })

  await t.test('backpressure: a stalled client holds back a downloading origin', async () => {
    const got = await holdsBack('download of 160 MiB',
      async (meter) => await download(gateway.url, '/deep', BACKPRESSURE_TOTAL, false, meter, 'backpressure'))
    assert.equal(got.bytes, BACKPRESSURE_TOTAL)
  })

  // The gateway is still serving afterwards.
  const after = await upload(gateway.url, '/big', MiB, false, newMeter(), 'none')
  assert.equal(after.received.sha256, after.sentSha256)
})
