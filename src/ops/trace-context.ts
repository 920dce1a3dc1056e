import { randomFillSync } from 'node:crypto'
import type { FastifyRequest } from 'fastify'

// W3C Trace Context (https://www.w3.org/TR/trace-context/) on every proxied
// request, and OpenTelemetry export when the standard OTEL_* environment asks
// for it (docs/contract.md section 11).
//
// This module is the part every request pays for, exporter or not: ids, the
// traceparent parsed by hand and written back, the sampling decision. The
// OpenTelemetry SDK lives in ./otel.ts, which extends TraceContextOnly and is
// imported by ./tracing.ts only when an exporter is configured.

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The traceparent sent upstream (it carries the trace id the access line logs); '' when the request is not traced.
     */
    traceparent: string
    /** The request's spans when they are recorded for export (a sampled request, an exporter configured); else null. */
    traceSpan: RecordedTrace | null
  }
}

/** The spans of one recorded request: a SERVER span, and a CLIENT span for its upstream call. */
export interface RecordedTrace {
  /**
   * A wait on the store that began at `startedAt` (performance.now()) and has just ended: an event on the server span.
   */
  storeWait: (event: string, startedAt: number) => void
  /**
   * Starts the CLIENT span of the upstream call; returns the traceparent to send upstream (the client span as parent).
   */
  upstream: (method: string, origin: string, path: string) => string
  /**
   * An attempt of the upstream call failed and the call goes on (failover to another target, or a retry after a
   * backoff): an event on the CLIENT span naming the target that failed and why.
   */
  attemptFailed: (event: 'gerbang.upstream.failover' | 'gerbang.upstream.retry', origin: string, errorType: string) => void
  /** The call goes on to `origin` (failover, or a retry's new pick): the CLIENT span names the target now used. */
  retarget: (origin: string, path: string) => void
  /** Ends both spans from what the request's facts say (status, upstream status and error); once. */
  end: (request: FastifyRequest, statusCode: number, error: Error | null | undefined) => void
}

export interface Tracing {
  /**
   * Continues the client's trace or starts one, for a request routed to the
   * integration at `route` (its prefix): sets request.traceparent, and
   * request.traceSpan when the request is recorded.
   */
  start: (request: FastifyRequest, route: string) => void
  /** Exports what is left (bounded in time); the app calls it on close. */
  shutdown: () => Promise<void>
}

/** OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, as the OpenTelemetry SDK reads them. */
export interface SamplerSettings {
  /** parentbased_*: a valid parent's sampled flag decides. */
  parentBased: boolean
  /** Share of new traces (or of all, without parentBased) sampled: 1 always_on, 0 always_off, else traceidratio. */
  ratio: number
}

export interface TracingSettings {
  sampler: SamplerSettings
  /** Where spans go (OTLP/HTTP), or undefined: trace context only, nothing exported. */
  export: { url: string, protocol: 'http/protobuf' | 'http/json', /** OTEL_SERVICE_NAME; unset: OTEL_RESOURCE_ATTRIBUTES' or gerbang */ serviceName: string | undefined } | undefined
}

// ---------------------------------------------------------------------------
// Ids

// Random hex from a pool filled 16 KiB at a time: an id is a slice of one
// string (no Buffer, no crypto call per request), 341 requests per refill.
const POOL_BYTES = 16384
const poolBuffer = Buffer.allocUnsafe(POOL_BYTES)
let pool = ''
let poolOffset = 0

function hex (length: number): string {
  if (poolOffset + length > pool.length) {
    pool = randomFillSync(poolBuffer).toString('hex')
    poolOffset = 0
  }
  const id = pool.slice(poolOffset, poolOffset + length)
  poolOffset += length
  return id
}

// All zeros is the one invalid value: 2^-64 (span) and 2^-128 (trace) per id, still checked.
const ZERO_TRACE_ID = '0'.repeat(32)
const ZERO_SPAN_ID = '0'.repeat(16)

/** 32 random lowercase hex digits, never all zeros. */
export function newTraceId (): string {
  const id = hex(32)
  // The first digit is 0 once in 16: only then is the whole id compared.
  return id.charCodeAt(0) === 48 && id === ZERO_TRACE_ID ? newTraceId() : id
}

/** 16 random lowercase hex digits, never all zeros. */
export function newSpanId (): string {
  const id = hex(16)
  return id.charCodeAt(0) === 48 && id === ZERO_SPAN_ID ? newSpanId() : id
}

// ---------------------------------------------------------------------------
// traceparent: version "-" trace-id "-" parent-id "-" trace-flags

/**
 * 0–15 for a lowercase hex digit's character code, -1 for any other below 128 (upper case is invalid in traceparent).
 */
const HEX_VALUE = new Int8Array(128).fill(-1)
for (let i = 0; i < 16; i++) HEX_VALUE['0123456789abcdef'.charCodeAt(i)] = i

function hexValue (code: number): number {
  return code < 128 ? HEX_VALUE[code] as number : -1
}

/** Whether [from, to) of `value` is lowercase hex and not all zeros. */
function nonZeroHex (value: string, from: number, to: number): boolean {
  let nonZero = false
  for (let i = from; i < to; i++) {
    const code = value.charCodeAt(i)
    if (hexValue(code) === -1) return false
    if (code !== 48) nonZero = true
  }
  return nonZero
}

/**
 * Whether a traceparent header can be continued: version 00 exactly as
 * specified, or a later version read as far as version 00 goes (its first
 * four fields, then `-` or the end). Hand-written: a regular expression per
 * request costs more.
 */
export function validTraceparent (value: string): boolean {
  const length = value.length
  if (length < 55) return false
  const v0 = value.charCodeAt(0)
  const v1 = value.charCodeAt(1)
  if (hexValue(v0) === -1 || hexValue(v1) === -1) return false
  if (v0 === 48 && v1 === 48) {
    if (length !== 55) return false
  } else if ((v0 === 102 && v1 === 102) || (length > 55 && value.charCodeAt(55) !== 45)) {
    return false // ff is never valid; a later version separates what it adds with '-'
  }
  return value.charCodeAt(2) === 45 && value.charCodeAt(35) === 45 && value.charCodeAt(52) === 45 &&
    nonZeroHex(value, 3, 35) && nonZeroHex(value, 36, 52) &&
    hexValue(value.charCodeAt(53)) !== -1 && hexValue(value.charCodeAt(54)) !== -1
}

/** The sampled bit of a valid traceparent's flags. */
export function sampledFlag (value: string): boolean {
  return (hexValue(value.charCodeAt(54)) & 1) === 1
}

/**
 * Whether a new trace, or one whose parent does not decide, is sampled: by
 * its id, as traceidratio does, so that every gateway decides the same for
 * one trace. The id's last 13 hex digits (52 random bits, exact in a double)
 * as a number in [0, 1) against the ratio.
 */
export function sampledByRatio (ratio: number, traceId: string): boolean {
  if (ratio >= 1) return true
  if (ratio <= 0) return false
  return Number.parseInt(traceId.slice(19), 16) / 0x10000000000000 < ratio
}

// ---------------------------------------------------------------------------
// Trace context, and the sampling decision

/**
 * Trace context alone: no exporter. With one, ./otel.ts extends it and
 * records the sampled requests; the decision is made here either way, so an
 * unsampled request costs the same with or without an exporter (the SDK is
 * not called for it at all).
 */
export class TraceContextOnly implements Tracing {
  readonly #parentBased: boolean
  readonly #ratio: number

  constructor (sampler: SamplerSettings) {
    this.#parentBased = sampler.parentBased
    this.#ratio = sampler.ratio
  }

  start (request: FastifyRequest, route: string): void {
    const incoming = request.raw.headers.traceparent
    let traceId: string
    let parentId: string | undefined
    let sampled: boolean
    if (typeof incoming === 'string' && validTraceparent(incoming)) {
      traceId = incoming.slice(3, 35)
      parentId = incoming.slice(36, 52)
      sampled = this.#parentBased ? sampledFlag(incoming) : sampledByRatio(this.#ratio, traceId)
      if (sampled && this.record(request, route, traceId, parentId)) return
      if (this.#parentBased && incoming.charCodeAt(0) === 48 && incoming.charCodeAt(1) === 48) {
        // The common case: the client's header with the gateway's span id in place of its parent's, flags as received.
        request.traceparent = incoming.slice(0, 36) + newSpanId() + incoming.slice(52)
        return
      }
      // Of a later version's flags, only the sampled bit is known here.
    } else {
      traceId = newTraceId()
      sampled = sampledByRatio(this.#ratio, traceId)
      if (sampled && this.record(request, route, traceId, undefined)) return
    }
    request.traceparent = '00-' + traceId + '-' + newSpanId() + (sampled ? '-01' : '-00')
  }

  /**
   * Records a sampled request (sets request.traceparent and request.traceSpan)
   * and answers true; false when nothing is recorded, as here.
   */
  protected record (
    _request: FastifyRequest, _route: string, _traceId: string, _parentId: string | undefined
  ): boolean {
    return false
  }

  async shutdown (): Promise<void> {}
}

export const DEFAULT_SAMPLER: SamplerSettings = { parentBased: true, ratio: 1 }

/** Trace context on every proxied request, nothing exported. */
export function traceContextOnly (sampler: SamplerSettings = DEFAULT_SAMPLER): Tracing {
  return new TraceContextOnly(sampler)
}
