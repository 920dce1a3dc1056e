// The shared harness's ceiling probe (../shared/bench/raw-undici.mjs: node:http, an undici Pool, a key
// compare) plus the least that Gerbang's always-on features can cost, each done the cheapest way
// there is, with nothing else: it answers "how close to the probe can a gateway with these features
// get on this machine?" (issue 16, docs/performance.md). Run it as the harness's gateway contender:
//
//   GATEWAY_NAME=floor-full GATEWAY_CMD="FLOOR=full exec node $PWD/dist/bench/feature-floor.js" \
//     CONTENDERS="fastify raw-undici" ROUNDS=5 DURATION=8s /tmp/gwbench/run.sh
//
// FLOOR is a comma-separated list of features, so each one's cost can be measured alone:
//   log      the access line (the same fields as Gerbang's, one template string, encoded into
//            byte batches written to stdout asynchronously, as src/logging.ts does)
//   ids      the request id (randomUUID) and a W3C traceparent upstream, with the trace and span
//            ids made by src/ops/trace-context.ts
//   forward  X-Forwarded-For/-Proto/-Host and the client header upstream
//   hash     a SHA-256 credential cache lookup instead of a string compare
//   metrics  a prom-client counter and histogram
//   headers  the rate-limit headers and nosniff on the answer
//   full     all of the above
// With no feature it is the probe itself. No limiter, breaker, retry, router or framework.
import http from 'node:http'
import { createHash, randomUUID } from 'node:crypto'
import { fstatSync, write } from 'node:fs'
import { Pool } from 'undici'
import { Counter, Histogram } from 'prom-client'
// The product's own ids: random hex sliced from a pooled string, never a crypto call per request.
import { newSpanId, newTraceId } from '../src/ops/trace-context.js'

const port = Number(process.env.GATEWAY_PORT ?? 9006)
const FEATURES = ['log', 'ids', 'forward', 'hash', 'metrics', 'headers'] as const
const asked = new Set((process.env.FLOOR ?? '').split(',').map((f) => f.trim()).filter((f) => f !== ''))
for (const f of asked) {
  if (f !== 'full' && !(FEATURES as readonly string[]).includes(f)) throw new Error(`FLOOR: unknown feature ${f}`)
}
const on = (f: typeof FEATURES[number]): boolean => asked.has('full') || asked.has(f)
const LOG = on('log')
const IDS = on('ids')
const FORWARD = on('forward')
const HASH = on('hash')
const METRICS = on('metrics')
const HEADERS = on('headers')
const benchKey = process.env.BENCH_KEY ?? ''
const pool = new Pool(process.env.UPSTREAM_URL ?? 'http://127.0.0.1:9001', {
  connections: 64, pipelining: 1, keepAliveTimeout: 30_000
})
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'upgrade', 'proxy-connection', 'host'])
const clients = new Map([[createHash('sha256').update(benchKey).digest('base64url'), '4ded8e40-3197-4438-9660-be9e08b3381f']])
const requests = new Counter({ name: 'floor_requests_total', help: 'requests', labelNames: ['integration', 'status'] })
const seconds = new Histogram({
  name: 'floor_request_seconds',
  help: 'time',
  labelNames: ['integration'],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
})

// Batches as src/logging.ts makes them: each line encoded into the batch's bytes as it is made;
// a regular file takes 64 KiB writes, a pipe at most PIPE_BUF.
let toFile = false
try { toFile = fstatSync(1).isFile() } catch {}
const BATCH_BYTES = toFile ? 65_536 : 4_096
let batch = Buffer.allocUnsafe(BATCH_BYTES)
let used = 0
let timer: NodeJS.Timeout | null = null
let writing = false
const queue: Buffer[] = []
function pump (): void {
  const next = queue.shift()
  if (writing || next === undefined) return
  writing = true
  write(1, next, () => { writing = false; pump() })
}
function flush (): void {
  timer = null
  if (used === 0) return
  queue.push(batch.subarray(0, used))
  batch = Buffer.allocUnsafe(BATCH_BYTES)
  used = 0
  pump()
}
function logLine (line: string): void {
  // The access line is ASCII here but for the path; three bytes a character is the most UTF-8 takes.
  if (used + line.length * 3 > BATCH_BYTES) flush()
  used += batch.write(line, used)
  timer ??= setTimeout(flush, 20)
}
let stampMs = -1
let stamp = ''

http.createServer((req, res) => {
  const started = LOG || METRICS ? performance.now() : 0
  const key = req.headers['x-api-key']
  const client = HASH
    ? (typeof key === 'string' ? clients.get(createHash('sha256').update(key).digest('base64url')) : undefined)
    : (key === benchKey ? 'bench' : undefined)
  if (client === undefined) {
    res.statusCode = 401
    res.end('{"code":"CREDENTIALS_INVALID"}')
    return
  }
  // The access line names the request and its trace, so `log` makes the ids too.
  const reqId = IDS || LOG ? randomUUID() : ''
  const traceId = IDS || LOG ? newTraceId() : ''
  const headers: Record<string, string | string[] | undefined> = {}
  for (const name in req.headers) if (!HOP.has(name)) headers[name] = req.headers[name]
  if (IDS) {
    headers['x-request-id'] = reqId
    headers.traceparent = `00-${traceId}-${newSpanId()}-01`
  }
  if (FORWARD) {
    headers['x-forwarded-for'] = req.socket.remoteAddress
    headers['x-forwarded-proto'] = 'http'
    headers['x-forwarded-host'] = req.headers.host
    headers['x-gerbang-client'] = client
  }
  let upstreamStatus = 0
  let bytesOut = 0
  pool.stream({
    path: req.url ?? '/',
    method: req.method as 'GET',
    headers,
    body: req.method === 'GET' || req.method === 'HEAD' ? null : req
  }, ({ statusCode, headers: answer }) => {
    upstreamStatus = statusCode
    const out: Record<string, string | string[] | undefined> = {}
    for (const name in answer) if (!HOP.has(name)) out[name] = answer[name]
    if (IDS) out['x-request-id'] = reqId
    if (HEADERS) {
      out['x-content-type-options'] = 'nosniff'
      out['ratelimit-policy'] = '"default";q=10000000;w=60'
      out.ratelimit = '"default";r=9999999;t=60'
      out['x-ratelimit-limit'] = '10000000'
      out['x-ratelimit-remaining'] = '9999999'
      out['x-ratelimit-reset'] = '60'
    }
    bytesOut = Number(answer['content-length'] ?? 0)
    res.writeHead(statusCode, out)
    return res
  }, (err) => {
    if (err !== null && !res.headersSent) {
      res.statusCode = 502
      res.end()
    }
    if (!LOG && !METRICS) return
    const ms = performance.now() - started
    if (METRICS) {
      requests.inc({ integration: 'api', status: String(res.statusCode) })
      seconds.observe({ integration: 'api' }, ms / 1000)
    }
    if (!LOG) return
    const now = Date.now()
    if (now !== stampMs) {
      stampMs = now
      stamp = new Date(now).toISOString()
    }
    logLine(`{"level":"info","time":"${stamp}","pid":${process.pid},"hostname":"vm","reqId":"${reqId}",` +
      `"traceId":"${traceId}","integration":"api","client":"${client}","method":"${req.method ?? ''}",` +
      `"path":${JSON.stringify(req.url)},"status":${res.statusCode},"upstreamStatus":${upstreamStatus},` +
      `"durationMs":${Math.round(ms * 100) / 100},"bytesOut":${bytesOut},"ip":"${req.socket.remoteAddress ?? ''}",` +
      '"msg":"request"}\n')
  })
}).listen(port, '127.0.0.1', () => { process.stderr.write(`feature-floor (${[...asked].join(',') || 'probe'}) on ${port}\n`) })

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => { flush(); setTimeout(() => process.exit(0), 100) })
