// CORS per integration (docs/contract.md section 8, issue 13 item 1), actual
// requests: every answer to an allowed origin, forwarded or the gateway's
// own, readable by the browser app; foreign origins refused with 403
// CORS_ORIGIN_FORBIDDEN before anything reaches the upstream; calls without
// Origin, or from the gateway's own, unaffected.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Type } from '@sinclair/typebox'
import { parseRoutes, formatProblem } from '../../src/config/routes-loader.js'
import { definePlugin } from '../../src/upstream-plugins/types.js'
import { startGateway } from '../helpers/gateway.js'
import { assertProblem, closedPort, send } from './client.js'
import { assertCors, assertNoCors, DASHBOARD, EVIL, gateway, list, upstream } from './cors-fixtures.js'

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
