import { diag, DiagLogLevel, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Context, type DiagLogger, type Span, type Tracer } from '@opentelemetry/api'
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { OTLPTraceExporter as ProtobufTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto'
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources'
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base'
import {
  ATTR_CLIENT_ADDRESS, ATTR_ERROR_TYPE, ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT, ATTR_SERVICE_NAME, ATTR_URL_FULL, ATTR_URL_PATH, ATTR_URL_SCHEME, ATTR_USER_AGENT_ORIGINAL
} from '@opentelemetry/semantic-conventions'
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import { pathOnly } from '../http/problem.js'
import { newSpanId, newTraceId, TraceContextOnly, type RecordedTrace, type SamplerSettings, type Tracing, type TracingSettings } from './trace-context.js'

// The OpenTelemetry SDK path of tracing (./tracing.ts imports this module
// only when an exporter is configured). Spans follow the HTTP semantic
// conventions: a SERVER span for the request the gateway received, a CLIENT
// span for its upstream call, and events on the server span for the waits on
// the store (a credential not cached, a rate-limit lease refilled).
//
// No global tracer provider, context manager or propagator is installed:
// contexts are passed by hand, so no async hook runs for any request.
//
// Sampling is decided in ./trace-context.ts (OTEL_TRACES_SAMPLER and its argument,
// the parent's flag) before the SDK is asked for anything: an unsampled
// request never reaches it, and the SDK's own sampler records all it is given.

const SHUTDOWN_TIMEOUT_MS = 5000
/** Export failures are logged once, then at most once a minute with a count. */
const DIAG_LOG_INTERVAL_MS = 60_000

const SERVER = { kind: SpanKind.SERVER }

/**
 * The trace id of the root span about to be started: the one the sampling
 * decision was made on. startSpan asks the id generator for it synchronously.
 */
let nextTraceId: string | undefined
const ids = {
  generateTraceId: (): string => {
    const id = nextTraceId ?? newTraceId()
    nextTraceId = undefined
    return id
  },
  generateSpanId: newSpanId
}

/**
 * The SDK's own complaints (an export that failed) as the gateway's log lines, at warn: not the request path's errors.
 */
class DiagToLogger implements DiagLogger {
  readonly #logger: FastifyBaseLogger | undefined
  #lastAt = -Infinity
  #suppressed = 0

  constructor (logger: FastifyBaseLogger | undefined) {
    this.#logger = logger
  }

  error = (message: string, ...args: unknown[]): void => { this.#log(message, args) }
  warn = (message: string, ...args: unknown[]): void => { this.#log(message, args) }
  info = (): void => {}
  debug = (): void => {}
  verbose = (): void => {}

  #log (message: string, args: unknown[]): void {
    const now = performance.now()
    if (now - this.#lastAt < DIAG_LOG_INTERVAL_MS) {
      this.#suppressed++
      return
    }
    this.#lastAt = now
    const detail = args.map((a) => a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a)).join(' ')
    const suppressed = this.#suppressed
    this.#suppressed = 0
    this.#logger?.warn({ detail: detail === '' ? undefined : detail, suppressedSinceLast: suppressed === 0 ? undefined : suppressed },
      `OpenTelemetry: ${message}`)
  }
}

const origins = new Map<string, { address: string, port: number }>()

/** Host and port of an integration's origin (`http://host:port`), parsed once. */
function originParts (origin: string): { address: string, port: number } {
  let parts = origins.get(origin)
  if (parts === undefined) {
    const url = new URL(origin)
    parts = { address: url.hostname, port: url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80 }
    if (origins.size > 1000) origins.clear()
    origins.set(origin, parts)
  }
  return parts
}

/** The CLIENT span's attributes that name the target of the call. */
function targetAttributes (origin: string, path: string): Record<string, string | number> {
  const { address, port } = originParts(origin)
  return {
    [ATTR_SERVER_ADDRESS]: address,
    [ATTR_SERVER_PORT]: port,
    // Without the query string, which may carry what is not the trace's business.
    [ATTR_URL_FULL]: origin + pathOnly(path)
  }
}

function traceparentOf (span: Span): string {
  const context = span.spanContext()
  return '00-' + context.traceId + '-' + context.spanId + ((context.traceFlags & 1) === 1 ? '-01' : '-00')
}

class RecordedRequest implements RecordedTrace {
  readonly #tracer: Tracer
  readonly #server: Span
  #client: Span | undefined
  #ended = false

  constructor (tracer: Tracer, server: Span) {
    this.#tracer = tracer
    this.#server = server
  }

  storeWait (event: string, startedAt: number): void {
    this.#server.addEvent(event, { 'gerbang.wait_ms': Math.round((performance.now() - startedAt) * 1000) / 1000 }, startedAt)
  }

  upstream (method: string, origin: string, path: string): string {
    const client = this.#tracer.startSpan(method, {
      kind: SpanKind.CLIENT,
      attributes: { [ATTR_HTTP_REQUEST_METHOD]: method, ...targetAttributes(origin, path) }
    }, trace.setSpan(ROOT_CONTEXT, this.#server))
    if (!client.isRecording()) return traceparentOf(this.#server)
    this.#client = client
    return traceparentOf(client)
  }

  attemptFailed (event: 'gerbang.upstream.failover' | 'gerbang.upstream.retry', origin: string, errorType: string): void {
    this.#client?.addEvent(event, { 'gerbang.upstream.failed': origin, [ATTR_ERROR_TYPE]: errorType })
  }

  retarget (origin: string, path: string): void {
    this.#client?.setAttributes(targetAttributes(origin, path))
  }

  end (request: FastifyRequest, statusCode: number, error: Error | null | undefined): void {
    if (this.#ended) return
    this.#ended = true
    const { upstreamStatus, upstreamError, clientClosed } = request
    const client = this.#client
    if (client !== undefined) {
      if (upstreamStatus > 0) client.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, upstreamStatus)
      // CLIENT spans: every status from 400 up is an error (HTTP semantic conventions).
      const failure = upstreamError ?? (upstreamStatus >= 400 ? String(upstreamStatus) : upstreamStatus === 0 && !clientClosed ? '_OTHER' : undefined)
      if (failure !== undefined) {
        client.setAttribute(ATTR_ERROR_TYPE, failure)
        client.setStatus({ code: SpanStatusCode.ERROR })
      } else if (clientClosed && upstreamStatus === 0) {
        client.setAttribute(ATTR_ERROR_TYPE, 'client_closed')
      }
      client.end()
    }
    const server = this.#server
    if (request.clientId !== null) server.setAttribute('gerbang.client_id', request.clientId)
    if (clientClosed && error == null) {
      // The client left before its answer was complete: not the gateway's failure.
      server.setAttribute(ATTR_ERROR_TYPE, 'client_closed')
    } else {
      server.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, statusCode)
      // SERVER spans: 5xx are errors; so is an answer cut off after its headers.
      if (error != null || statusCode >= 500) {
        server.setAttribute(ATTR_ERROR_TYPE, error != null ? upstreamError ?? error.name : String(statusCode))
        server.setStatus({ code: SpanStatusCode.ERROR })
      }
    }
    server.end()
  }
}

class OtelTracing extends TraceContextOnly {
  readonly #provider: BasicTracerProvider
  readonly #tracer: Tracer

  constructor (sampler: SamplerSettings, provider: BasicTracerProvider) {
    super(sampler)
    this.#provider = provider
    this.#tracer = provider.getTracer('gerbang')
  }

  protected override record (
    request: FastifyRequest, route: string, traceId: string, parentId: string | undefined
  ): boolean {
    const raw = request.raw
    let parent: Context = ROOT_CONTEXT
    if (parentId !== undefined) {
      parent = trace.setSpanContext(ROOT_CONTEXT,
        { traceId, spanId: parentId, traceFlags: TraceFlags.SAMPLED, isRemote: true })
    } else {
      nextTraceId = traceId
    }
    const method = raw.method as string
    const span = this.#tracer.startSpan(method + ' ' + route, SERVER, parent)
    nextTraceId = undefined
    span.setAttributes({
      [ATTR_HTTP_REQUEST_METHOD]: method,
      [ATTR_URL_PATH]: pathOnly(raw.url ?? '/'),
      [ATTR_URL_SCHEME]: request.protocol,
      [ATTR_HTTP_ROUTE]: route,
      [ATTR_SERVER_ADDRESS]: request.hostname,
      [ATTR_CLIENT_ADDRESS]: request.ip,
      'gerbang.integration': request.integration ?? ''
    })
    const port = request.port
    if (port !== null) span.setAttribute(ATTR_SERVER_PORT, port)
    const userAgent = raw.headers['user-agent']
    if (userAgent !== undefined) span.setAttribute(ATTR_USER_AGENT_ORIGINAL, userAgent)
    request.traceparent = traceparentOf(span)
    request.traceSpan = new RecordedRequest(this.#tracer, span)
    return true
  }

  override async shutdown (): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      this.#provider.shutdown(),
      new Promise<void>((resolve) => { timer = setTimeout(resolve, SHUTDOWN_TIMEOUT_MS).unref() })
    ]).finally(() => { clearTimeout(timer) })
  }
}

/** Tracing with OTLP/HTTP export through the OpenTelemetry SDK. */
export function otelTracing (sampler: SamplerSettings, settings: NonNullable<TracingSettings['export']>, logger: FastifyBaseLogger | undefined): Tracing {
  diag.setLogger(new DiagToLogger(logger), { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true })
  const exporter = settings.protocol === 'http/json'
    ? new JsonTraceExporter({ url: settings.url })
    : new ProtobufTraceExporter({ url: settings.url })
  // OTEL_SERVICE_NAME over OTEL_RESOURCE_ATTRIBUTES over the default, gerbang.
  let resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'gerbang' }))
    .merge(detectResources({ detectors: [envDetector] }))
  if (settings.serviceName !== undefined) {
    resource = resource.merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName }))
  }
  const provider = new BasicTracerProvider({
    resource,
    // Only sampled requests reach the SDK (see above).
    sampler: new AlwaysOnSampler(),
    idGenerator: ids,
    spanProcessors: [new BatchSpanProcessor(exporter)]
  })
  return new OtelTracing(sampler, provider)
}
