// What the CORS tests (test/proxy/cors-*.test.ts) share: an upstream with CORS
// headers of its own for the gateway to replace, a gateway with a cors
// integration, preflight requests, and the checks that an answer carries the
// gateway's CORS headers (docs/contract.md section 8) or none.
import { type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway, type TestGateway } from '../helpers/gateway.js'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { type Answer } from './client.js'

export const DASHBOARD = 'https://dashboard.bantenprov.go.id'
export const EVIL = 'https://evil.example'
const EXPOSED = ['x-request-id', 'RateLimit', 'RateLimit-Policy', 'Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset']

/**
 * The upstream: answers JSON with CORS headers of its own (which the gateway
 * must replace) and a Vary of its own; /status/NNN answers that status.
 */
export async function upstream (t: TestContext): Promise<Origin> {
  const origin = await startOrigin((req, res) => {
    req.resume()
    req.on('end', () => {
      const status = /\/status\/(\d{3})/.exec(req.url ?? '')?.[1]
      res.writeHead(status === undefined ? 200 : Number(status), {
        'content-type': 'application/json',
        'access-control-allow-origin': '*',
        'access-control-allow-credentials': 'true',
        'access-control-expose-headers': 'x-upstream-secret',
        'access-control-allow-methods': 'DELETE',
        vary: 'Accept-Encoding'
      })
      res.end(JSON.stringify({ kamar: 12, url: req.url }))
    })
  })
  t.after(async () => { await origin.close() })
  return origin
}

export function lines (answer: Answer, name: string): string[] {
  const values: string[] = []
  for (let i = 0; i < answer.rawHeaders.length; i += 2) {
    if ((answer.rawHeaders[i] as string).toLowerCase() === name) values.push(answer.rawHeaders[i + 1] as string)
  }
  return values
}

export function list (value: string | string[] | undefined): string[] {
  return String(value ?? '').split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '')
}

/** What every answer to an allowed origin carries (docs/contract.md section 8). */
export function assertCors (answer: Answer, origin: string, what: string): void {
  assert.deepEqual(lines(answer, 'access-control-allow-origin'), [origin], `${what}: one Access-Control-Allow-Origin, the gateway's`)
  assert.ok(list(answer.headers.vary).includes('origin'), `${what}: Vary: Origin (got ${String(answer.headers.vary)})`)
  const exposed = list(answer.headers['access-control-expose-headers'])
  for (const name of EXPOSED) assert.ok(exposed.includes(name.toLowerCase()), `${what}: ${name} exposed (got ${exposed.join(', ')})`)
  assert.ok(!exposed.includes('x-upstream-secret'), `${what}: the upstream's expose list is replaced`)
  assert.equal(answer.headers['access-control-allow-methods'], undefined, `${what}: no upstream Access-Control-Allow-Methods`)
}

export function assertNoCors (answer: Answer, what: string): void {
  const names = answer.rawHeaders.filter((_v, i) => i % 2 === 0).map((n) => n.toLowerCase())
  assert.deepEqual(names.filter((n) => n.startsWith('access-control-')), [], `${what}: no Access-Control-* header`)
}

export function preflight (origin: string, method: string, requestHeaders = 'x-api-key'): { method: string, headers: Record<string, string> } {
  return {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': requestHeaders }
  }
}

/** yankes: apiKey, GET only, cors for the dashboard and *.bantenprov.go.id. */
export async function gateway (t: TestContext, origin: Origin, cors = `{ origins: ["${DASHBOARD}", "https://*.bantenprov.go.id"], headers: [x-custom] }`,
  extra: string[] = []): Promise<{ gw: TestGateway, key: string }> {
  const gw = await startGateway(t, [
    'integrations:',
    '  yankes:',
    `    upstream: ${origin.url}`,
    '    methods: [GET]',
    `    cors: ${cors}`,
    ...extra.map((l) => `    ${l}`),
    ''
  ].join('\n'))
  const { key } = await gw.app.clients.create({ name: 'Dashboard Dinkes', integrations: '*' })
  return { gw, key }
}
