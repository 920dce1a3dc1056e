// Path traversal: no request target, however it is encoded, may reach the
// upstream outside the integration's base path. Requests go on the wire
// verbatim from a raw socket (fetch and URL would normalise `..` away), and
// the assertions are on what the origin actually received.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { oneIntegration, startGateway, type TestGateway } from '../helpers/gateway.js'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { assertProblem, sendRaw } from './client.js'

const ATTACKS = [
  '/yankes/../admin',
  '/yankes/%2e%2e/admin',
  '/yankes/%2E%2E/x',
  '/yankes/.%2e/x',
  '/yankes/%2e./x',
  '/yankes/%252e%252e/x',
  '/yankes/%25252e%25252e/x',
  '/yankes/%2525252e%2525252e/x',
  '/yankes/..%2fx',
  '/yankes/..%2Fadmin',
  '/yankes/%2f..%2fx',
  '/yankes/%2e%2e%2fadmin',
  '/yankes/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '/yankes/..%252f..%252fx',
  '/yankes/a/%2e%2e/%2e%2e/x',
  '/yankes/a/../../x',
  '/yankes/x/..',
  '/yankes/x/%2e%2e',
  '/yankes/..',
  '/yankes/..?rs=1',
  '/yankes/%2e%2e?rs=1',
  '/yankes//x',
  '/yankes//../x',
  '/yankes/..\\x',
  '/yankes/..%5cx',
  '/yankes/%5c..%5cx',
  '/yankes/%2e%2e%5cx',
  '/yankes/./x',
  '/yankes/%2e/x',
  '/yankes/.',
  '/yankes/%00',
  '/yankes/x%00.json',
  '/yankes/..%00/x',
  '/yankes/..%09/x',
  '/yankes/%c0%ae%c0%ae/x',
  '/yankes/%u002e%u002e/x',
  '/yankes/..;/x',
  '/yankes/%2e%2e;/x',
  '/yankes/x/..;jsessionid=1/admin',
  '/../yankes/x',
  '/./yankes/x',
  '/%79ankes/../x'
]

/** Targets that still reach the origin, exactly as sent after the prefix. */
const CONTROLS: Array<[string, string]> = [
  ['/yankes/file.json', '/base/api/file.json'],
  ['/yankes/a.b/c', '/base/api/a.b/c'],
  ['/yankes/%41', '/base/api/%41'],
  ['/yankes/a..b', '/base/api/a..b'],
  ['/yankes/.well-known/x', '/base/api/.well-known/x'],
  ['/yankes/nama%20lengkap', '/base/api/nama%20lengkap'],
  ['/yankes/%E2%9C%93', '/base/api/%E2%9C%93'],
  ['/yankes/x?path=../../etc/passwd', '/base/api/x?path=../../etc/passwd']
]

/** Percent-decodes every %XX as one byte, never failing; an overlong UTF-8 `.` counts as a dot. */
function decodeOnce (text: string): string {
  return text
    .replace(/%([0-9a-fA-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)))
    .replace(/\u00c0\u00ae/g, '.')
}

/**
 * Whether a path has a `..` segment as it is or after any number of
 * percent-decoding rounds, with `/` or `\` as separators and `;params`
 * ignored (Tomcat and Jetty read `..;x` as `..`).
 */
function hasDotDotSegment (path: string): boolean {
  let current = path
  for (let round = 0; round < 10; round++) {
    if (current.split(/[/\\]/).some((segment) => segment.split(';')[0] === '..')) return true
    const next = decodeOnce(current)
    if (next === current) return false
    current = next
  }
  return true
}

/** An origin answering "ok", behind yankes with upstream base path /base and rewritePrefix /api. */
async function setup (t: TestContext): Promise<{ origin: Origin, gw: TestGateway, host: string }> {
  const origin = await startOrigin((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 })
    res.end('ok')
  })
  t.after(async () => { await origin.close() })
  const gw = await startGateway(t, oneIntegration('yankes', `${origin.url}/base`, { rewritePrefix: '/api' }))
  return { origin, gw, host: new URL(gw.url).host }
}

function rawGet (target: string, host: string, requestId: string): string {
  return `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n`
}

test('no encoding of a traversal reaches the upstream outside its base path', async (t) => {
  const { origin, gw, host } = await setup(t)

  const failures: string[] = []
  for (const [i, target] of ATTACKS.entries()) {
    const id = `trav-${i}`
    const res = await sendRaw(gw.url, rawGet(target, host, id))
    const stillOurs = target === '/yankes' || target.startsWith('/yankes/') || target.startsWith('/yankes?')
    const [status, code] = stillOurs ? [400, 'BAD_REQUEST'] : [404, 'ROUTE_NOT_FOUND']
    try {
      assertProblem(res, status, code)
    } catch (err) {
      failures.push(`${target}: ${(err as Error).message.split('\n')[0] ?? ''}`)
    }
    const reached = origin.seen.find((s) => s.headers['x-request-id'] === id)
    if (reached !== undefined) failures.push(`${target}: reached the origin as ${reached.url}`)
  }

  // Whatever got through, the origin never saw a path outside /base/api/.
  for (const seen of origin.seen) {
    const path = seen.url.split('?')[0] ?? ''
    if (!path.startsWith('/base/api/')) failures.push(`the origin received ${seen.url}: outside /base/api/`)
    if (hasDotDotSegment(path)) failures.push(`the origin received ${seen.url}: a .. segment once decoded`)
  }
  assert.deepEqual(failures, [])
})

test('a NUL byte or a space in the raw request line answers 400 problem+json', async (t) => {
  const { origin, gw, host } = await setup(t)
  for (const target of ['/yankes/\u0000/x', '/yankes/.. /x', '/yankes/%2e%2e/\u0000']) {
    const res = await sendRaw(gw.url, Buffer.from(rawGet(target, host, 'raw-1'), 'latin1'))
    assertProblem(res, 400, 'BAD_REQUEST')
  }
  assert.equal(origin.seen.length, 0)
})

test('ordinary paths with dots and escapes still reach the origin as sent', async (t) => {
  const { origin, gw, host } = await setup(t)
  for (const [i, [target, upstream]] of CONTROLS.entries()) {
    const res = await sendRaw(gw.url, rawGet(target, host, `ok-${i}`))
    assert.equal(res.status, 200, `${target}: ${res.body.toString()}`)
    assert.equal(res.body.toString(), 'ok')
    const seen = origin.seen.find((s) => s.headers['x-request-id'] === `ok-${i}`)
    assert.equal(seen?.url, upstream, target)
  }
  assert.equal(origin.seen.length, CONTROLS.length)
})
