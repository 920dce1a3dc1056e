import { test } from 'node:test'
import assert from 'node:assert/strict'
import { queryParam, withoutQueryParam } from '../../src/auth/query-params.js'

// A key sent in the query string (apiKeyQuery): read decoded, and taken out
// of what is forwarded with every other byte as the client sent it.

test('queryParam reads one parameter, decoded; undefined when absent', () => {
  assert.equal(queryParam('', 'api_key'), undefined)
  assert.equal(queryParam('a=1&api_key=gb_x%2By&b=2', 'api_key'), 'gb_x+y')
  assert.equal(queryParam('api%5Fkey=v', 'api_key'), 'v')
  assert.equal(queryParam('api_key', 'api_key'), '')
  assert.equal(queryParam('a=1', 'api_key'), undefined)
  // A malformed escape is compared as written instead of failing the request.
  assert.equal(queryParam('api_key=%E0%A4%A', 'api_key'), '%E0%A4%A')
})

test('withoutQueryParam drops every occurrence of the parameter and keeps the rest byte for byte', () => {
  assert.equal(withoutQueryParam('a=%20x&api_key=k&b=+y&api%5Fkey=k2', 'api_key'), 'a=%20x&b=+y')
  assert.equal(withoutQueryParam('api_key=k', 'api_key'), '')
  assert.equal(withoutQueryParam('a=1', 'api_key'), 'a=1')
})
