// /doc says, per integration, where a key is accepted besides x-api-key:
// the old API manager's query parameter (apiKeyQuery) and form field
// (apiKeyForm), so a developer moving an old app finds it on the page.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildOpenApi } from '../../src/docs/openapi.js'
import { routesFrom } from '../helpers/gateway.js'

const ROUTES = `
integrations:
  lama:
    upstream: http://127.0.0.1:9
    apiKeyQuery: X-API-KEY
    apiKeyForm: X-API-KEY
  kueri:
    upstream: http://127.0.0.1:9
    apiKeyQuery: api_key
  baru:
    upstream: http://127.0.0.1:9
  terbuka:
    upstream: http://127.0.0.1:9
    auth: none
`

test('/doc names the query parameter and the form field an integration takes its key from', () => {
  const tags = buildOpenApi(routesFrom(ROUTES)).tags as Array<{ name: string, description: string }>
  const description = (name: string): string => tags.find((t) => t.name === name)?.description ?? assert.fail(`no tag ${name}`)
  assert.match(description('lama'), /parameter kueri `X-API-KEY`/)
  assert.match(description('lama'), /field formulir `X-API-KEY`/)
  assert.match(description('lama'), /application\/x-www-form-urlencoded/)
  assert.match(description('kueri'), /parameter kueri `api_key`/)
  assert.doesNotMatch(description('kueri'), /formulir/)
  assert.doesNotMatch(description('baru'), /parameter kueri|formulir/)
  assert.doesNotMatch(description('terbuka'), /parameter kueri|formulir/)
})
