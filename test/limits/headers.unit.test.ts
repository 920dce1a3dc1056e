// The structured-field reader the rate-limit tests rely on: it must accept
// what RFC 8941 and the ratelimit-headers draft allow, and refuse the rest,
// or the acceptance tests could pass on malformed fields.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Decimal, Token, parseList, parseRateLimit, parseRateLimitPolicy } from './headers.js'

test('RFC 8941 Lists of Items with parameters', () => {
  const items = parseList('"default";q=60;w=60, "daily";q=10000;w=86400')
  assert.equal(items.length, 2)
  assert.equal(items[0]?.value, 'default')
  assert.deepEqual([...(items[0]?.params ?? [])], [['q', 60n], ['w', 60n]])
  assert.deepEqual([...(items[1]?.params ?? [])], [['q', 10000n], ['w', 86400n]])

  const mixed = parseList('sugar, "a \\"quoted\\" \\\\ one";x;y=?0, -12;z=4.5, tok/en:x;k=abc')
  assert.ok(mixed[0]?.value instanceof Token && mixed[0].value.value === 'sugar')
  assert.equal(mixed[1]?.value, 'a "quoted" \\ one')
  assert.deepEqual([...(mixed[1]?.params ?? [])], [['x', true], ['y', false]])
  assert.equal(mixed[2]?.value, -12n)
  assert.ok(mixed[2]?.params.get('z') instanceof Decimal)
  assert.ok(mixed[3]?.value instanceof Token && mixed[3].value.value === 'tok/en:x')
  assert.deepEqual(parseList(['"a";q=1', '"b";q=2']).map((i) => i.value), ['a', 'b'], 'field lines are joined')
  assert.deepEqual(parseList(''), [])
  assert.deepEqual(parseList('  "a" ,\t"b"  ').map((i) => i.value), ['a', 'b'])

  for (const bad of ['"a",', '"a" "b"', '"a";Q=1', '"a";q=1.', '"unterminated', '"a";q=1234567890123456', '"a"x',
    '("a" "b")', ',"a"', '"a";q=?2', '"\\n"', '"a";q=1.2345']) {
    assert.throws(() => parseList(bad), /offset/, `should refuse ${JSON.stringify(bad)}`)
  }
})

test('RateLimit-Policy and RateLimit as draft-ietf-httpapi-ratelimit-headers-11 has them', () => {
  const policies = parseRateLimitPolicy('"default";q=100;w=60, "daily";q=5;w=86400')
  assert.deepEqual([...policies].map(([n, p]) => [n, p.q, p.w]), [['default', 100, 60], ['daily', 5, 86400]])
  const limits = parseRateLimit('"default";r=59;t=42')
  assert.deepEqual([...limits].map(([n, e]) => [n, e.r, e.t]), [['default', 59, 42]])

  assert.throws(() => parseRateLimitPolicy('default;q=100;w=60'), /must be a String/, 'a Token is not a policy name')
  assert.throws(() => parseRateLimitPolicy('"default";w=60'), /required "q"/)
  assert.throws(() => parseRateLimitPolicy('"default";q="100"'), /must be an Integer/)
  assert.throws(() => parseRateLimitPolicy('"default";q=1.5'), /must be an Integer/)
  assert.throws(() => parseRateLimitPolicy('"a";q=1, "a";q=2'), /twice/)
  assert.throws(() => parseRateLimit('"default";t=5'), /required "r"/)
  assert.throws(() => parseRateLimit('"default";r=-1;t=5'), /negative/)
})
