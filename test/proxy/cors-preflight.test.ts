// CORS per integration (docs/contract.md section 8, issue 13 item 1): preflights
// answered by the gateway itself, without a key and never forwarded, for the
// origins, methods and headers the integration allows; foreign origins
// refused with 403 CORS_ORIGIN_FORBIDDEN.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway } from '../helpers/gateway.js'
import { assertProblem, send } from './client.js'
import { assertCors, assertNoCors, DASHBOARD, EVIL, gateway, lines, list, preflight, upstream } from './cors-fixtures.js'

const GATEWAY_HEADERS = ['x-api-key', 'authorization', 'content-type', 'x-request-id']

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
