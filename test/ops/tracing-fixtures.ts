// What the tracing tests (test/ops/tracing-*.test.ts) share: the trace ids
// they send, the traceparent a real upstream (the echo origin) received, and
// a real OTLP/HTTP receiver on 127.0.0.1 with the spans posted to it read
// back, for a gateway process exporting to it.
import { type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Origin } from '../helpers/origin.js'
import { startGatewayProcess, type GatewayProcess } from '../helpers/process.js'

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/
export const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'
export const PARENT_ID = '00f067aa0ba902b7'
export const TRACESTATE = 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE'

interface Traceparent { traceId: string, parentId: string, flags: string }

/** The one traceparent header the origin got, parsed; fails unless there is exactly one and it is valid. */
export function upstreamTraceparent (origin: Origin, index = origin.seen.length - 1): Traceparent {
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
export function accessLine (logs: Array<Record<string, unknown>>, reqId: string): Record<string, unknown> {
  const line = logs.find((l) => l.reqId === reqId && typeof l.msg === 'string' && l.msg.startsWith('request'))
  assert.ok(line !== undefined, `an access line for ${reqId}`)
  return line
}

// ---------------------------------------------------------------------------
// OTLP export

export interface OtlpAttributes { [key: string]: string | number | boolean }
export interface OtlpSpan {
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
export const SPAN_KIND_SERVER = 2
export const SPAN_KIND_CLIENT = 3
export const STATUS_UNSET = 0
export const STATUS_ERROR = 2

interface OtlpPost { path: string, contentType: string, body: Buffer }

/** An OTLP/HTTP receiver on 127.0.0.1 that keeps every POST. */
export async function startOtlpReceiver (t: TestContext): Promise<{ url: string, posts: OtlpPost[] }> {
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
export function spansOf (posts: OtlpPost[]): OtlpSpan[] {
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

export function one (spans: OtlpSpan[], what: string, pick: (s: OtlpSpan) => boolean): OtlpSpan {
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
export async function otlpGatewayProcess (t: TestContext, receiver: { url: string }, integrations: string[],
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
