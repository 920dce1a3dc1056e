// CORS per integration (docs/contract.md section 8, issue 13 item 1): preflights
// answered by the gateway itself, foreign origins refused with 403
// CORS_ORIGIN_FORBIDDEN before anything reaches the upstream, and every
// answer to an allowed origin, forwarded or the gateway's own, readable by
// the browser app. Integrations without `cors` are left exactly as they were.
import { describe, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { Type } from '@sinclair/typebox'
import { parseRoutes, formatProblem } from '../../src/config/routes-loader.js'
import { definePlugin } from '../../src/upstream-plugins/types.js'
import { routesFrom, startGateway, type TestGateway } from '../helpers/gateway.js'
import { login, startAdminGateway, USERS } from '../helpers/admin.js'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { assertProblem, closedPort, send, type Answer } from './client.js'

const DASHBOARD = 'https://dashboard.bantenprov.go.id'
const EVIL = 'https://evil.example'
const EXPOSED = ['x-request-id', 'RateLimit', 'RateLimit-Policy', 'Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset']
const GATEWAY_HEADERS = ['x-api-key', 'authorization', 'content-type', 'x-request-id']

/**
 * The upstream: answers JSON with CORS headers of its own (which the gateway
 * must replace) and a Vary of its own; /status/NNN answers that status.
 */
async function upstream (t: TestContext): Promise<Origin> {
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

function lines (answer: Answer, name: string): string[] {
  const values: string[] = []
  for (let i = 0; i < answer.rawHeaders.length; i += 2) {
    if ((answer.rawHeaders[i] as string).toLowerCase() === name) values.push(answer.rawHeaders[i + 1] as string)
  }
  return values
}

function list (value: string | string[] | undefined): string[] {
  return String(value ?? '').split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '')
}

/** What every answer to an allowed origin carries (docs/contract.md section 8). */
function assertCors (answer: Answer, origin: string, what: string): void {
  assert.deepEqual(lines(answer, 'access-control-allow-origin'), [origin], `${what}: one Access-Control-Allow-Origin, the gateway's`)
  assert.ok(list(answer.headers.vary).includes('origin'), `${what}: Vary: Origin (got ${String(answer.headers.vary)})`)
  const exposed = list(answer.headers['access-control-expose-headers'])
  for (const name of EXPOSED) assert.ok(exposed.includes(name.toLowerCase()), `${what}: ${name} exposed (got ${exposed.join(', ')})`)
  assert.ok(!exposed.includes('x-upstream-secret'), `${what}: the upstream's expose list is replaced`)
  assert.equal(answer.headers['access-control-allow-methods'], undefined, `${what}: no upstream Access-Control-Allow-Methods`)
}

function assertNoCors (answer: Answer, what: string): void {
  const names = answer.rawHeaders.filter((_v, i) => i % 2 === 0).map((n) => n.toLowerCase())
  assert.deepEqual(names.filter((n) => n.startsWith('access-control-')), [], `${what}: no Access-Control-* header`)
}

function preflight (origin: string, method: string, requestHeaders = 'x-api-key'): { method: string, headers: Record<string, string> } {
  return {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': requestHeaders }
  }
}

/** yankes: apiKey, GET only, cors for the dashboard and *.bantenprov.go.id. */
async function gateway (t: TestContext, origin: Origin, cors = `{ origins: ["${DASHBOARD}", "https://*.bantenprov.go.id"], headers: [x-custom] }`,
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

describe('preflight', () => {
  test('from an allowed origin: 204 from the gateway itself, without a key, never forwarded', async (t) => {
    const origin = await upstream(t)
    const { gw } = await gateway(t, origin)
    const answer = await send(gw.url, '/yankes/kamar?rs=1', preflight(DASHBOARD, 'GET', 'x-api-key, content-type, x-custom'))
    assert.equal(answer.status, 204, answer.body.toString())
    assert.equal(answer.body.length, 0)
    assert.deepEqual(lines(answer, 'access-control-allow-origin'), [DASHBOARD])
    assert.deepEqual(list(answer.headers['access-control-allow-methods']), ['get', 'head'])
    const allowed = list(answer.headers['access-control-allow-headers'])
    for (const name of [...GATEWAY_HEADERS, 'x-custom']) assert.ok(allowed.includes(name), `${name} in ${allowed.join(', ')}`)
    assert.equal(answer.headers['access-control-max-age'], '600', 'maxAge defaults to 10m')
    assert.ok(list(answer.headers.vary).includes('origin'))
    assert.equal(answer.headers['access-control-allow-credentials'], undefined)
    assert.equal(typeof answer.headers['x-request-id'], 'string')
    assert.equal(origin.seen.length, 0, 'a preflight never reaches the upstream')
  })

  test('subdomain patterns: one or more labels under the domain, never the domain itself or a look-alike', async (t) => {
    const origin = await upstream(t)
    const { gw } = await gateway(t, origin)
    for (const allowed of ['https://app.bantenprov.go.id', 'https://sirs.dinkes.bantenprov.go.id', 'https://x-1.bantenprov.go.id']) {
      const answer = await send(gw.url, '/yankes/kamar', preflight(allowed, 'GET'))
      assert.equal(answer.status, 204, `${allowed}: ${answer.body.toString()}`)
      assert.deepEqual(lines(answer, 'access-control-allow-origin'), [allowed])
    }
    for (const refused of ['https://bantenprov.go.id', 'http://app.bantenprov.go.id', 'https://evilbantenprov.go.id',
      'https://app.bantenprov.go.id.evil.example', 'https://app.bantenprov.go.id:8443', 'https://.bantenprov.go.id',
      'https://a..bantenprov.go.id', 'null', '']) {
      const answer = await send(gw.url, '/yankes/kamar', preflight(refused, 'GET'))
      assertProblem(answer, 403, 'CORS_ORIGIN_FORBIDDEN', '/yankes/kamar')
      assertNoCors(answer, refused)
    }
    assert.equal(origin.seen.length, 0)
  })

  test('from an origin not allowed: 403 CORS_ORIGIN_FORBIDDEN, no Access-Control-Allow-Origin', async (t) => {
    const origin = await upstream(t)
    const { gw } = await gateway(t, origin)
    const answer = await send(gw.url, '/yankes/kamar', preflight(EVIL, 'GET'))
    const body = assertProblem(answer, 403, 'CORS_ORIGIN_FORBIDDEN', '/yankes/kamar')
    assert.match(String(body.detail), /evil\.example/)
    assertNoCors(answer, 'forbidden preflight')
    assert.ok(list(answer.headers.vary).includes('origin'), 'the answer depends on Origin')
    assert.equal(origin.seen.length, 0)
  })

  test('a method the integration does not accept is left out of Allow-Methods, so the browser fails the call', async (t) => {
    const origin = await upstream(t)
    const { gw } = await gateway(t, origin)
    const answer = await send(gw.url, '/yankes/kamar', preflight(DASHBOARD, 'DELETE'))
    assert.equal(answer.status, 204)
    assert.ok(!list(answer.headers['access-control-allow-methods']).includes('delete'))
    assert.equal(origin.seen.length, 0)
  })

  test('credentials and maxAge; integrations without methods list every method they accept', async (t) => {
    const origin = await upstream(t)
    const gw = await startGateway(t, [
      'integrations:',
      '  yankes:',
      `    upstream: ${origin.url}`,
      `    cors: { origins: ["${DASHBOARD}"], credentials: true, maxAge: 2h }`,
      ''
    ].join('\n'))
    const answer = await send(gw.url, '/yankes/kamar', preflight(DASHBOARD, 'PATCH'))
    assert.equal(answer.status, 204)
    assert.equal(answer.headers['access-control-allow-credentials'], 'true')
    assert.equal(answer.headers['access-control-max-age'], '7200')
    assert.deepEqual(list(answer.headers['access-control-allow-methods']), ['get', 'head', 'post', 'put', 'patch', 'delete', 'options'])
    assert.equal(origin.seen.length, 0)
  })

  test('origins "*": Access-Control-Allow-Origin: * for any origin', async (t) => {
    const origin = await upstream(t)
    const { gw } = await gateway(t, origin, '{ origins: ["*"] }')
    for (const from of [EVIL, 'null', 'http://localhost:5173']) {
      const answer = await send(gw.url, '/yankes/kamar', preflight(from, 'GET'))
      assert.equal(answer.status, 204)
      assert.deepEqual(lines(answer, 'access-control-allow-origin'), ['*'])
    }
  })

  test('OPTIONS without Access-Control-Request-Method is a request like any other', async (t) => {
    const origin = await upstream(t)
    const { gw } = await gateway(t, origin, `{ origins: ["${DASHBOARD}"] }`, [])
    const answer = await send(gw.url, '/yankes/kamar', { method: 'OPTIONS', headers: { origin: DASHBOARD } })
    // yankes accepts GET only: the usual 405, readable by the app.
    assertProblem(answer, 405, 'METHOD_NOT_ALLOWED')
    assertCors(answer, DASHBOARD, '405')
  })
})

describe('actual requests', () => {
  test('from an allowed origin: the upstream\'s answer with the gateway\'s CORS headers, its own replaced', async (t) => {
    const origin = await upstream(t)
    const { gw, key } = await gateway(t, origin)
    const answer = await send(gw.url, '/yankes/kamar?rs=1', { headers: { origin: DASHBOARD, 'x-api-key': key } })
    assert.equal(answer.status, 200, answer.body.toString())
    assert.deepEqual(JSON.parse(answer.body.toString()), { kamar: 12, url: '/kamar?rs=1' })
    assertCors(answer, DASHBOARD, '200')
    assert.equal(answer.headers['access-control-allow-credentials'], undefined, 'the upstream\'s credentials: true is dropped')
    assert.deepEqual(list(answer.headers.vary).sort(), ['accept-encoding', 'origin'], 'the upstream\'s Vary is kept')
    assert.equal(origin.seen.length, 1)
  })

  test('the gateway\'s own errors carry them too: 401, 405, 429, 502', async (t) => {
    const origin = await upstream(t)
    const { gw, key } = await gateway(t, origin, undefined, ['rateLimit: 1/1m'])
    const headers = { origin: DASHBOARD, 'x-api-key': key }

    const missing = await send(gw.url, '/yankes/kamar', { headers: { origin: DASHBOARD } })
    assertProblem(missing, 401, 'CREDENTIALS_MISSING')
    assertCors(missing, DASHBOARD, '401')

    const wrongMethod = await send(gw.url, '/yankes/kamar', { method: 'DELETE', headers })
    assertProblem(wrongMethod, 405, 'METHOD_NOT_ALLOWED')
    assertCors(wrongMethod, DASHBOARD, '405')

    const upstreamFailed = await send(gw.url, '/yankes/status/500', { headers })
    assertProblem(upstreamFailed, 502, 'UPSTREAM_ERROR')
    assertCors(upstreamFailed, DASHBOARD, '502 from an upstream 500')

    const limited = await send(gw.url, '/yankes/kamar', { headers })
    assertProblem(limited, 429, 'RATE_LIMITED')
    assertCors(limited, DASHBOARD, '429')
    assert.match(String(limited.headers['retry-after']), /^\d+$/)
  })

  test('502 when the upstream is down, from a pattern origin', async (t) => {
    const port = await closedPort()
    const gw = await startGateway(t, [
      'defaults:',
      '  auth: none',
      '  retries: 0',
      'integrations:',
      '  yankes:',
      `    upstream: http://127.0.0.1:${port}`,
      '    cors: { origins: ["https://*.bantenprov.go.id"] }',
      ''
    ].join('\n'))
    const answer = await send(gw.url, '/yankes/kamar', { headers: { origin: 'https://sirs.bantenprov.go.id' } })
    assertProblem(answer, 502, 'UPSTREAM_UNAVAILABLE')
    assertCors(answer, 'https://sirs.bantenprov.go.id', '502')
  })

  test('answers given before routing carry them too: an undecodable path, shutting down', async (t) => {
    const origin = await upstream(t)
    const { gw } = await gateway(t, origin)
    const badUrl = await send(gw.url, '/yankes/%zz', { headers: { origin: DASHBOARD } })
    assertProblem(badUrl, 400, 'BAD_REQUEST')
    assertCors(badUrl, DASHBOARD, '400 bad URL')
    const foreign = await send(gw.url, '/yankes/%zz', { headers: { origin: EVIL } })
    assertProblem(foreign, 400, 'BAD_REQUEST')
    assertNoCors(foreign, '400 to a foreign origin')

    gw.app.routeTable.closing = true
    t.after(() => { gw.app.routeTable.closing = false })
    const closing = await send(gw.url, '/yankes/kamar', { headers: { origin: DASHBOARD } })
    assertProblem(closing, 503, 'SHUTTING_DOWN')
    assertCors(closing, DASHBOARD, '503 shutting down')
    gw.app.routeTable.closing = false
    assert.equal(origin.seen.length, 0)
  })

  test('from an origin not allowed: 403 CORS_ORIGIN_FORBIDDEN before the key is even looked at, nothing forwarded', async (t) => {
    const origin = await upstream(t)
    const { gw, key } = await gateway(t, origin)
    for (const method of ['GET', 'DELETE']) {
      const answer = await send(gw.url, '/yankes/kamar', { method, headers: { origin: EVIL, 'x-api-key': key } })
      assertProblem(answer, 403, 'CORS_ORIGIN_FORBIDDEN', '/yankes/kamar')
      assertNoCors(answer, `forbidden ${method}`)
    }
    assert.equal(origin.seen.length, 0)
  })

  test('without Origin (server to server): unaffected, the upstream\'s CORS headers dropped, Vary: Origin added', async (t) => {
    const origin = await upstream(t)
    const { gw, key } = await gateway(t, origin)
    const answer = await send(gw.url, '/yankes/kamar', { headers: { 'x-api-key': key } })
    assert.equal(answer.status, 200)
    assertNoCors(answer, 'no Origin')
    assert.deepEqual(list(answer.headers.vary).sort(), ['accept-encoding', 'origin'])
    const problem = await send(gw.url, '/yankes/kamar')
    assertProblem(problem, 401, 'CREDENTIALS_MISSING')
    assertNoCors(problem, 'no Origin, 401')
  })

  test('the gateway\'s own origin (a same-origin call, as from /doc) is not refused', async (t) => {
    const origin = await upstream(t)
    const { gw, key } = await gateway(t, origin)
    const answer = await send(gw.url, '/yankes/kamar', { headers: { origin: gw.url, 'x-api-key': key } })
    assert.equal(answer.status, 200, answer.body.toString())
    assertNoCors(answer, 'same origin')
  })

  test('an answer transformed by a response plugin carries them too', async (t) => {
    const origin = await upstream(t)
    const shout = definePlugin({
      name: 'shout',
      options: Type.Object({}),
      responseBodyLimit: 10_000,
      create: () => ({ onResponse (response) { response.body = Buffer.from(response.body.toString().toUpperCase()) } })
    })
    const yaml = ['defaults:', '  auth: none', 'integrations:', '  yankes:', `    upstream: ${origin.url}`,
      `    cors: { origins: ["${DASHBOARD}"] }`, '    plugins:', '      - shout: {}', ''].join('\n')
    const result = parseRoutes(yaml, {}, { plugins: new Map([['shout', { ok: true, definition: shout }]]) })
    if (!result.ok) throw new Error(result.problems.map((p) => formatProblem('routes.yaml', p)).join('\n'))
    const gw = await startGateway(t, '', {}, { routes: result.config })
    const answer = await send(gw.url, '/yankes/kamar', { headers: { origin: DASHBOARD } })
    assert.equal(answer.status, 200)
    assert.match(answer.body.toString(), /KAMAR/)
    assertCors(answer, DASHBOARD, 'transformed')
  })
})

describe('integrations without cors', () => {
  test('keep today\'s behaviour byte for byte: no Access-Control-*, the upstream\'s own passed on, Vary unchanged, Origin ignored', async (t) => {
    const origin = await upstream(t)
    const gw = await startGateway(t, [
      'integrations:',
      '  plain:',
      `    upstream: ${origin.url}`,
      '    methods: [GET]',
      ''
    ].join('\n'))
    const { key } = await gw.app.clients.create({ name: 'Server', integrations: '*' })
    const headerNames = (a: Answer): string[] => a.rawHeaders.filter((_v, i) => i % 2 === 0)
    const withoutOrigin = await send(gw.url, '/plain/kamar', { headers: { 'x-api-key': key } })
    const withOrigin = await send(gw.url, '/plain/kamar', { headers: { 'x-api-key': key, origin: EVIL } })
    assert.equal(withOrigin.status, 200)
    assert.deepEqual(headerNames(withOrigin), headerNames(withoutOrigin))
    assert.deepEqual(lines(withOrigin, 'access-control-allow-origin'), ['*'], 'the upstream\'s own header, as before')
    assert.deepEqual(lines(withOrigin, 'vary'), ['Accept-Encoding'])

    // The gateway's own answers: no CORS header, no Vary, whatever the Origin.
    const preflightAnswer = await send(gw.url, '/plain/kamar', preflight(DASHBOARD, 'GET'))
    assertProblem(preflightAnswer, 405, 'METHOD_NOT_ALLOWED')
    const missing = await send(gw.url, '/plain/kamar', { headers: { origin: DASHBOARD } })
    const missingWithout = await send(gw.url, '/plain/kamar')
    assertProblem(missing, 401, 'CREDENTIALS_MISSING')
    for (const answer of [preflightAnswer, missing]) {
      assertNoCors(answer, 'no cors')
      assert.equal(answer.headers.vary, undefined)
    }
    assert.deepEqual(headerNames(missing), headerNames(missingWithout))
  })
})

describe('defaults', () => {
  test('an integration without cors inherits the defaults\'; one with its own replaces them; cors: false turns them off', async (t) => {
    const origin = await upstream(t)
    const gw = await startGateway(t, [
      'defaults:',
      '  auth: none',
      `  cors: { origins: ["${DASHBOARD}"], maxAge: 1m }`,
      'integrations:',
      '  inherits:',
      `    upstream: ${origin.url}`,
      '  own:',
      `    upstream: ${origin.url}`,
      '    cors: { origins: ["https://sirs.bantenprov.go.id"] }',
      '  none:',
      `    upstream: ${origin.url}`,
      '    cors: false',
      ''
    ].join('\n'))
    const inherited = await send(gw.url, '/inherits/x', preflight(DASHBOARD, 'GET'))
    assert.equal(inherited.status, 204)
    assert.equal(inherited.headers['access-control-max-age'], '60')

    const replaced = await send(gw.url, '/own/x', preflight(DASHBOARD, 'GET'))
    assertProblem(replaced, 403, 'CORS_ORIGIN_FORBIDDEN')
    const own = await send(gw.url, '/own/x', preflight('https://sirs.bantenprov.go.id', 'GET'))
    assert.equal(own.status, 204)
    assert.equal(own.headers['access-control-max-age'], '600', 'the integration\'s cors replaces the defaults\' whole: maxAge back to 10m')

    const off = await send(gw.url, '/none/x', { headers: { origin: EVIL } })
    assert.equal(off.status, 200)
    assert.deepEqual(lines(off, 'access-control-allow-origin'), ['*'], 'the upstream\'s own, as without cors')
    assert.equal(origin.seen.length, 1)
  })

  test('a reload that changes cors is reported as a change and applies at once', async (t) => {
    const origin = await upstream(t)
    const yaml = (o: string): string => ['defaults:', '  auth: none', 'integrations:', '  yankes:', `    upstream: ${origin.url}`,
      `    cors: { origins: ["${o}"] }`, ''].join('\n')
    const gw = await startGateway(t, yaml(DASHBOARD))
    const result = parseRoutes(yaml('https://sirs.bantenprov.go.id'))
    assert.ok(result.ok)
    assert.deepEqual(gw.app.applyRoutes(result.config).changed, ['yankes'])
    assertProblem(await send(gw.url, '/yankes/x', preflight(DASHBOARD, 'GET')), 403, 'CORS_ORIGIN_FORBIDDEN')
    assert.equal((await send(gw.url, '/yankes/x', preflight('https://sirs.bantenprov.go.id', 'GET'))).status, 204)
  })
})

describe('shown to developers and operators', () => {
  test('/doc shows each integration\'s origins in its tag; the admin Routes API lists them', async (t) => {
    const yaml = [
      'integrations:',
      '  yankes:',
      '    upstream: http://127.0.0.1:9',
      '    description: Layanan kesehatan',
      `    cors: { origins: ["${DASHBOARD}", "https://*.bantenprov.go.id"], credentials: true }`,
      '  satu-data:',
      '    upstream: http://127.0.0.1:9',
      ''
    ].join('\n')
    const gw = await startAdminGateway(t, { routes: routesFrom(yaml) })
    const doc = await (await fetch(`${gw.url}/doc/json`)).json() as { tags: Array<{ name: string, description: string }> }
    const yankes = doc.tags.find((tag) => tag.name === 'yankes')
    assert.ok(yankes?.description.startsWith('Layanan kesehatan'), yankes?.description)
    assert.ok(yankes?.description.includes(`\`${DASHBOARD}\``), yankes?.description)
    assert.ok(yankes?.description.includes('`https://*.bantenprov.go.id`'), yankes?.description)
    assert.match(yankes?.description ?? '', /CORS/)
    assert.equal(doc.tags.find((tag) => tag.name === 'satu-data')?.description, 'Integrasi satu-data', 'no cors, no note')

    const viewer = await login(gw.url, USERS.viewer)
    const routes = await (await viewer.call('GET', '/routes')).json() as { integrations: Array<{ name: string, cors: unknown }> }
    assert.deepEqual(routes.integrations.map((i) => [i.name, i.cors]), [
      ['yankes', { origins: [DASHBOARD, 'https://*.bantenprov.go.id'], credentials: true }],
      ['satu-data', null]
    ])
  })
})
