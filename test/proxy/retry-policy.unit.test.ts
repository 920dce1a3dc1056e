// When a failed attempt may be sent again, and after how long (src/proxy/retry-policy.ts).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { backoffMs, isConnectionFailure, isIdempotent, isReplayable } from '../../src/proxy/retry-policy.js'

test('connection failures are retryable; timeouts and answers are not', () => {
  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']) assert.ok(isConnectionFailure(code), code)
  for (const code of ['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'ENOTFOUND', '']) assert.ok(!isConnectionFailure(code), code)
})

test('idempotent methods are those of RFC 9110 section 9.2.2', () => {
  assert.deepEqual(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'POST', 'PATCH'].filter(isIdempotent), ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'])
})

test('a request is replayable when idempotent or keyed, and its body is not a consumed stream', () => {
  assert.ok(isReplayable({ method: 'GET', path: '/', body: null }, undefined))
  assert.ok(!isReplayable({ method: 'POST', path: '/', body: null }, undefined))
  assert.ok(isReplayable({ method: 'POST', path: '/', body: Buffer.from('{}') }, 'key-1'))
  assert.ok(!isReplayable({ method: 'PUT', path: '/', body: Readable.from([Buffer.from('x')]) }, undefined))
})

test('the backoff doubles each retry, jittered between half and one and a half times', () => {
  assert.equal(backoffMs(0, 0), 12.5)
  assert.equal(backoffMs(0, 0.5), 25)
  assert.equal(backoffMs(2, 0.5), 100)
  assert.ok(backoffMs(3, 0.999) < 300 && backoffMs(3, 0) === 100)
})
