// What the circuit breaker tests (test/proxy/circuit-breaker-*.test.ts) share:
// the breaker of a running gateway's integration, read from its route table,
// and milliseconds as their diagnostics print them.
import assert from 'node:assert/strict'
import type { RouteTable } from '../../src/proxy/route-table.js'
import type { TestGateway } from '../helpers/gateway.js'

export function breakerOf (gw: TestGateway, name = 'yankes'): RouteTable['routes'][number]['breaker'] {
  const route = gw.app.routeTable.table.routes.find((r) => r.integration.name === name)
  assert.ok(route !== undefined)
  return route.breaker
}

export const round = (ms: number): string => ms.toFixed(1)
