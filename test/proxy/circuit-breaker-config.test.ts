// Circuit breakers in routes.yaml (README "Circuit breakers and retries"):
// the defaults, fields merged over `defaults:` one by one, off, and each
// invalid value reported at its own path and line. Only the parser runs.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseRoutes, type Integration } from '../../src/config/routes-loader.js'
import { oneIntegration, routesFrom } from '../helpers/gateway.js'

function integrationOf (yaml: string, name = 'yankes'): Integration {
  const integration = routesFrom(yaml).integrations.find((i) => i.name === name)
  assert.ok(integration !== undefined)
  return integration
}

test('routes.yaml: retries and circuitBreaker default to 2 and { failures: 5, openFor: 10s }', () => {
  const integration = integrationOf(oneIntegration('yankes', 'http://127.0.0.1:3000'))
  assert.equal(integration.retries, 2)
  assert.deepEqual(integration.circuitBreaker, { failures: 5, openForMs: 10_000 })
})

test('routes.yaml: circuitBreaker fields merge over defaults one by one; off and false turn it off', () => {
  const yaml = [
    'defaults:',
    '  auth: none',
    '  retries: 4',
    '  circuitBreaker: { failures: 3 }',
    'integrations:',
    '  yankes: { upstream: "http://127.0.0.1:3000", circuitBreaker: { openFor: 1m }, retries: 0 }',
    '  bpjs: { upstream: "http://127.0.0.1:3001" }',
    '  dashboard: { upstream: "http://127.0.0.1:3002", circuitBreaker: off }',
    '  otorisasi: { upstream: "http://127.0.0.1:3003", circuitBreaker: false }',
    ''
  ].join('\n')
  assert.deepEqual(integrationOf(yaml, 'yankes').circuitBreaker, { failures: 3, openForMs: 60_000 })
  assert.equal(integrationOf(yaml, 'yankes').retries, 0)
  assert.deepEqual(integrationOf(yaml, 'bpjs').circuitBreaker, { failures: 3, openForMs: 10_000 })
  assert.equal(integrationOf(yaml, 'bpjs').retries, 4)
  assert.equal(integrationOf(yaml, 'dashboard').circuitBreaker, null)
  assert.equal(integrationOf(yaml, 'otorisasi').circuitBreaker, null)

  const offByDefault = 'defaults:\n  circuitBreaker: off\nintegrations:\n  yankes: { upstream: "http://127.0.0.1:3000" }\n' +
    '  bpjs: { upstream: "http://127.0.0.1:3001", circuitBreaker: {} }\n'
  assert.equal(integrationOf(offByDefault, 'yankes').circuitBreaker, null)
  assert.deepEqual(integrationOf(offByDefault, 'bpjs').circuitBreaker, { failures: 5, openForMs: 10_000 }, '{} turns it back on')
})

test('routes.yaml: invalid retries and circuitBreaker values are reported at their own path and line', () => {
  const cases: Array<{ field: string, path: string, message: RegExp }> = [
    { field: 'retries: 6', path: 'integrations.yankes.retries', message: /must be an integer from 0 to 5 \(got 6\)/ },
    { field: 'retries: -1', path: 'integrations.yankes.retries', message: /must be an integer from 0 to 5/ },
    { field: 'circuitBreaker: { failures: 0 }', path: 'integrations.yankes.circuitBreaker.failures', message: /must be an integer from 1 to 1000 \(got 0\)/ },
    { field: 'circuitBreaker: { failures: 1001 }', path: 'integrations.yankes.circuitBreaker.failures', message: /from 1 to 1000/ },
    { field: 'circuitBreaker: { failures: 2.5 }', path: 'integrations.yankes.circuitBreaker.failures', message: /from 1 to 1000/ },
    { field: 'circuitBreaker: { openFor: 10 seconds }', path: 'integrations.yankes.circuitBreaker.openFor', message: /duration like 250ms/ },
    { field: 'circuitBreaker: { openFor: 0s }', path: 'integrations.yankes.circuitBreaker.openFor', message: /openFor must be longer than 0/ },
    { field: 'circuitBreaker: { threshold: 5 }', path: 'integrations.yankes.circuitBreaker.threshold', message: /unknown field 'threshold'/ },
    { field: 'circuitBreaker: on', path: 'integrations.yankes.circuitBreaker', message: /must be off, false, or a mapping/ },
    { field: 'circuitBreaker: true', path: 'integrations.yankes.circuitBreaker', message: /must be off, false, or a mapping/ }
  ]
  for (const c of cases) {
    const result = parseRoutes(`integrations:\n  yankes:\n    upstream: http://127.0.0.1:3000\n    ${c.field}\n`)
    assert.equal(result.ok, false, c.field)
    if (result.ok) continue
    assert.equal(result.problems.length, 1, `${c.field}: ${JSON.stringify(result.problems)}`)
    const [problem] = result.problems
    assert.equal(problem?.path, c.path, c.field)
    assert.equal(problem?.line, 4, c.field)
    assert.match(problem?.message ?? '', c.message, c.field)
  }
  const defaults = parseRoutes('defaults:\n  circuitBreaker:\n    openFor: 0ms\nintegrations:\n  yankes: { upstream: "http://127.0.0.1:3000" }\n')
  assert.deepEqual(defaults.ok ? [] : defaults.problems, [{ path: 'defaults.circuitBreaker.openFor', line: 3, message: 'openFor must be longer than 0' }])
})
