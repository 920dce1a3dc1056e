// GET /metrics: every request metric moves exactly as known traffic says,
// read through a strict parser of the Prometheus text format (0.0.4), itself
// checked first.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { startGateway, type TestGateway } from '../helpers/gateway.js'
import { closedPort } from '../proxy/client.js'
import { fruitOrigin, L, metricsRoutes, parseExposition, scrape, seriesOf, untilCounted, valueOf } from './metrics-fixtures.js'

test('the parser: escapes, groups, duplicates and histogram sums are checked', () => {
  const ok = parseExposition([
    '# HELP x_total A \\\\ help\\nline.',
    '# TYPE x_total counter',
    'x_total{a="q\\"uo\\\\te\\nd",b=""} 3',
    'x_total 1 1700000000000',
    '# TYPE h histogram',
    'h_bucket{le="0.5"} 1',
    'h_bucket{le="+Inf"} 2',
    'h_sum 0.7',
    'h_count 2',
    ''
  ].join('\n'))
  assert.equal(ok.get('x_total')?.help, 'A \\ help\nline.')
  assert.deepEqual(ok.get('x_total')?.samples[0]?.labels, { a: 'q"uo\\te\nd', b: '' })
  const bad = {
    'no TYPE': 'y 1\n',
    'bad escape': '# TYPE y gauge\ny{a="\\t"} 1\n',
    duplicate: '# TYPE y gauge\ny{a="1"} 1\ny{a="1"} 2\n',
    'split group': '# TYPE y gauge\n# TYPE z gauge\ny 1\nz 1\ny{a="2"} 1\n',
    'buckets decrease': '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    'count differs': '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n',
    'negative counter': '# TYPE c counter\nc -1\n',
    'no final newline': '# TYPE y gauge\ny 1'
  }
  for (const [why, text] of Object.entries(bad)) assert.throws(() => parseExposition(text), Error, why)
})

/** A TRACE request (fetch refuses to send one). */
async function traceRequest (gw: TestGateway, path: string, headers: Record<string, string>): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const req = httpRequest(gw.url + path, { method: 'TRACE', headers }, (res) => {
      res.resume()
      res.on('end', () => { resolve(res.statusCode ?? 0) })
    })
    req.on('error', reject)
    req.end()
  })
}

async function call (gw: TestGateway, path: string, init: RequestInit = {}): Promise<number> {
  const res = await fetch(gw.url + path, init)
  await res.arrayBuffer()
  return res.status
}

test('known traffic moves every request metric by exactly its count', async (t) => {
  const origin = await fruitOrigin(t)
  const gw = await startGateway(t, metricsRoutes(origin.url, await closedPort()))
  const a = await gw.app.clients.create({ name: 'RSUD Banten', integrations: '*' })
  const b = await gw.app.clients.create({ name: 'Dinkes Kota Serang', integrations: ['sempit'] })
  const keyA = { 'x-api-key': a.key }
  const keyB = { 'x-api-key': b.key }

  // Before any traffic: the families are there, the request ones empty.
  const empty = await scrape(gw)
  assert.deepEqual(seriesOf(empty, 'gerbang_requests_total'), {})
  assert.deepEqual(seriesOf(empty, 'gerbang_request_duration_seconds', 'gerbang_request_duration_seconds_count'), {})
  await untilCounted(gw, 1)

  const statuses: number[] = []
  const go = async (path: string, init?: RequestInit): Promise<void> => { statuses.push(await call(gw, path, init)) }
  // yankes: 13 requests, and one that Fastify answers itself
  for (let i = 0; i < 3; i++) await go('/yankes/ok', { headers: keyA })
  await go('/yankes/slow', { headers: keyA })
  await go('/yankes/missing/1', { headers: keyA })
  await go('/yankes/missing/2', { headers: keyA })
  await go('/yankes/forbidden', { headers: keyA }) // the upstream's own 403
  await go('/yankes/boom', { headers: keyA }) // upstream 500 → 502 UPSTREAM_ERROR
  await go('/yankes/ok', { method: 'POST', headers: keyA, body: 'x' })
  statuses.push(await traceRequest(gw, '/yankes/ok', keyA)) // a method outside the fixed list, refused unless listed: 405
  await go('/yankes/ok', { method: 'PROPFIND', headers: keyA }) // a method no integration can have: the gateway's 405
  await go('/yankes/ok') // no key
  await go('/yankes/ok', { headers: { 'x-api-key': 'gb_' + 'A'.repeat(43) } }) // unknown key
  await go('/yankes/ok', { headers: keyB }) // not granted
  // mati: the upstream refuses connections
  await go('/mati/x')
  // sempit: 2/1m
  for (let i = 0; i < 4; i++) await go('/sempit/ok', { headers: keyB })
  // the gateway's own
  await go('/healthz')
  await go('/tidak-ada')
  assert.deepEqual(statuses,
    [200, 200, 200, 200, 404, 404, 403, 502, 200, 405, 405, 401, 401, 403, 502, 200, 200, 429, 429, 200, 404])
  await untilCounted(gw, 1 + statuses.length)

  const m = await scrape(gw)
  assert.deepEqual(seriesOf(m, 'gerbang_requests_total'), {
    [L({ integration: 'yankes', method: 'GET', status_class: '2xx' })]: 4,
    [L({ integration: 'yankes', method: 'GET', status_class: '4xx' })]: 6,
    [L({ integration: 'yankes', method: 'GET', status_class: '5xx' })]: 1,
    [L({ integration: 'yankes', method: 'POST', status_class: '2xx' })]: 1,
    [L({ integration: 'yankes', method: 'OTHER', status_class: '4xx' })]: 1,
    [L({ integration: 'mati', method: 'GET', status_class: '5xx' })]: 1,
    [L({ integration: 'sempit', method: 'GET', status_class: '2xx' })]: 2,
    [L({ integration: 'sempit', method: 'GET', status_class: '4xx' })]: 2,
    // /healthz, and the first scrape; /tidak-ada; PROPFIND
    [L({ integration: '', method: 'GET', status_class: '2xx' })]: 2,
    [L({ integration: '', method: 'GET', status_class: '4xx' })]: 1,
    [L({ integration: '', method: 'OTHER', status_class: '4xx' })]: 1
  })
  assert.deepEqual(seriesOf(m, 'gerbang_upstream_errors_total'), {
    [L({ integration: 'yankes', code: 'http_500' })]: 1,
    [L({ integration: 'mati', code: 'ECONNREFUSED' })]: 1
  })
  assert.deepEqual(seriesOf(m, 'gerbang_rate_limited_total'), { [L({ integration: 'sempit' })]: 2 })
  assert.deepEqual(seriesOf(m, 'gerbang_auth_failures_total'), {
    [L({ integration: 'yankes', reason: 'credentials' })]: 2,
    [L({ integration: 'yankes', reason: 'forbidden' })]: 1
  })

  // Histograms: one observation per request; upstream ones only where the upstream answered.
  assert.deepEqual(seriesOf(m, 'gerbang_request_duration_seconds', 'gerbang_request_duration_seconds_count'), {
    [L({ integration: 'yankes' })]: 13,
    [L({ integration: 'mati' })]: 1,
    [L({ integration: 'sempit' })]: 4,
    [L({ integration: '' })]: 4
  })
  assert.deepEqual(seriesOf(m, 'gerbang_upstream_duration_seconds', 'gerbang_upstream_duration_seconds_count'), {
    [L({ integration: 'yankes' })]: 9,
    [L({ integration: 'sempit' })]: 2
  })
  // /yankes/slow took 1.1 s upstream: above the 1 s bucket, in both histograms.
  for (const name of ['gerbang_request_duration_seconds', 'gerbang_upstream_duration_seconds']) {
    const all = valueOf(m, `${name}_bucket`, { integration: 'yankes', le: '+Inf' }) as number
    const underOne = valueOf(m, `${name}_bucket`, { integration: 'yankes', le: '1' }) as number
    assert.ok(all - underOne >= 1, `${name}: the slow request is not above le="1"`)
    assert.ok((valueOf(m, `${name}_sum`, { integration: 'yankes' }) as number) >= 1.1, `${name}_sum`)
    assert.equal(valueOf(m, `${name}_bucket`, { integration: 'yankes', le: '60' }), all)
  }
  assert.ok((valueOf(m, 'gerbang_request_duration_seconds_sum', { integration: 'yankes' }) as number) >=
    (valueOf(m, 'gerbang_upstream_duration_seconds_sum', { integration: 'yankes' }) as number),
  'the gateway total includes the upstream time')

  // The breaker of every integration, as the route table has it.
  // One series per state, 1 on the current one.
  const breakers = seriesOf(m, 'gerbang_circuit_breaker_state')
  const opens = seriesOf(m, 'gerbang_circuit_breaker_opens_total')
  const states = ['closed', 'half-open', 'open']
  assert.deepEqual(Object.keys(breakers).sort(),
    ['mati', 'sempit', 'yankes'].flatMap((integration) => states.map((state) => L({ integration, state }))).sort())
  for (const { integration, breaker } of gw.app.routeTable.table.routes) {
    for (const state of states) {
      assert.equal(breakers[L({ integration: integration.name, state })], breaker.state === state ? 1 : 0, `${integration.name} ${state}`)
    }
    assert.equal(opens[L({ integration: integration.name })], breaker.opens, `${integration.name} opens`)
  }
  assert.equal(breakers[L({ integration: 'yankes', state: 'closed' })], 1)

  assert.equal(valueOf(m, 'gerbang_store_up'), 1)
  assert.deepEqual(seriesOf(m, 'gerbang_store_info'), { [L({ kind: 'memory' })]: 1 })
  assert.equal(valueOf(m, 'gerbang_integrations'), 3)

  // Node's own, under their standard names.
  for (const name of ['process_cpu_user_seconds_total', 'process_start_time_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
    assert.ok(m.has(name), `${name} is exposed`)
  }

  // The scrape itself is counted, as one of the gateway's own requests.
  await untilCounted(gw, 2 + statuses.length)
  const again = await scrape(gw)
  assert.equal(valueOf(again, 'gerbang_requests_total', { integration: '', method: 'GET', status_class: '2xx' }), 3)
  assert.equal(valueOf(again, 'gerbang_requests_total', { integration: 'yankes', method: 'GET', status_class: '2xx' }), 4)
})
