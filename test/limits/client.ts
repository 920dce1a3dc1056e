// What the rate-limit tests share: a routes file on disk, an HTTP client that
// records when each request left and its answer came back, a bounded-
// concurrency runner, and the assertions every 2xx and 429 must pass.
import assert from 'node:assert/strict'
import { Agent, request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { RedisStore } from '../../src/store/redis-store.js'
import { parseRateLimit, parseRateLimitPolicy, type QuotaPolicy, type RateLimitEntry } from './headers.js'
import type { Problem } from '../helpers/problem.js'
import { waitUntil } from '../helpers/time.js'

/** Shared by the gateway processes and the ClientService that makes keys for them. */
export const PEPPER = 'limits-test-pepper-0123456789abcdef'

/** Writes routes.yaml text to a file of its own, removed when the test ends. */
export async function writeRoutes (t: TestContext, yaml: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gerbang-limits-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const file = join(dir, 'routes.yaml')
  await writeFile(file, yaml)
  return file
}

export interface Answer {
  /** Which request this was, in the order the test issued them. */
  index: number
  /** The gateway it went to. */
  base: string
  status: number
  headers: IncomingHttpHeaders
  body: string
  /** Epoch ms just before the request was written, and when the whole answer had arrived. */
  sentAt: number
  receivedAt: number
}

export interface RequestOptions {
  headers?: Record<string, string>
  /** Source address for the connection, e.g. 127.0.0.2 (any 127/8 address works on Linux). */
  localAddress?: string
  index?: number
}

/** A keep-alive HTTP client, destroyed when the test ends. */
export function httpClient (
  t: TestContext, maxSockets = 64
): (base: string, path: string, options?: RequestOptions) => Promise<Answer> {
  const agent = new Agent({ keepAlive: true, maxSockets })
  t.after(() => { agent.destroy() })
  return async (base, path, options = {}) => {
    const { hostname, port } = new URL(base)
    const sentAt = Date.now()
    const req = request({
      host: hostname,
      port,
      path,
      method: 'GET',
      headers: options.headers ?? {},
      agent,
      ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {})
    })
    req.end()
    const [res] = await once(req, 'response') as [IncomingMessage]
    let body = ''
    res.setEncoding('utf8')
    for await (const chunk of res) body += chunk as string
    return {
      index: options.index ?? 0,
      base,
      status: res.statusCode ?? 0,
      headers: res.headers,
      body,
      sentAt,
      receivedAt: Date.now()
    }
  }
}

/** Runs task(0) … task(count - 1) with at most `concurrency` at a time; answers in index order. */
export async function pool<T> (count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(count)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++
      out[i] = await task(i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  return out
}

/** Waits until GET /readyz answers 200 (the store is connected), as a load balancer would before sending traffic. */
export async function waitReady (base: string, timeoutMs = 10_000): Promise<void> {
  let last = ''
  await waitUntil(`${base}/readyz to answer 200`, async () => {
    try {
      const res = await fetch(`${base}/readyz`)
      last = `${res.status} ${await res.text()}`
      return res.status === 200
    } catch (err) {
      last = (err as Error).message
      return false
    }
  }, { timeoutMs, intervalMs: 50, detail: () => `last: ${last}` })
}

/**
 * A RedisStore on `url` with the gateways' default key prefix, once connected
 * (commands fail at once, never queue, while it is not); closed when the test ends.
 */
export async function openStore (t: TestContext, url: string, timeoutMs = 10_000): Promise<RedisStore> {
  const store = new RedisStore({ url })
  t.after(async () => { await store.close() })
  await waitUntil(`the test's own connection to ${url}`, () => store.isAvailable(), timeoutMs)
  return store
}

function one (headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name]
  return Array.isArray(value) ? value.join(', ') : value
}

/** The rate-limit fields of an answer, parsed; fails the test when any is missing or malformed. */
export interface LimitFields {
  policies: Map<string, QuotaPolicy>
  limits: Map<string, RateLimitEntry>
  xLimit: number
  xRemaining: number
  xReset: number
}

function integerField (headers: IncomingHttpHeaders, name: string, what: string): number {
  const text = one(headers, name)
  assert.ok(text !== undefined, `${what}: no ${name} header`)
  assert.match(text, /^[0-9]+$/, `${what}: ${name} must be a non-negative integer, got ${JSON.stringify(text)}`)
  return Number(text)
}

export function limitFields (answer: Answer, what = `request #${answer.index} (${answer.status})`): LimitFields {
  const policyText = one(answer.headers, 'ratelimit-policy')
  const limitText = one(answer.headers, 'ratelimit')
  assert.ok(policyText !== undefined, `${what}: no RateLimit-Policy header`)
  assert.ok(limitText !== undefined, `${what}: no RateLimit header`)
  const policies = parseRateLimitPolicy(policyText)
  const limits = parseRateLimit(limitText)
  assert.deepEqual([...limits.keys()].sort(), [...policies.keys()].sort(),
    `${what}: RateLimit (${limitText}) and RateLimit-Policy (${policyText}) must name the same policies`)
  return {
    policies,
    limits,
    xLimit: integerField(answer.headers, 'x-ratelimit-limit', what),
    xRemaining: integerField(answer.headers, 'x-ratelimit-remaining', what),
    xReset: integerField(answer.headers, 'x-ratelimit-reset', what)
  }
}

/** Asserts the policies listed are exactly these, with these q and w. */
export function assertPolicies (
  fields: LimitFields, expected: Record<string, { q: number, w: number }>, what: string
): void {
  const actual: Record<string, { q: number, w: number | undefined }> = {}
  for (const [name, p] of fields.policies) actual[name] = { q: p.q, w: p.w }
  assert.deepEqual(actual, expected, `${what}: RateLimit-Policy`)
}

/** The X-RateLimit-* trio must describe one of the listed policies, with that policy's numbers. */
export function assertXTrioMatches (fields: LimitFields, what: string): string {
  for (const [name, p] of fields.policies) {
    const entry = fields.limits.get(name) as RateLimitEntry
    if (p.q === fields.xLimit && entry.r === fields.xRemaining && entry.t === fields.xReset) return name
  }
  assert.fail(`${what}: X-RateLimit-Limit/Remaining/Reset ${fields.xLimit}/${fields.xRemaining}/${fields.xReset} ` +
    `match no policy of RateLimit-Policy and RateLimit: ${JSON.stringify([...fields.limits].map(([n, e]) => [n, fields.policies.get(n)?.q, e.r, e.t]))}`)
}

export type { Problem }

/** A 429 as docs/contract.md section 6 has it; answers the problem document. */
export function assertRateLimited (answer: Answer, violated: string[], what = `request #${answer.index}`): Problem {
  assert.equal(answer.status, 429, `${what}: status (body ${answer.body})`)
  assert.match(one(answer.headers, 'content-type') ?? '', /^application\/problem\+json/, `${what}: content-type`)
  const body = JSON.parse(answer.body) as Problem
  assert.equal(body.code, 'RATE_LIMITED', `${what}: code`)
  assert.equal(body.status, 429, `${what}: status member`)
  assert.equal(body.type, 'about:blank', `${what}: type`)
  assert.equal(body.requestId, one(answer.headers, 'x-request-id'), `${what}: requestId equals x-request-id`)
  assert.match(body.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, `${what}: timestamp`)
  assert.deepEqual(body.violatedPolicies, violated, `${what}: violatedPolicies`)
  return body
}

/** Retry-After as integer seconds (the delay-seconds form of RFC 9110 10.2.3). */
export function retryAfter (answer: Answer, what = `request #${answer.index}`): number {
  const text = one(answer.headers, 'retry-after')
  assert.ok(text !== undefined, `${what}: a 429 must carry Retry-After`)
  assert.match(text, /^[0-9]+$/, `${what}: Retry-After must be integer seconds, got ${JSON.stringify(text)}`)
  return Number(text)
}

/** Counts answers by status: { 200: 100, 429: 400 }. */
export function statusCounts (answers: readonly Answer[]): Record<number, number> {
  const counts: Record<number, number> = {}
  for (const a of answers) counts[a.status] = (counts[a.status] ?? 0) + 1
  return counts
}

/** Lists the first few answers with an unexpected status, for a readable failure. */
export function describeUnexpected (answers: readonly Answer[], allowed: readonly number[]): string {
  return answers.filter((a) => !allowed.includes(a.status)).slice(0, 5)
    .map((a) => `#${a.index} ${a.base} ${a.status} ${a.body.slice(0, 300)}`).join('\n')
}
