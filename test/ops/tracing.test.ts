// W3C Trace Context and OpenTelemetry export (docs/contract.md section 11).
// What the upstream receives is read at a real upstream (the echo origin);
// what is exported, at a real OTLP/HTTP receiver started here on 127.0.0.1.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { tracingFromEnv } from '../../src/ops/tracing.js'
import { oneIntegration, startGateway } from '../helpers/gateway.js'
import { startEchoOrigin, type Origin } from '../helpers/origin.js'
import { REPO_ROOT, startGatewayProcess, type GatewayProcess } from '../helpers/process.js'
import { closedPort, send } from '../proxy/client.js'

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'
const PARENT_ID = '00f067aa0ba902b7'
const TRACESTATE = 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE'

interface Traceparent { traceId: string, parentId: string, flags: string }

/** The one traceparent header the origin got, parsed; fails unless there is exactly one and it is valid. */
function upstreamTraceparent (origin: Origin, index = origin.seen.length - 1): Traceparent {
  const seen = origin.seen[index]
  assert.ok(seen !== undefined, 'the request reached the upstream')
  const values: string[] = []
  for (let i = 0; i < seen.rawHeaders.length; i += 2) {
    if ((seen.rawHeaders[i] as string).toLowerCase() === 'traceparent') values.push(seen.rawHeaders[i + 1] as string)
  }
  assert.equal(values.length, 1, `one traceparent header upstream, got ${JSON.stringify(values)}`)
  const match = TRACEPARENT.exec(values[0] as string)
  assert.ok(match !== null, `a valid version-00 traceparent upstream, got ${values[0] ?? ''}`)
  const [, traceId, parentId, flags] = match as unknown as [string, string, string, string]
  assert.notEqual(traceId, '0'.repeat(32))
  assert.notEqual(parentId, '0'.repeat(16))
  return { traceId, parentId, flags }
}

/** The access line of the request with this id. */
function accessLine (logs: Array<Record<string, unknown>>, reqId: string): Record<string, unknown> {
  const line = logs.find((l) => l.reqId === reqId && typeof l.msg === 'string' && l.msg.startsWith('request'))
  assert.ok(line !== undefined, `an access line for ${reqId}`)
  return line
}

async function echoGateway (
  t: TestContext
): Promise<{ origin: Origin, url: string, logs: Array<Record<string, unknown>> }> {
  const origin = await startEchoOrigin()
  t.after(origin.close)
  const gw = await startGateway(t, oneIntegration('yankes', origin.url))
  return { origin, url: gw.url, logs: gw.logs }
}

// ---------------------------------------------------------------------------
// W3C Trace Context, no exporter

test('an incoming traceparent is continued: same trace id, the gateway\'s span id as parent, flags and tracestate as sent, one traceparent upstream', async (t) => {
  const { origin, url, logs } = await echoGateway(t)
  for (const flags of ['01', '00']) {
    const answer = await send(url, '/yankes/kamar?rs=1', {
      headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-${flags}`, tracestate: TRACESTATE, 'x-request-id': `continued-${flags}` }
    })
    assert.equal(answer.status, 200)
    const sent = upstreamTraceparent(origin)
    assert.equal(sent.traceId, TRACE_ID)
    assert.notEqual(sent.parentId, PARENT_ID, 'the parent id upstream is the gateway\'s own span')
    assert.equal(sent.flags, flags)
    assert.equal(origin.seen.at(-1)?.headers.tracestate, TRACESTATE)
    assert.equal(accessLine(logs, `continued-${flags}`).traceId, TRACE_ID)
  }
  // Each request is a span of its own.
  assert.notEqual(upstreamTraceparent(origin, 0).parentId, upstreamTraceparent(origin, 1).parentId)
})

test('a request without traceparent starts a trace: a valid traceparent upstream, its trace id in the access line', async (t) => {
  const { origin, url, logs } = await echoGateway(t)
  const ids = new Set<string>()
  for (let i = 0; i < 3; i++) {
    const answer = await send(url, '/yankes/kamar', { headers: { 'x-request-id': `fresh-${i}` } })
    assert.equal(answer.status, 200)
    const sent = upstreamTraceparent(origin)
    // No exporter, no sampler settings: the default (parentbased_always_on) samples a new trace.
    assert.equal(sent.flags, '01')
    assert.equal(accessLine(logs, `fresh-${i}`).traceId, sent.traceId)
    ids.add(sent.traceId)
  }
  assert.equal(ids.size, 3, 'every new trace has its own id')
})

test('an invalid traceparent is replaced by a new trace; tracestate still passes untouched', async (t) => {
  const { origin, url, logs } = await echoGateway(t)
  const invalid = [
    `00-${TRACE_ID.toUpperCase()}-${PARENT_ID}-01`, // upper-case hex
    `00-${'0'.repeat(32)}-${PARENT_ID}-01`, // all-zero trace id
    `00-${TRACE_ID}-${'0'.repeat(16)}-01`, // all-zero parent id
    `ff-${TRACE_ID}-${PARENT_ID}-01`, // version ff is never valid
    `00-${TRACE_ID}-${PARENT_ID}-01-extra`, // version 00 has exactly four fields
    `00-${TRACE_ID}-${PARENT_ID}-1`, // short flags
    `00_${TRACE_ID}_${PARENT_ID}_01`, // wrong separators
    `00-${TRACE_ID.slice(1)}g-${PARENT_ID}-01`, // not hex
    ''
  ]
  for (const [i, value] of invalid.entries()) {
    const answer = await send(url, '/yankes/kamar', { headers: { traceparent: value, tracestate: TRACESTATE, 'x-request-id': `invalid-${i}` } })
    assert.equal(answer.status, 200)
    const sent = upstreamTraceparent(origin)
    assert.notEqual(sent.traceId, TRACE_ID, `${JSON.stringify(value)} was not continued`)
    assert.notEqual(sent.traceId, TRACE_ID.toUpperCase())
    assert.equal(origin.seen.at(-1)?.headers.tracestate, TRACESTATE)
    assert.equal(accessLine(logs, `invalid-${i}`).traceId, sent.traceId)
  }
  // Two traceparent headers are one invalid value.
  await send(url, '/yankes/kamar', { headers: { traceparent: [`00-${TRACE_ID}-${PARENT_ID}-01`, `00-${TRACE_ID}-${PARENT_ID}-01`] } })
  assert.notEqual(upstreamTraceparent(origin).traceId, TRACE_ID)

  // A later version is read as far as version 00 goes, and sent on as 00.
  await send(url, '/yankes/kamar', { headers: { traceparent: `cc-${TRACE_ID}-${PARENT_ID}-01-what-comes-later` } })
  const later = upstreamTraceparent(origin)
  assert.equal(later.traceId, TRACE_ID)
  assert.equal(later.flags, '01')
})

test('a client cannot remove the gateway\'s traceparent by naming it in Connection', async (t) => {
  const { origin, url } = await echoGateway(t)
  await send(url, '/yankes/kamar', {
    headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`, connection: 'keep-alive, traceparent, tracestate', tracestate: TRACESTATE }
  })
  const sent = upstreamTraceparent(origin)
  assert.equal(sent.traceId, TRACE_ID)
  // tracestate is the client's header: the client may drop it.
  assert.equal(origin.seen.at(-1)?.headers.tracestate, undefined)
})

test('a request the gateway answers itself (401) has a trace id in its access line too', async (t) => {
  const origin = await startEchoOrigin()
  t.after(origin.close)
  const gw = await startGateway(t, `integrations:\n  sirs:\n    upstream: ${origin.url}\n`)
  const answer = await send(gw.url, '/sirs/pasien', { headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`, 'x-request-id': 'refused' } })
  assert.equal(answer.status, 401)
  assert.equal(accessLine(gw.logs, 'refused').traceId, TRACE_ID)
  assert.equal(origin.seen.length, 0)
})

test('with no exporter configured, nothing of the OpenTelemetry SDK is loaded', () => {
  // A process of its own: this one has loaded the SDK for the tests below.
  const script = `
    import { createRequire } from 'node:module'
    const { buildApp } = await import(${JSON.stringify(pathToFileURL(join(REPO_ROOT, 'dist/src/app.js')).href)})
    const { tracingFromEnv } = await import(${JSON.stringify(pathToFileURL(join(REPO_ROOT, 'dist/src/ops/tracing.js')).href)})
    const { parseRoutes } = await import(${JSON.stringify(pathToFileURL(join(REPO_ROOT, 'dist/src/config/routes-loader.js')).href)})
    const sdk = () => Object.keys(createRequire(import.meta.url).cache).filter((f) => /@opentelemetry[\\\\/](sdk-|exporter-|resources|otlp-)/.test(f)).length
    const routes = parseRoutes('defaults:\\n  auth: none\\nintegrations:\\n  a:\\n    upstream: http://127.0.0.1:9\\n', {}).config
    const off = await tracingFromEnv({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.5' })
    const app = await buildApp({ routes, tracing: off })
    await app.inject({ url: '/a/x' })
    const before = sdk()
    await app.close()
    const on = await tracingFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' })
    const after = sdk()
    await on.shutdown()
    console.log(JSON.stringify({ before, after }))
  `
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: REPO_ROOT, timeout: 30_000 })
  assert.equal(run.status, 0, run.stderr)
  const counts = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as { before: number, after: number }
  assert.equal(counts.before, 0, 'no SDK module loaded without an exporter')
  assert.ok(counts.after > 0, 'the SDK is loaded once an endpoint is configured')
})

// ---------------------------------------------------------------------------
// OTLP export

interface OtlpAttributes { [key: string]: string | number | boolean }
interface OtlpSpan {
  traceId: string
  spanId: string
  parentSpanId: string
  name: string
  kind: number
  attributes: OtlpAttributes
  events: Array<{ name: string, attributes: OtlpAttributes }>
  status: { code: number }
  resource: OtlpAttributes
}

// OTLP enums (opentelemetry-proto trace.proto).
const SPAN_KIND_SERVER = 2
const SPAN_KIND_CLIENT = 3
const STATUS_UNSET = 0
const STATUS_ERROR = 2

interface OtlpPost { path: string, contentType: string, body: Buffer }

/** An OTLP/HTTP receiver on 127.0.0.1 that keeps every POST. */
async function startOtlpReceiver (t: TestContext): Promise<{ url: string, posts: OtlpPost[] }> {
  const posts: OtlpPost[] = []
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      posts.push({ path: req.url ?? '', contentType: req.headers['content-type'] ?? '', body: Buffer.concat(chunks) })
      res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/json' })
      res.end(req.headers['content-type'] === 'application/json' ? '{}' : '')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => { resolve() }))
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, posts }
}

type JsonValue = { stringValue?: string, intValue?: number | string, boolValue?: boolean, doubleValue?: number }
interface JsonKeyValue { key: string, value: JsonValue }

function attributes (list: JsonKeyValue[] | undefined): OtlpAttributes {
  const out: OtlpAttributes = {}
  for (const { key, value } of list ?? []) {
    out[key] = value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : undefined) ?? value.boolValue ?? value.doubleValue ?? ''
  }
  return out
}

interface JsonSpan {
  traceId: string
  spanId: string
  parentSpanId?: string
  name: string
  kind: number
  attributes?: JsonKeyValue[]
  events?: Array<{ name: string, attributes?: JsonKeyValue[] }>
  status?: { code?: number }
}
interface JsonTraces {
  resourceSpans: Array<{ resource: { attributes: JsonKeyValue[] }, scopeSpans: Array<{ spans: JsonSpan[] }> }>
}

/** Every span in the OTLP/JSON posts. */
function spansOf (posts: OtlpPost[]): OtlpSpan[] {
  const spans: OtlpSpan[] = []
  for (const post of posts) {
    assert.equal(post.path, '/v1/traces')
    assert.match(post.contentType, /^application\/json/)
    const body = JSON.parse(post.body.toString()) as JsonTraces
    for (const rs of body.resourceSpans) {
      const resource = attributes(rs.resource.attributes)
      for (const ss of rs.scopeSpans) {
        for (const s of ss.spans) {
          spans.push({
            traceId: s.traceId,
            spanId: s.spanId,
            parentSpanId: s.parentSpanId ?? '',
            name: s.name,
            kind: s.kind,
            attributes: attributes(s.attributes),
            events: (s.events ?? []).map((e) => ({ name: e.name, attributes: attributes(e.attributes) })),
            status: { code: s.status?.code ?? STATUS_UNSET },
            resource
          })
        }
      }
    }
  }
  return spans
}

function one (spans: OtlpSpan[], what: string, pick: (s: OtlpSpan) => boolean): OtlpSpan {
  const found = spans.filter(pick)
  assert.equal(found.length, 1, `one ${what}, got ${found.length}: ${JSON.stringify(spans.map((s) => [s.name, s.traceId, s.kind]))}`)
  return found[0] as OtlpSpan
}

/**
 * A gateway process exporting spans to `receiver` (OTLP/JSON), with no
 * authentication and these integrations (routes.yaml lines under
 * `integrations:`). Nothing is exported before shutdown: the spans arrive
 * only if stopping flushes them.
 */
async function otlpGatewayProcess (t: TestContext, receiver: { url: string }, integrations: string[],
  sampler: Record<string, string>): Promise<GatewayProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'gerbang-tracing-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const routes = join(dir, 'routes.yaml')
  await writeFile(routes, ['defaults:', '  auth: none', 'integrations:', ...integrations, ''].join('\n'))
  return await startGatewayProcess(t, routes, {
    REDIS_URL: '',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '600000',
    OTEL_SERVICE_NAME: undefined,
    OTEL_TRACES_EXPORTER: undefined,
    OTEL_SDK_DISABLED: undefined,
    ...sampler
  })
}

test('a gateway process with OTEL_EXPORTER_OTLP_ENDPOINT exports server and client spans with their parent links, status and attributes; sampling follows the parent and OTEL_TRACES_SAMPLER', async (t) => {
  const receiver = await startOtlpReceiver(t)
  const origin = await startEchoOrigin()
  t.after(origin.close)
  const deadPort = await closedPort()
  const gw = await otlpGatewayProcess(t, receiver, [
    '  yankes:',
    `    upstream: ${origin.url}/api/v1`,
    '  mati:',
    `    upstream: http://127.0.0.1:${deadPort}`,
    '    retries: 0'
  ], {
    // Parent-based, and no new trace sampled: only the sampled parents below are exported.
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: '0'
  })

  const sampled = `00-${TRACE_ID}-${PARENT_ID}-01`
  const ok = await send(gw.url, '/yankes/kamar?rs=1&token=rahasia', { headers: { traceparent: sampled, tracestate: TRACESTATE, 'x-request-id': 'sampled', 'user-agent': 'tracing-test' } })
  assert.equal(ok.status, 200)
  const okUpstream = upstreamTraceparent(origin)
  assert.equal(okUpstream.traceId, TRACE_ID)
  assert.equal(okUpstream.flags, '01')
  assert.equal(origin.seen.at(-1)?.headers.tracestate, TRACESTATE)

  const unsampledTrace = 'aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbb'
  await send(gw.url, '/yankes/kamar', { headers: { traceparent: `00-${unsampledTrace}-${PARENT_ID}-00` } })
  const notSampled = upstreamTraceparent(origin)
  assert.equal(notSampled.traceId, unsampledTrace)
  assert.equal(notSampled.flags, '00', 'an unsampled parent is not sampled here either')
  assert.notEqual(notSampled.parentId, PARENT_ID)

  await send(gw.url, '/yankes/kamar', { headers: { 'x-request-id': 'root' } })
  const root = upstreamTraceparent(origin)
  assert.equal(root.flags, '00', 'a new trace at ratio 0 is not sampled')

  const failedTrace = 'cccccccccccccccc1111111111111111'
  const failed = await send(gw.url, '/mati/apa', { headers: { traceparent: `00-${failedTrace}-${PARENT_ID}-01` } })
  assert.equal(failed.status, 502)

  gw.child.kill('SIGTERM')
  const { code } = await gw.exited
  assert.equal(code, 0)

  assert.equal(gw.logs.find((l) => l.reqId === 'sampled' && l.msg === 'request')?.traceId, TRACE_ID)
  assert.equal(gw.logs.find((l) => l.reqId === 'root' && l.msg === 'request')?.traceId, root.traceId)

  const spans = spansOf(receiver.posts)
  assert.equal(spans.length, 4, `two spans for each of the two sampled requests: ${JSON.stringify(spans.map((s) => s.name))}`)
  assert.ok(!spans.some((s) => s.traceId === unsampledTrace || s.traceId === root.traceId), 'unsampled traces are not exported')
  for (const s of spans) {
    assert.equal(s.resource['service.name'], 'gerbang')
  }

  const server = one(spans, 'server span of the sampled request', (s) => s.traceId === TRACE_ID && s.kind === SPAN_KIND_SERVER)
  const client = one(spans, 'client span of the sampled request', (s) => s.traceId === TRACE_ID && s.kind === SPAN_KIND_CLIENT)
  assert.equal(server.parentSpanId, PARENT_ID, 'the server span continues the incoming parent')
  assert.equal(client.parentSpanId, server.spanId, 'the client span is the server span\'s child')
  assert.equal(okUpstream.parentId, client.spanId, 'the upstream\'s parent is the client span')
  assert.equal(server.name, 'GET /yankes')
  assert.equal(server.status.code, STATUS_UNSET)
  assert.deepEqual(pick(server.attributes, [
    'http.request.method', 'url.path', 'url.scheme', 'http.route', 'http.response.status_code', 'server.address', 'client.address',
    'gerbang.integration', 'user_agent.original'
  ]), {
    'http.request.method': 'GET',
    'url.path': '/yankes/kamar',
    'url.scheme': 'http',
    'http.route': '/yankes',
    'http.response.status_code': 200,
    'server.address': '127.0.0.1',
    'client.address': '127.0.0.1',
    'gerbang.integration': 'yankes',
    'user_agent.original': 'tracing-test'
  })
  assert.ok(!JSON.stringify(server).includes('rahasia'), 'no query string in any attribute')
  // The first request of this address leased rate-limit tokens from the store.
  assert.ok(server.events.some((e) => e.name === 'gerbang.ratelimit.lease_refill'), JSON.stringify(server.events))
  assert.equal(client.name, 'GET')
  assert.equal(client.status.code, STATUS_UNSET)
  assert.deepEqual(pick(client.attributes, ['http.request.method', 'server.address', 'server.port', 'url.full', 'http.response.status_code']), {
    'http.request.method': 'GET',
    'server.address': '127.0.0.1',
    'server.port': origin.port,
    'url.full': `${origin.url}/api/v1/kamar`,
    'http.response.status_code': 200
  })

  const failedServer = one(spans, 'server span of the failed request', (s) => s.traceId === failedTrace && s.kind === SPAN_KIND_SERVER)
  const failedClient = one(spans, 'client span of the failed request', (s) => s.traceId === failedTrace && s.kind === SPAN_KIND_CLIENT)
  assert.equal(failedClient.parentSpanId, failedServer.spanId)
  assert.equal(failedServer.status.code, STATUS_ERROR)
  assert.equal(failedServer.attributes['http.response.status_code'], 502)
  assert.equal(failedServer.attributes['error.type'], '502')
  assert.equal(failedClient.status.code, STATUS_ERROR)
  assert.equal(failedClient.attributes['error.type'], 'ECONNREFUSED')
  assert.equal(failedClient.attributes['server.port'], deadPort)
  assert.equal(failedClient.attributes['http.response.status_code'], undefined)
})

function pick (attributes: OtlpAttributes, keys: string[]): OtlpAttributes {
  const out: OtlpAttributes = {}
  for (const key of keys) if (attributes[key] !== undefined) out[key] = attributes[key]
  return out
}

test('an authenticated request: the client id on the server span, an event for the credential cache miss, none once it is cached', async (t) => {
  const receiver = await startOtlpReceiver(t)
  const origin = await startEchoOrigin()
  t.after(origin.close)
  const tracing = await tracingFromEnv({
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_SERVICE_NAME: 'gerbang-test'
  })
  const gw = await startGateway(t, `integrations:\n  sirs:\n    upstream: ${origin.url}\n`, {}, { tracing })
  const { key, client } = await gw.app.clients.create({ name: 'Aplikasi Dinkes', integrations: ['sirs'] })
  for (const id of ['first', 'second']) {
    const answer = await send(gw.url, '/sirs/pasien', { headers: { 'x-api-key': key, 'x-request-id': id } })
    assert.equal(answer.status, 200)
  }
  await gw.app.close() // flushes the spans

  const spans = spansOf(receiver.posts)
  assert.equal(spans.filter((s) => s.kind === SPAN_KIND_SERVER).length, 2)
  const serverOf = (reqId: string): OtlpSpan => {
    const traceId = accessLine(gw.logs, reqId).traceId
    return one(spans, `server span of ${reqId}`, (s) => s.kind === SPAN_KIND_SERVER && s.traceId === traceId)
  }
  const first = serverOf('first')
  const second = serverOf('second')
  for (const s of [first, second]) {
    assert.equal(s.resource['service.name'], 'gerbang-test')
    assert.equal(s.attributes['gerbang.client_id'], client.id)
    assert.equal(s.parentSpanId, '', 'a new trace: the server span is its root')
  }
  const names = (s: OtlpSpan): string[] => s.events.map((e) => e.name)
  assert.ok(names(first).includes('gerbang.auth.cache_miss'), JSON.stringify(first.events))
  assert.ok(names(first).includes('gerbang.ratelimit.lease_refill'), JSON.stringify(first.events))
  assert.deepEqual(names(second), [], 'the second request found its credential and its tokens in this process')
  const miss = first.events.find((e) => e.name === 'gerbang.auth.cache_miss')
  assert.equal(typeof miss?.attributes['gerbang.wait_ms'], 'number')
})

test('OTLP/HTTP protobuf, the default protocol, is exported too', async (t) => {
  const receiver = await startOtlpReceiver(t)
  const origin = await startEchoOrigin()
  t.after(origin.close)
  const tracing = await tracingFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: `${receiver.url}/` })
  const gw = await startGateway(t, oneIntegration('yankes', origin.url), {}, { tracing })
  await send(gw.url, '/yankes/kamar', { headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` } })
  const sent = upstreamTraceparent(origin)
  await gw.app.close()
  assert.ok(receiver.posts.length > 0)
  for (const post of receiver.posts) {
    assert.equal(post.path, '/v1/traces')
    assert.equal(post.contentType, 'application/x-protobuf')
  }
  const body = Buffer.concat(receiver.posts.map((p) => p.body))
  // Protobuf carries the ids as raw bytes, strings as UTF-8.
  assert.ok(body.includes(Buffer.from(TRACE_ID, 'hex')))
  assert.ok(body.includes(Buffer.from(PARENT_ID, 'hex')))
  assert.ok(body.includes(Buffer.from(sent.parentId, 'hex')), 'the client span, the upstream\'s parent')
  assert.ok(body.includes(Buffer.from('GET /yankes')))
  assert.ok(body.includes(Buffer.from('gerbang')))
})

test('with several targets, each client span names the target the request went to', async (t) => {
  const receiver = await startOtlpReceiver(t)
  const first = await startEchoOrigin()
  t.after(first.close)
  const second = await startEchoOrigin()
  t.after(second.close)
  const gw = await otlpGatewayProcess(t, receiver, [
    '  yankes:',
    '    upstream:',
    `      - ${first.url}/api/v1`,
    `      - ${second.url}/api/v1`
  ], { OTEL_TRACES_SAMPLER: 'always_on' })
  // Round robin over two targets: two requests, one to each.
  for (const id of ['one', 'two']) {
    assert.equal((await send(gw.url, '/yankes/kamar', { headers: { 'x-request-id': id } })).status, 200)
  }
  assert.equal(first.seen.length, 1)
  assert.equal(second.seen.length, 1)
  gw.child.kill('SIGTERM')
  assert.equal((await gw.exited).code, 0)

  const clients = spansOf(receiver.posts).filter((s) => s.kind === SPAN_KIND_CLIENT)
  assert.equal(clients.length, 2)
  for (const origin of [first, second]) {
    const traceId = upstreamTraceparent(origin, 0).traceId
    const client = one(clients, `client span of the request to ${origin.url}`, (s) => s.traceId === traceId)
    assert.equal(client.attributes['server.port'], origin.port)
    assert.equal(client.attributes['url.full'], `${origin.url}/api/v1/kamar`)
  }
})

test('a request that fails over to another target: its client span names the target that answered, with an event for the one that failed', async (t) => {
  const receiver = await startOtlpReceiver(t)
  const alive = await startEchoOrigin()
  t.after(alive.close)
  const deadPort = await closedPort()
  const gw = await otlpGatewayProcess(t, receiver, [
    '  yankes:',
    '    upstream:',
    `      - http://127.0.0.1:${deadPort}/api/v1`,
    `      - ${alive.url}/api/v1`
  ], { OTEL_TRACES_SAMPLER: 'always_on' })
  // Round robin begins with the dead target: the first request fails over, later ones skip it.
  for (const id of ['one', 'two']) {
    assert.equal((await send(gw.url, '/yankes/kamar', { headers: { 'x-request-id': id } })).status, 200)
  }
  gw.child.kill('SIGTERM')
  assert.equal((await gw.exited).code, 0)

  const clients = spansOf(receiver.posts).filter((s) => s.kind === SPAN_KIND_CLIENT)
  assert.equal(clients.length, 2)
  for (const client of clients) {
    assert.equal(client.attributes['server.port'], alive.port)
    assert.equal(client.attributes['url.full'], `${alive.url}/api/v1/kamar`)
    assert.equal(client.attributes['http.response.status_code'], 200)
  }
  const failedOver = clients.filter((s) => s.events.some((e) => e.name === 'gerbang.upstream.failover'))
  assert.equal(failedOver.length, 1, JSON.stringify(clients.map((s) => s.events)))
  const event = (failedOver[0] as OtlpSpan).events.find((e) => e.name === 'gerbang.upstream.failover')
  assert.equal(event?.attributes['gerbang.upstream.failed'], `http://127.0.0.1:${deadPort}`)
  assert.equal(event?.attributes['error.type'], 'ECONNREFUSED')
})
