import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readEnv } from '../../src/config/env.js'
import { RoutesWatcher } from '../../src/config/routes-watcher.js'
import { GatewayMetrics } from '../../src/ops/metrics.js'
import type { RouteTableHolder } from '../../src/proxy/route-tables.js'
import type { RouteTable } from '../../src/proxy/route-table.js'
import { RedisStore } from '../../src/store/redis-store.js'
import { startGateway, type TestGateway } from '../helpers/gateway.js'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { startRedis } from '../helpers/redis.js'
import { closedPort } from '../proxy/client.js'
import { sleep, waitUntil } from '../helpers/time.js'
import { routesYaml, type RoutesSpec } from '../helpers/routes.js'

// GET /metrics: every gerbang_* metric moves exactly as the traffic says,
// read through a strict parser of the Prometheus text format (0.0.4).

// ---------------------------------------------------------------------------
// A strict parser of the text exposition format
// (https://prometheus.io/docs/instrumenting/exposition_formats/): HELP and
// TYPE once per family and before its samples, each family's samples in one
// group, label values with their three escapes, no duplicate series, and
// histograms whose buckets add up.

interface Sample { name: string, labels: Record<string, string>, value: number }
interface Family { name: string, type: string, help: string | undefined, samples: Sample[] }
type Exposition = Map<string, Family>

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])

/** A value as Prometheus reads it (Go's strconv.ParseFloat): NaN and Inf in any case; prom-client writes `Nan`. */
function parseValue (text: string, where: string): number {
  const special = /^([-+]?)(inf|infinity|nan)$/i.exec(text)
  if (special !== null) {
    if ((special[2] as string).toLowerCase() === 'nan') {
      if (special[1] !== '') throw new Error(`${where}: '${text}' is not a sample value`)
      return NaN
    }
    return special[1] === '-' ? -Infinity : Infinity
  }
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`${where}: '${text}' is not a sample value`)
  return Number(text)
}

/** Parses `name{a="x",b="y"} value [timestamp]`. */
function parseSample (line: string, where: string): Sample {
  let i = 0
  while (i < line.length && line[i] !== '{' && line[i] !== ' ') i++
  const name = line.slice(0, i)
  if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name '${name}'`)
  const labels: Record<string, string> = {}
  if (line[i] === '{') {
    i++
    while (line[i] !== '}') {
      const eq = line.indexOf('=', i)
      if (eq === -1) throw new Error(`${where}: label without '='`)
      const label = line.slice(i, eq)
      if (!LABEL_NAME.test(label)) throw new Error(`${where}: bad label name '${label}'`)
      if (label in labels) throw new Error(`${where}: label '${label}' twice`)
      if (line[eq + 1] !== '"') throw new Error(`${where}: label value of '${label}' is not quoted`)
      let value = ''
      let j = eq + 2
      for (;;) {
        const c = line[j]
        if (c === undefined) throw new Error(`${where}: unterminated label value`)
        if (c === '"') break
        if (c === '\\') {
          const next = line[j + 1]
          if (next === '\\') value += '\\'
          else if (next === '"') value += '"'
          else if (next === 'n') value += '\n'
          else throw new Error(`${where}: bad escape '\\${next ?? ''}' in a label value`)
          j += 2
        } else {
          value += c
          j++
        }
      }
      labels[label] = value
      i = j + 1
      if (line[i] === ',') i++
      else if (line[i] !== '}') throw new Error(`${where}: expected ',' or '}' after label '${label}'`)
    }
    i++
  }
  if (line[i] !== ' ') throw new Error(`${where}: expected a space before the value`)
  const rest = line.slice(i + 1).split(' ')
  if (rest.length > 2 || rest[0] === '') throw new Error(`${where}: expected 'value [timestamp]'`)
  if (rest[1] !== undefined && !/^-?\d+$/.test(rest[1])) throw new Error(`${where}: bad timestamp '${rest[1]}'`)
  return { name, labels, value: parseValue(rest[0] as string, where) }
}

function unescapeHelp (text: string): string {
  return text.replace(/\\(\\|n)/g, (_, c: string) => c === 'n' ? '\n' : '\\')
}

/** The family a sample belongs to, given the families declared so far. */
function familyOf (families: Exposition, name: string): Family | undefined {
  const own = families.get(name)
  if (own !== undefined) return own
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue
    const family = families.get(name.slice(0, -suffix.length))
    if (family === undefined) continue
    if (family.type === 'histogram' || (family.type === 'summary' && suffix !== '_bucket')) return family
  }
  return undefined
}

const seriesKey = (name: string, labels: Record<string, string>): string =>
  name + JSON.stringify(Object.entries(labels).sort(([a], [b]) => a < b ? -1 : 1))

function parseExposition (text: string): Exposition {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline')
  const families: Exposition = new Map()
  const seen = new Set<string>()
  const closed = new Set<string>()
  let current: Family | undefined
  const lines = text.slice(0, -1).split('\n')
  lines.forEach((line, index) => {
    const where = `line ${index + 1}`
    if (line === '') return
    if (line.startsWith('#')) {
      const meta = /^# (HELP|TYPE) ([^ ]+) ?(.*)$/.exec(line)
      if (meta === null) return // a comment
      const [, kind, name = '', rest = ''] = meta
      if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name '${name}'`)
      let family = families.get(name)
      if (family !== undefined && family.samples.length > 0) throw new Error(`${where}: ${kind ?? ''} for ${name} after its samples`)
      if (family === undefined) {
        family = { name, type: 'untyped', help: undefined, samples: [] }
        families.set(name, family)
      }
      if (kind === 'HELP') {
        if (family.help !== undefined) throw new Error(`${where}: second HELP for ${name}`)
        family.help = unescapeHelp(rest)
      } else {
        if (family.type !== 'untyped') throw new Error(`${where}: second TYPE for ${name}`)
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type '${rest}'`)
        family.type = rest
      }
      return
    }
    const sample = parseSample(line, where)
    const family = familyOf(families, sample.name)
    if (family === undefined) throw new Error(`${where}: ${sample.name} has no TYPE line before it`)
    if (family !== current) {
      if (current !== undefined) closed.add(current.name)
      if (closed.has(family.name)) throw new Error(`${where}: samples of ${family.name} are not in one group`)
      current = family
    }
    const key = seriesKey(sample.name, sample.labels)
    if (seen.has(key)) throw new Error(`${where}: series ${sample.name}${JSON.stringify(sample.labels)} twice`)
    seen.add(key)
    if (family.type === 'counter' && !(sample.value >= 0)) throw new Error(`${where}: counter ${sample.name} is ${sample.value}`)
    family.samples.push(sample)
  })
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family)
  return families
}

/** Per label set: `le` ascending and ending at +Inf, counts cumulative, +Inf = _count, a _sum. */
function checkHistogram (family: Family): void {
  const groups = new Map<string, { buckets: Array<[number, number]>, sum?: number, count?: number }>()
  for (const s of family.samples) {
    const { le, ...rest } = s.labels
    const key = seriesKey('', rest)
    const group = groups.get(key) ?? { buckets: [] }
    groups.set(key, group)
    if (s.name === `${family.name}_bucket`) {
      if (le === undefined) throw new Error(`${family.name}_bucket without le`)
      group.buckets.push([parseValue(le, `${family.name} le`), s.value])
    } else if (s.name === `${family.name}_sum`) group.sum = s.value
    else if (s.name === `${family.name}_count`) group.count = s.value
    else throw new Error(`${s.name} in histogram ${family.name}`)
  }
  for (const [key, g] of groups) {
    const what = `${family.name}${key}`
    assert.ok(g.buckets.length > 0, `${what}: no buckets`)
    for (let i = 1; i < g.buckets.length; i++) {
      const [le, count] = g.buckets[i] as [number, number]
      const [prevLe, prevCount] = g.buckets[i - 1] as [number, number]
      assert.ok(le > prevLe, `${what}: le ${le} after ${prevLe}`)
      assert.ok(count >= prevCount, `${what}: bucket le=${le} (${count}) below le=${prevLe} (${prevCount})`)
    }
    const last = g.buckets[g.buckets.length - 1] as [number, number]
    assert.equal(last[0], Infinity, `${what}: the last bucket is not +Inf`)
    assert.equal(g.count, last[1], `${what}: _count differs from the +Inf bucket`)
    assert.equal(typeof g.sum, 'number', `${what}: no _sum`)
  }
}

/** Every series of a family as `{"a":"x","b":"y"} → value`, for exact comparisons. */
function seriesOf (metrics: Exposition, name: string, sampleName = name): Record<string, number> {
  const family = metrics.get(name)
  assert.ok(family !== undefined, `${name} is not exposed`)
  const out: Record<string, number> = {}
  for (const s of family.samples) {
    if (s.name !== sampleName) continue
    const labels = Object.fromEntries(Object.entries(s.labels).sort(([a], [b]) => a < b ? -1 : 1))
    out[JSON.stringify(labels)] = s.value
  }
  return out
}

const L = (labels: Record<string, string>): string =>
  JSON.stringify(Object.fromEntries(Object.entries(labels).sort(([a], [b]) => a < b ? -1 : 1)))

function valueOf (metrics: Exposition, sampleName: string, labels: Record<string, string> = {}): number | undefined {
  const family = familyOf(metrics, sampleName)
  return family?.samples.find((s) => s.name === sampleName && L(s.labels) === L(labels))?.value
}

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

// ---------------------------------------------------------------------------

async function fruitOrigin (t: TestContext): Promise<Origin> {
  const origin = await startOrigin((req, res) => {
    req.resume()
    const path = req.url ?? ''
    const answer = (status: number): void => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ status }))
    }
    if (path.startsWith('/missing')) answer(404)
    else if (path.startsWith('/forbidden')) answer(403)
    else if (path.startsWith('/boom')) answer(500)
    else if (path.startsWith('/slow')) setTimeout(() => { answer(200) }, 1100)
    else answer(200)
  })
  t.after(origin.close)
  return origin
}

/** yankes and sempit (rate limit 2/1m) on `origin`, mati (auth: none) on a dead port, and `extra` integrations. */
function metricsRoutes (origin: string, deadPort: number, extra: RoutesSpec['integrations'] = {}): string {
  return routesYaml({
    defaults: { rateLimit: '1000/1m' },
    integrations: {
      yankes: { upstream: origin },
      sempit: { upstream: origin, rateLimit: '2/1m' },
      mati: { upstream: `http://127.0.0.1:${deadPort}`, auth: 'none' },
      ...extra
    }
  })
}

/** Waits until the gateway has finished (and counted) `n` requests: each writes its access line as it is counted. */
async function untilCounted (gw: TestGateway, n: number): Promise<void> {
  const finished = (): number => gw.logs.filter((l) => l.msg === 'request').length
  await waitUntil(`${n} requests to finish`, () => finished() >= n, { intervalMs: 5, detail: () => `only ${finished()} of ${n} finished` })
}

async function scrape (gw: TestGateway, headers: Record<string, string> = {}): Promise<Exposition> {
  const res = await fetch(`${gw.url}/metrics`, { headers })
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8')
  return parseExposition(await res.text())
}

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

test('routes reloads: counters, last result and time, read from app.routeTable', async (t) => {
  const origin = await fruitOrigin(t)
  const deadPort = await closedPort()
  const dir = await mkdtemp(join(tmpdir(), 'gerbang-metrics-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const file = join(dir, 'routes.yaml')
  const gw = await startGateway(t, metricsRoutes(origin.url, deadPort))
  const watcher = new RoutesWatcher(gw.app.routeTable, { file, env: {}, logger: gw.app.log })
  t.after(() => { watcher.close() })
  const reloadSeries = (m: Exposition): Record<string, number> => seriesOf(m, 'gerbang_routes_reloads_total')
  const lastAt = (): number => Date.parse(gw.app.routeTable.lastReload.at) / 1000

  let m = await scrape(gw)
  assert.deepEqual(reloadSeries(m), { [L({ result: 'ok' })]: 0, [L({ result: 'failed' })]: 0 })
  assert.equal(valueOf(m, 'gerbang_routes_last_reload_success'), 1)
  assert.equal(valueOf(m, 'gerbang_routes_last_reload_timestamp_seconds'), lastAt())
  assert.equal(valueOf(m, 'gerbang_integrations'), 3)

  await sleep(5) // a later timestamp
  await writeFile(file, metricsRoutes(origin.url, deadPort, { baru: { upstream: origin.url } }))
  await watcher.reload('SIGHUP')
  assert.equal(gw.app.routeTable.reloads.ok, 1)
  m = await scrape(gw)
  assert.deepEqual(reloadSeries(m), { [L({ result: 'ok' })]: 1, [L({ result: 'failed' })]: 0 })
  assert.equal(valueOf(m, 'gerbang_routes_last_reload_success'), 1)
  assert.equal(valueOf(m, 'gerbang_routes_last_reload_timestamp_seconds'), lastAt())
  assert.equal(valueOf(m, 'gerbang_integrations'), 4)
  assert.equal(Object.keys(seriesOf(m, 'gerbang_circuit_breaker_state')).length, 4 * 3)

  const okAt = lastAt()
  await sleep(5)
  await writeFile(file, 'integrations:\n  rusak:\n    upstream: not-a-url\n')
  await watcher.reload('SIGHUP')
  m = await scrape(gw)
  assert.deepEqual(reloadSeries(m), { [L({ result: 'ok' })]: 1, [L({ result: 'failed' })]: 1 })
  assert.equal(valueOf(m, 'gerbang_routes_last_reload_success'), 0)
  assert.equal(valueOf(m, 'gerbang_routes_last_reload_timestamp_seconds'), lastAt())
  assert.ok(lastAt() > okAt)
  assert.equal(valueOf(m, 'gerbang_integrations'), 4, 'the previous routes keep serving')
})

test('breaker states: one series per state, 1 on the current one; opens are counted per integration', async () => {
  const metrics = new GatewayMetrics()
  const route = (name: string, breaker: { state: string, opens: number }): unknown => ({
    integration: { name },
    breaker,
    balancer: { targets: [{ origin: `http://${name}.test`, health: { up: () => name !== 'c' } }] }
  })
  // d: `circuitBreaker: off`, a breaker that stays closed.
  const holder: RouteTableHolder = {
    table: { routes: [route('a', { state: 'closed', opens: 0 }), route('b', { state: 'half-open', opens: 4 }), route('c', { state: 'open', opens: 5 }), route('d', { state: 'closed', opens: 0 })] } as unknown as RouteTable,
    closing: false,
    lastReload: { at: '2026-11-21T10:10:58.353Z', ok: false, problems: ['x'] },
    reloads: { ok: 7, failed: 2 }
  }
  metrics.readFrom({ holder, store: { kind: 'redis', isAvailable: () => false } })
  const m = parseExposition(await metrics.registry.metrics())
  const current: Record<string, string> = { a: 'closed', b: 'half-open', c: 'open', d: 'closed' }
  assert.deepEqual(seriesOf(m, 'gerbang_circuit_breaker_state'), Object.fromEntries(Object.entries(current).flatMap(([integration, now]) =>
    ['closed', 'half-open', 'open'].map((state) => [L({ integration, state }), state === now ? 1 : 0]))))
  assert.deepEqual(seriesOf(m, 'gerbang_circuit_breaker_opens_total'), {
    [L({ integration: 'a' })]: 0, [L({ integration: 'b' })]: 4, [L({ integration: 'c' })]: 5, [L({ integration: 'd' })]: 0
  })
  assert.deepEqual(seriesOf(m, 'gerbang_routes_reloads_total'), { [L({ result: 'ok' })]: 7, [L({ result: 'failed' })]: 2 })
  assert.equal(valueOf(m, 'gerbang_routes_last_reload_success'), 0)
  assert.equal(valueOf(m, 'gerbang_routes_last_reload_timestamp_seconds'), 1795255858.353)
  assert.equal(valueOf(m, 'gerbang_store_up'), 0)
  assert.deepEqual(seriesOf(m, 'gerbang_store_info'), { [L({ kind: 'redis' })]: 1 })
  assert.equal(valueOf(m, 'gerbang_integrations'), 4)
  assert.deepEqual(seriesOf(m, 'gerbang_upstream_target_up'), Object.fromEntries(['a', 'b', 'c', 'd'].map((integration) =>
    [L({ integration, target: `http://${integration}.test` }), integration === 'c' ? 0 : 1])))
})

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

test('gerbang_store_up follows Redis: 1, then 0 once it is killed', async (t) => {
  const redis = await startRedis(t, { own: true })
  const store = new RedisStore({ url: redis.url, prefix: redis.prefix })
  const origin = await fruitOrigin(t)
  const gw = await startGateway(t, metricsRoutes(origin.url, await closedPort()), {}, { store })
  await waitUntil('the store to connect', () => store.isAvailable(), 10_000)
  let m = await scrape(gw)
  assert.equal(valueOf(m, 'gerbang_store_up'), 1)
  assert.deepEqual(seriesOf(m, 'gerbang_store_info'), { [L({ kind: 'redis' })]: 1 })

  await redis.kill()
  await waitUntil('gerbang_store_up to be 0 after Redis died', async () => {
    m = await scrape(gw)
    return valueOf(m, 'gerbang_store_up') === 0
  })
  assert.deepEqual(seriesOf(m, 'gerbang_store_info'), { [L({ kind: 'redis' })]: 1 })
})
