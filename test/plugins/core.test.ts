/* eslint-disable no-template-curly-in-string -- routes.yaml text with ${VAR} references */
import { describe, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { Type } from '@sinclair/typebox'
import { parseRoutes, formatProblem, type RoutesConfig } from '../../src/config/routes-loader.js'
import { definePlugin, PluginFailure, type PluginDefinition } from '../../src/upstream-plugins/types.js'
import { startGateway } from '../helpers/gateway.js'
import { startEchoOrigin, startOrigin, type Origin } from '../helpers/origin.js'
import type { Problem } from '../helpers/problem.js'
import { assertElapsed, sleep } from '../helpers/time.js'

// The plugin machinery itself, with plugins defined in this file and handed
// to the loader the way loadRoutesFile hands over the ones it imported.

async function origin (t: TestContext, make: () => Promise<Origin>): Promise<Origin> {
  const o = await make()
  t.after(async () => { await o.close() })
  return o
}

function routesWith (yaml: string, plugins: PluginDefinition[], env: NodeJS.ProcessEnv = {}): RoutesConfig {
  const result = parseRoutes(yaml, env, { plugins: new Map(plugins.map((d) => [d.name, { ok: true, definition: d }])) })
  if (!result.ok) throw new Error(result.problems.map((p) => formatProblem('routes.yaml', p)).join('\n'))
  return result.config
}

function oneWith (upstream: string, pluginLines: string[], extra: string[] = []): string {
  return ['defaults:', '  auth: none', 'integrations:', '  svc:', `    upstream: ${upstream}`, ...extra.map((l) => `    ${l}`),
    '    plugins:', ...pluginLines.map((l) => `      ${l}`)].join('\n') + '\n'
}

describe('routes.yaml plugins:', () => {
  const tagger = definePlugin({
    name: 'tagger',
    options: Type.Object(
      { header: Type.String({ minLength: 1 }), value: Type.String(), times: Type.Integer({ minimum: 1, default: 1 }) },
      { additionalProperties: false }),
    check: (o) => o.header.toLowerCase() === 'host' ? "option 'header': host is the gateway's" : undefined,
    create: (o) => ({ onRequest (r) { r.headers.set(o.header, o.value.repeat(o.times)) } })
  })

  test('the issue\'s own example parses: ${VAR} inside a flow mapping', () => {
    const yaml = oneWith('http://127.0.0.1:9', ['- bpjs-vclaim: { consId: ${BPJS_CONS_ID}, secret: ${BPJS_SECRET}, userKey: ${BPJS_USER_KEY}, decrypt: true }'])
    const result = parseRoutes(yaml, { BPJS_CONS_ID: '1234', BPJS_SECRET: 's3cr3t-value', BPJS_USER_KEY: 'uk-value' })
    assert.ok(result.ok, JSON.stringify(result))
    const [plugin] = result.config.integrations[0]?.plugins ?? []
    assert.equal(plugin?.ref, 'bpjs-vclaim')
    assert.deepEqual({ ...plugin?.options as object }, { consId: '1234', secret: 's3cr3t-value', userKey: 'uk-value', decrypt: true })
  })

  test('a missing variable is a load error naming it, on its line', () => {
    const result = parseRoutes(oneWith('http://127.0.0.1:9', ['- tagger: { header: x-a, value: ${NOT_SET_ANYWHERE} }']), {},
      { plugins: new Map([['tagger', { ok: true, definition: tagger }]]) })
    assert.ok(!result.ok)
    assert.equal(result.problems.length, 1)
    assert.match(result.problems[0]?.message ?? '', /NOT_SET_ANYWHERE is not set/)
    assert.equal(result.problems[0]?.line, 7)
  })

  test('options are checked against the plugin\'s schema and check(), naming plugin and option, never the value', () => {
    const secret = 'value-that-must-not-leak-42'
    const result = parseRoutes(oneWith('http://127.0.0.1:9', [
      '- tagger: { header: "", value: x, extra: 1 }',
      '- tagger: { header: host, value: x }',
      '- tagger: { value: x }',
      '- tagger: { header: x-b, value: x, times: ${TIMES} }',
      '- nope: {}',
      '- tagger: [1, 2]'
    ]), { TIMES: secret }, { plugins: new Map([['tagger', { ok: true, definition: tagger }]]) })
    assert.ok(!result.ok)
    const lines = result.problems.map((p) => formatProblem('routes.yaml', p))
    assert.deepEqual(lines, [
      "routes.yaml:7: integrations.svc.plugins.0.tagger.extra: tagger: unknown option 'extra'",
      "routes.yaml:7: integrations.svc.plugins.0.tagger.header: tagger: option 'header' expected string length greater or equal to 1",
      "routes.yaml:8: integrations.svc.plugins.1.tagger: tagger: option 'header': host is the gateway's",
      "routes.yaml:9: integrations.svc.plugins.2.tagger.header: tagger: missing required option 'header'",
      "routes.yaml:10: integrations.svc.plugins.3.tagger.times: tagger: option 'times' expected integer",
      "routes.yaml:11: integrations.svc.plugins.4.nope: unknown plugin 'nope' (built-in: static-headers, oauth2-client-credentials, bpjs-vclaim)",
      'routes.yaml:12: integrations.svc.plugins.5.tagger: tagger: its options must be a mapping'
    ])
    assert.ok(!lines.join('\n').includes(secret))
  })

  test('a list item with two plugins is refused without echoing their options', () => {
    const result = parseRoutes(oneWith('http://127.0.0.1:9', ['- { static-headers: { set: { a: b } }, tagger: { value: hidden-secret-1 } }']))
    assert.ok(!result.ok)
    assert.equal(result.problems[0]?.path, 'integrations.svc.plugins.0')
    assert.ok(!JSON.stringify(result.problems).includes('hidden-secret-1'))
  })
})

describe('plugins on the request path', () => {
  test('onRequest changes headers, path and query; the upstream sees exactly that', async (t) => {
    const echo = await origin(t, startEchoOrigin)
    const rewriter = definePlugin({
      name: 'rewriter',
      options: Type.Object({}),
      create: () => ({
        onRequest (r) {
          r.path = r.path.replace('/old/', '/new/')
          r.query = r.query === '' ? 'added=1' : `${r.query}&added=1`
          r.headers.set('X-Seen-Client', r.clientId ?? 'anonymous')
          r.headers.delete('x-drop-me')
        }
      })
    })
    const gw = await startGateway(t, '', {}, { routes: routesWith(oneWith(`${echo.url}/base`, ['- rewriter: {}']), [rewriter]) })
    const res = await fetch(`${gw.url}/svc/old/x?q=1`, { headers: { 'x-drop-me': 'yes', 'x-keep': 'yes' } })
    assert.equal(res.status, 200)
    const seen = await res.json() as { url: string, headers: Record<string, string> }
    assert.equal(seen.url, '/base/new/x?q=1&added=1')
    assert.equal(seen.headers['x-seen-client'], 'anonymous')
    assert.equal(seen.headers['x-drop-me'], undefined)
    assert.equal(seen.headers['x-keep'], 'yes')
  })

  test('static-headers sets and removes upstream headers; the gateway\'s own headers are refused at load', async (t) => {
    const echo = await origin(t, startEchoOrigin)
    const gw = await startGateway(t, oneWith(echo.url, ['- static-headers: { set: { X-Instansi: "${INSTANSI}", accept: application/fhir+json }, remove: [x-debug] }']),
      { INSTANSI: 'dinkes-banten' })
    const res = await fetch(`${gw.url}/svc/a`, { headers: { 'x-debug': '1', accept: 'text/html' } })
    const seen = await res.json() as { headers: Record<string, string> }
    assert.equal(seen.headers['x-instansi'], 'dinkes-banten')
    assert.equal(seen.headers.accept, 'application/fhir+json')
    assert.equal(seen.headers['x-debug'], undefined)
    assert.ok(seen.headers['x-request-id'] !== undefined)

    for (const bad of ['{ set: { Host: evil } }', '{ remove: [x-request-id] }', '{ set: { "bad header": x } }']) {
      const result = parseRoutes(oneWith(echo.url, [`- static-headers: ${bad}`]))
      assert.ok(!result.ok, bad)
      assert.match(result.problems[0]?.message ?? '', /^static-headers: option '(set|remove)'/)
    }
  })

  test('a PluginFailure is 502 UPSTREAM_AUTH_FAILED naming the plugin; a bug in a plugin is too, without its message', async (t) => {
    const echo = await origin(t, startEchoOrigin)
    const failing = definePlugin({
      name: 'failing',
      options: Type.Object({ how: Type.String() }),
      create: (o) => ({
        async onRequest () {
          await sleep(5)
          if (o.how === 'failure') throw new PluginFailure('the token endpoint answered 401')
          if (o.how === 'timeout') throw new PluginFailure('the token endpoint did not answer within 50 ms', { timeout: true })
          throw new Error('bug with internal-detail-99 in it')
        }
      })
    })
    const yaml = ['defaults:', '  auth: none', 'integrations:',
      ...['failure', 'timeout', 'bug'].flatMap((how) => [`  ${how}:`, `    upstream: ${echo.url}`, '    plugins:', `      - failing: { how: ${how} }`])].join('\n')
    const gw = await startGateway(t, '', {}, { routes: routesWith(yaml, [failing]) })

    const failure = await fetch(`${gw.url}/failure/x`)
    assert.equal(failure.status, 502)
    assert.match(failure.headers.get('content-type') ?? '', /^application\/problem\+json/)
    const p1 = await failure.json() as Problem
    assert.equal(p1.code, 'UPSTREAM_AUTH_FAILED')
    assert.equal(p1.plugin, 'failing')
    assert.equal(p1.detail, 'failure: the failing plugin failed: the token endpoint answered 401')

    const timeout = await fetch(`${gw.url}/timeout/x`)
    assert.equal(timeout.status, 504)
    assert.equal((await timeout.json() as Problem).code, 'UPSTREAM_TIMEOUT')

    const bug = await fetch(`${gw.url}/bug/x`)
    assert.equal(bug.status, 502)
    const text = await bug.text()
    assert.ok(!text.includes('internal-detail-99'))
    assert.equal((JSON.parse(text) as Problem).detail, 'bug: the failing plugin failed unexpectedly')
    assert.equal(echo.seen.length, 0, 'nothing reached the upstream')
    assert.ok(gw.logs.some((l) => l.msg === 'plugin threw an unexpected error' && l.plugin === 'failing'))
  })

  test('a plugin that never finishes is cut off at the integration\'s timeout with 504 naming it', async (t) => {
    const echo = await origin(t, startEchoOrigin)
    const hanging = definePlugin({
      name: 'hanging',
      options: Type.Object({}),
      create: () => ({ async onRequest () { await new Promise(() => {}) } })
    })
    const gw = await startGateway(t, '', {}, { routes: routesWith(oneWith(echo.url, ['- hanging: {}'], ['timeout: 300ms', 'connectTimeout: 100ms']), [hanging]) })
    const started = performance.now()
    const res = await fetch(`${gw.url}/svc/x`)
    const elapsed = performance.now() - started
    assert.equal(res.status, 504)
    const problem = await res.json() as Problem
    assert.equal(problem.plugin, 'hanging')
    assert.equal(problem.detail, 'svc: the hanging plugin did not finish within 300 ms')
    assertElapsed(elapsed, 290, 300)
  })

  test('retryOn sends the request once more, body included, and only once', async (t) => {
    let calls = 0
    const bodies: string[] = []
    const upstream = await origin(t, async () => await startOrigin((req, res) => {
      let body = ''
      req.on('data', (c: Buffer) => { body += c.toString() })
      req.on('end', () => {
        calls++
        bodies.push(body)
        const ok = req.headers.authorization === 'Bearer fresh'
        res.writeHead(ok ? 201 : 401, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ ok }))
      })
    }))
    let tokens = 0
    const refresher = definePlugin({
      name: 'refresher',
      options: Type.Object({ neverFresh: Type.Boolean({ default: false }) }),
      create: (o) => ({
        onRequest (r) { r.headers.set('authorization', `Bearer ${r.attempt === 0 || o.neverFresh ? 'stale' : 'fresh'}`) },
        retryOn (status) {
          if (status !== 401) return false
          tokens++
          return true
        }
      })
    })
    const yaml = ['defaults:', '  auth: none', 'integrations:',
      '  once:', `    upstream: ${upstream.url}`, '    plugins:', '      - refresher: {}',
      '  never:', `    upstream: ${upstream.url}`, '    plugins:', '      - refresher: { neverFresh: true }'].join('\n')
    const gw = await startGateway(t, '', {}, { routes: routesWith(yaml, [refresher]) })

    const res = await fetch(`${gw.url}/once/Encounter`, { method: 'POST', body: '{"resourceType":"Encounter"}', headers: { 'content-type': 'application/json' } })
    assert.equal(res.status, 201)
    assert.deepEqual(await res.json(), { ok: true })
    assert.equal(calls, 2)
    assert.deepEqual(bodies, ['{"resourceType":"Encounter"}', '{"resourceType":"Encounter"}'])
    assert.equal(tokens, 1)

    // A second 401 passes through: one retry, never a loop.
    const again = await fetch(`${gw.url}/never/Encounter`)
    assert.equal(again.status, 401)
    assert.equal(calls, 4)
  })

  test('onResponse transforms a buffered answer; Content-Length follows; a larger answer than declared is 502', async (t) => {
    const upstream = await origin(t, async () => await startOrigin((req, res) => {
      const size = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('size') ?? '5')
      res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': 'yes' })
      // Written in pieces, so the buffering really collects chunks.
      for (let sent = 0; sent < size; sent += 1000) res.write('a'.repeat(Math.min(1000, size - sent)))
      res.end()
    }))
    const shout = definePlugin({
      name: 'shout',
      options: Type.Object({}),
      responseBodyLimit: 10_000,
      create: () => ({
        async onResponse (response, request) {
          await sleep(1)
          response.body = Buffer.from(`${response.body.toString().toUpperCase()}!`)
          response.headers.set('x-transformed-for', request.integration)
        }
      })
    })
    const gw = await startGateway(t, '', {}, { routes: routesWith(oneWith(upstream.url, ['- shout: {}']), [shout]) })
    const res = await fetch(`${gw.url}/svc/x?size=2500`)
    assert.equal(res.status, 200)
    const text = await res.text()
    assert.equal(text, 'A'.repeat(2500) + '!')
    assert.equal(res.headers.get('content-length'), '2501')
    assert.equal(res.headers.get('x-transformed-for'), 'svc')
    assert.equal(res.headers.get('x-upstream'), 'yes')
    assert.equal(upstream.seen[0]?.headers['accept-encoding'], 'identity')

    const big = await fetch(`${gw.url}/svc/x?size=20000`)
    assert.equal(big.status, 502)
    const problem = await big.json() as Problem
    assert.equal(problem.code, 'UPSTREAM_ERROR')
    assert.equal(problem.plugin, 'shout')

    const head = await fetch(`${gw.url}/svc/x`, { method: 'HEAD' })
    assert.equal(head.status, 200)
  })

  test('a reload that leaves a plugin\'s options alone keeps its instance; changed options get a new one', async (t) => {
    const echo = await origin(t, startEchoOrigin)
    let created = 0
    const counted = definePlugin({
      name: 'counted',
      options: Type.Object({ v: Type.String() }),
      create: (o) => {
        created++
        return { onRequest (r) { r.headers.set('x-v', o.v) } }
      }
    })
    const first = routesWith(oneWith(echo.url, ['- counted: { v: one }']), [counted])
    const gw = await startGateway(t, '', {}, { routes: first })
    assert.equal(created, 1)
    gw.app.applyRoutes(routesWith(oneWith(echo.url, ['- counted: { v: one }'], ['timeout: 5s']), [counted]))
    assert.equal(created, 1)
    gw.app.applyRoutes(routesWith(oneWith(echo.url, ['- counted: { v: two }']), [counted]))
    assert.equal(created, 2)
    const seen = await (await fetch(`${gw.url}/svc/x`)).json() as { headers: Record<string, string> }
    assert.equal(seen.headers['x-v'], 'two')

    // A plugin whose create throws: the reload is refused and the old table keeps serving.
    const broken = definePlugin({ name: 'broken', options: Type.Object({}), create: () => { throw new Error('cannot start') } })
    assert.throws(() => gw.app.applyRoutes(routesWith(oneWith(echo.url, ['- broken: {}']), [broken])), /integration svc: the broken plugin could not start: cannot start/)
    assert.equal((await fetch(`${gw.url}/svc/x`)).status, 200)
  })
})
