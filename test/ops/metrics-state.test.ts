// GET /metrics: the gauges and counters of the gateway's state (routes
// reloads, circuit breakers and upstream targets, the store) follow it,
// read through a strict parser of the Prometheus text format (0.0.4).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RoutesWatcher } from '../../src/config/routes-watcher.js'
import { GatewayMetrics } from '../../src/ops/metrics.js'
import type { RouteTableHolder } from '../../src/proxy/route-tables.js'
import type { RouteTable } from '../../src/proxy/route-table.js'
import { RedisStore } from '../../src/store/redis-store.js'
import { startGateway } from '../helpers/gateway.js'
import { startRedis } from '../helpers/redis.js'
import { closedPort } from '../proxy/client.js'
import { sleep, waitUntil } from '../helpers/time.js'
import { fruitOrigin, L, metricsRoutes, parseExposition, scrape, seriesOf, valueOf, type Exposition } from './metrics-fixtures.js'

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
