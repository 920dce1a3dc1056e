// OpenTelemetry export (docs/contract.md section 11): server and client spans
// with their parent links, status, attributes and events, sampled as the
// parent and OTEL_TRACES_SAMPLER say, as OTLP/JSON and OTLP/HTTP protobuf.
// What the upstream receives is read at a real upstream (the echo origin);
// what is exported, at a real OTLP/HTTP receiver started here on 127.0.0.1.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { tracingFromEnv } from '../../src/ops/tracing.js'
import { oneIntegration, startGateway } from '../helpers/gateway.js'
import { startEchoOrigin } from '../helpers/origin.js'
import { closedPort, send } from '../proxy/client.js'
import {
  accessLine, one, otlpGatewayProcess, PARENT_ID, SPAN_KIND_CLIENT, SPAN_KIND_SERVER, spansOf, startOtlpReceiver,
  STATUS_ERROR, STATUS_UNSET, TRACE_ID, TRACESTATE, upstreamTraceparent, type OtlpAttributes, type OtlpSpan
} from './tracing-fixtures.js'

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
