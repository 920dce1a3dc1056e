import assert from 'node:assert/strict'
import type { IncomingHttpHeaders } from 'node:http'

/** A problem document as docs/contract.md section 6 has it, with the extension members tests look at. */
export interface Problem {
  type: string
  title: string
  status: number
  code: string
  detail: string
  instance: string
  requestId: string
  timestamp: string
  upstreamStatus?: number
  violatedPolicies?: unknown
  /** The integration plugin that failed (UPSTREAM_AUTH_FAILED and plugin timeouts). */
  plugin?: string
}

/**
 * An answer as the tests hold one: from fetch (Headers) or from the raw
 * clients (Node's header object), with its body as text or bytes.
 */
export interface ProblemAnswer {
  status: number
  headers: Headers | IncomingHttpHeaders
  body: string | Buffer
}

const ISO_UTC_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

function header (headers: Headers | IncomingHttpHeaders, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined
  const value = headers[name]
  return Array.isArray(value) ? value.join(', ') : value
}

/**
 * Asserts docs/contract.md section 6: an application/problem+json answer with
 * `status` and `code` and every promised member (type about:blank, a title,
 * a detail, the instance — equal to `instance` when given —, requestId equal
 * to the X-Request-Id header, a timestamp of now), and no stack trace.
 * Returns the parsed document.
 */
export function assertProblem (
  answer: ProblemAnswer, status: number, code: string, instance?: string
): Problem & Record<string, unknown> {
  const text = typeof answer.body === 'string' ? answer.body : answer.body.toString('utf8')
  assert.equal(answer.status, status, `expected ${status} ${code}, got ${answer.status}: ${text}`)
  const type = header(answer.headers, 'content-type') ?? ''
  assert.match(type, /^application\/problem\+json(;|$)/, `content-type is ${type}: ${text}`)
  const body = JSON.parse(text) as Problem & Record<string, unknown>
  assert.equal(body.type, 'about:blank')
  assert.equal(typeof body.title, 'string')
  assert.ok(body.title.length > 0, 'a title')
  assert.equal(body.status, status)
  assert.equal(body.code, code)
  assert.equal(typeof body.detail, 'string')
  assert.ok(body.detail.length > 0, 'a detail')
  assert.equal(typeof body.instance, 'string')
  if (instance !== undefined) assert.equal(body.instance, instance)
  assert.equal(typeof body.requestId, 'string')
  assert.ok(body.requestId.length > 0, 'a requestId')
  assert.equal(body.requestId, header(answer.headers, 'x-request-id'))
  assert.match(String(body.timestamp), ISO_UTC_MS)
  const age = Date.now() - Date.parse(body.timestamp)
  assert.ok(age >= -1000 && age < 60_000, `timestamp ${String(body.timestamp)} is not now`)
  assert.doesNotMatch(text, /at .*\.js:\d+/, 'no stack trace in the body')
  return body
}
