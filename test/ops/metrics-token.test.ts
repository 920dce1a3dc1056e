// GET /metrics behind GERBANG_METRICS_TOKEN: a bearer token when it is set,
// never logged; open, with one warning, when it is not.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readEnv } from '../../src/config/env.js'
import { startGateway } from '../helpers/gateway.js'
import { closedPort } from '../proxy/client.js'
import { fruitOrigin, L, metricsRoutes, scrape, seriesOf, untilCounted } from './metrics-fixtures.js'

const TOKEN = 'metrics-token-0123456789abcdef'

test('GERBANG_METRICS_TOKEN: /metrics needs the bearer token; the token is never logged', async (t) => {
  const origin = await fruitOrigin(t)
  const gw = await startGateway(t, metricsRoutes(origin.url, await closedPort()), {}, { metricsToken: TOKEN })

  const missing = await fetch(`${gw.url}/metrics`)
  assert.equal(missing.status, 401)
  assert.match(missing.headers.get('content-type') ?? '', /^application\/problem\+json/)
  assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="gerbang-metrics"')
  assert.equal((await missing.json() as { code: string }).code, 'CREDENTIALS_MISSING')

  for (const authorization of [`Bearer ${TOKEN}x`, 'Bearer short', `Basic ${TOKEN}`, TOKEN]) {
    const res = await fetch(`${gw.url}/metrics`, { headers: { authorization } })
    assert.equal(res.status, 401, authorization)
    const { code } = await res.json() as { code: string }
    assert.equal(code, authorization.startsWith('Bearer ') ? 'CREDENTIALS_INVALID' : 'CREDENTIALS_MISSING', authorization)
  }

  const m = await scrape(gw, { authorization: `Bearer ${TOKEN}` })
  // Five refusals so far, on the gateway's own route; this app's registry only.
  assert.deepEqual(seriesOf(m, 'gerbang_requests_total'), { [L({ integration: '', method: 'GET', status_class: '4xx' })]: 5 })
  await scrape(gw, { authorization: `bearer  ${TOKEN}` })

  await untilCounted(gw, 7)
  assert.ok(!JSON.stringify(gw.logs).includes(TOKEN), 'the token is in the logs')
  assert.equal(gw.logs.filter((l) => String(l.msg).includes('GERBANG_METRICS_TOKEN')).length, 0)
})

test('without GERBANG_METRICS_TOKEN /metrics is open, with one warning at start', async (t) => {
  const origin = await fruitOrigin(t)
  const gw = await startGateway(t, metricsRoutes(origin.url, await closedPort()))
  await scrape(gw)
  await scrape(gw)
  const warnings = gw.logs.filter((l) => String(l.msg).includes('GERBANG_METRICS_TOKEN is not set'))
  assert.equal(warnings.length, 1)
  assert.equal(warnings[0]?.level, 'warn')
})

test('GERBANG_METRICS_TOKEN is read and checked with the environment', () => {
  assert.equal(readEnv({}).metricsToken, undefined)
  assert.equal(readEnv({ GERBANG_METRICS_TOKEN: '' }).metricsToken, undefined)
  assert.equal(readEnv({ GERBANG_METRICS_TOKEN: TOKEN }).metricsToken, TOKEN)
  for (const bad of ['too-short', 'has a space in it, long enough']) {
    assert.throws(() => readEnv({ GERBANG_METRICS_TOKEN: bad }), (err: Error) => {
      assert.match(err.message, /^GERBANG_METRICS_TOKEN must be at least 16 characters/)
      assert.ok(!err.message.includes(bad), 'the value is not in the message')
      return true
    })
  }
})
