import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Buckets, classIndex, DURATION_BUCKETS, methodIndex, METHODS, Series, STATUS_CLASSES } from '../../src/ops/metrics-series.js'
import { PrecountedHistogram } from '../../src/ops/precounted-histogram.js'

// The per-request counting of src/ops/metrics.ts, without an app: the label
// indexes, the histogram buckets and their scrape-time reading.

test('methods and status classes map to their label index; other methods share OTHER', () => {
  for (const [i, method] of METHODS.entries()) if (method !== 'OTHER') assert.equal(methodIndex(method), i)
  assert.equal(methodIndex('PROPFIND'), METHODS.indexOf('OTHER'))
  assert.equal(methodIndex(undefined), METHODS.indexOf('OTHER'))
  assert.deepEqual([100, 199, 200, 304, 404, 499, 500, 599].map((s) => STATUS_CLASSES[classIndex(s)]),
    ['1xx', '1xx', '2xx', '3xx', '4xx', '4xx', '5xx', '5xx'])
})

test('Buckets counts each observation once, in the first bucket that holds it (bounds inclusive)', () => {
  const buckets = new Buckets()
  buckets.observe(0.001)
  buckets.observe(0.0011)
  buckets.observe(60)
  buckets.observe(61)
  assert.equal(buckets.count, 4)
  assert.ok(Math.abs(buckets.sum - 121.0021) < 1e-9)
  const counts = [...buckets.counts]
  assert.equal(counts[0], 1)
  assert.equal(counts[1], 1)
  assert.equal(counts[DURATION_BUCKETS.length - 1], 1)
  // Above the last bound: only in +Inf, which is the count.
  assert.equal(counts.reduce((a, b) => a + b, 0), 3)
})

test('Series keeps 32 distinct upstream error codes, then counts the rest as other', () => {
  const series = new Series('x')
  for (let i = 0; i < 40; i++) series.upstreamError(`E${i}`)
  series.upstreamError('E0')
  assert.equal(series.upstreamErrors.size, 33)
  assert.equal(series.upstreamErrors.get('E0'), 2)
  assert.equal(series.upstreamErrors.get('other'), 8)
})

test('PrecountedHistogram reads cumulative buckets, +Inf, sum and count, and skips empty series', async () => {
  const full = new Buckets()
  full.observe(0.003)
  full.observe(0.003)
  full.observe(100)
  const empty = new Buckets()
  const histogram = new PrecountedHistogram('h', 'help', () => [['a', full], ['b', empty]])
  const { name, type, values } = await histogram.get()
  assert.equal(name, 'h')
  assert.equal(type, 'histogram')
  assert.equal(values.length, DURATION_BUCKETS.length + 3)
  assert.ok(values.every((v) => v.labels.integration === 'a'))
  assert.deepEqual(values[0], { metricName: 'h_bucket', labels: { integration: 'a', le: 0.001 }, value: 0 })
  assert.deepEqual(values[1], { metricName: 'h_bucket', labels: { integration: 'a', le: 0.005 }, value: 2 })
  assert.deepEqual(values[DURATION_BUCKETS.length - 1], { metricName: 'h_bucket', labels: { integration: 'a', le: 60 }, value: 2 })
  assert.deepEqual(values.slice(-3), [
    { metricName: 'h_bucket', labels: { integration: 'a', le: '+Inf' }, value: 3 },
    { metricName: 'h_sum', labels: { integration: 'a' }, value: full.sum },
    { metricName: 'h_count', labels: { integration: 'a' }, value: 3 }
  ])
  assert.ok(Math.abs(full.sum - 100.006) < 1e-9)
})
