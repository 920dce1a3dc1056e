// W3C Trace Context (docs/contract.md section 11), with no exporter: an
// incoming traceparent continued, a new trace started otherwise, its trace id
// in the access line; and nothing of the OpenTelemetry SDK loaded. What the
// upstream receives is read at a real upstream (the echo origin).
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { oneIntegration, startGateway } from '../helpers/gateway.js'
import { startEchoOrigin, type Origin } from '../helpers/origin.js'
import { REPO_ROOT } from '../helpers/process.js'
import { send } from '../proxy/client.js'
import { accessLine, PARENT_ID, TRACE_ID, TRACESTATE, upstreamTraceparent } from './tracing-fixtures.js'

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
  // A process of its own: a test process that exports (tracing-export.test.ts) has loaded the SDK.
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
