// OpenTelemetry export (docs/contract.md section 11) with several targets:
// each client span names the target the request went to, or the one that
// answered after a failover, with an event for the one that failed. What is
// exported is read at a real OTLP/HTTP receiver started here on 127.0.0.1.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startEchoOrigin } from '../helpers/origin.js'
import { closedPort, send } from '../proxy/client.js'
import {
  one, otlpGatewayProcess, SPAN_KIND_CLIENT, spansOf, startOtlpReceiver, upstreamTraceparent, type OtlpSpan
} from './tracing-fixtures.js'

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
