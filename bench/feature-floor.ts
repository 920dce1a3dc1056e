// The shared harness's ceiling probe (../shared/bench/raw-undici.mjs: node:http, an undici Pool, a key
// compare) plus the least that Gerbang's always-on features can cost, each done the cheapest way
// there is, with nothing else: it answers "how close to the probe can a gateway with these features
// get on this machine?" (issue 16, docs/performance.md). Run it as the harness's gateway contender:
//
//   GATEWAY_NAME=floor-full GATEWAY_CMD="FLOOR=full exec node $PWD/dist/bench/feature-floor.js" \
//     CONTENDERS="fastify raw-undici" ROUNDS=5 DURATION=8s /tmp/gwbench/run.sh
//
// FLOOR=log: the probe plus the access line (the same fields as Gerbang's, one template string,
//   gathered and written to stdout asynchronously in batches as src/logging.ts does).
// FLOOR=full: also the request id (randomUUID), a W3C traceparent, the forwarded headers upstream,
//   the rate-limit headers and nosniff on the answer, a SHA-256 credential cache lookup, a
//   prom-client counter and histogram. No limiter, breaker, retry, router or framework.
import http from 'node:http'
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { fstatSync, write } from 'node:fs'
import { Pool } from 'undici'
import { Counter, Histogram } from 'prom-client'

const port = Number(process.env.GATEWAY_PORT ?? 9006)
const full = process.env.FLOOR === 'full'
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

// Batches as src/logging.ts makes them: a regular file takes large writes, a pipe ≤ PIPE_BUF.
let toFile = false
try { toFile = fstatSync(1).isFile() } catch {}
const BATCH_CHARS = toFile ? 60_000 : 4_000
let pending = ''
let timer: NodeJS.Timeout | null = null
let writing = false
const queue: string[] = []
function pump (): void {
  const next = queue.shift()
  if (writing || next === undefined) return
  writing = true
  write(1, next, () => { writing = false; pump() })
}
function flush (): void {
  timer = null
  if (pending === '') return
  queue.push(pending)
  pending = ''
  pump()
}
function logLine (line: string): void {
  if (pending.length + line.length > BATCH_CHARS) flush()
  pending += line
  timer ??= setTimeout(flush, 20)
}
let stampMs = -1
let stamp = ''

http.createServer((req, res) => {
  const started = performance.now()
  const key = req.headers['x-api-key']
  const client = full
    ? (typeof key === 'string' ? clients.get(createHash('sha256').update(key).digest('base64url')) : undefined)
    : (key === benchKey ? 'bench' : undefined)
  if (client === undefined) {
    res.statusCode = 401
    res.end('{"code":"CREDENTIALS_INVALID"}')
    return
  }
  const reqId = randomUUID()
  const traceId = randomBytes(16).toString('hex')
  const headers: Record<string, string | string[] | undefined> = {}
  for (const name in req.headers) if (!HOP.has(name)) headers[name] = req.headers[name]
  if (full) {
    headers['x-request-id'] = reqId
    headers.traceparent = `00-${traceId}-${randomBytes(8).toString('hex')}-01`
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
    if (full) {
      out['x-request-id'] = reqId
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
    const ms = performance.now() - started
    if (full) {
      requests.inc({ integration: 'api', status: String(res.statusCode) })
      seconds.observe({ integration: 'api' }, ms / 1000)
    }
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
}).listen(port, '127.0.0.1', () => { process.stderr.write(`feature-floor (${full ? 'full' : 'log'}) on ${port}\n`) })

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => { flush(); setTimeout(() => process.exit(0), 100) })
