// CORS per integration (docs/contract.md section 8, issue 13 item 1), as
// configured: integrations without `cors` left exactly as they were, the
// defaults' cors inherited, replaced or turned off, reloads applied at once,
// and each integration's origins shown in /doc and the admin Routes API.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { parseRoutes } from '../../src/config/routes-loader.js'
import { routesFrom, startGateway } from '../helpers/gateway.js'
import { login, startAdminGateway, USERS } from '../helpers/admin.js'
import { assertProblem, send, type Answer } from './client.js'
import { assertNoCors, DASHBOARD, EVIL, lines, preflight, upstream } from './cors-fixtures.js'

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
