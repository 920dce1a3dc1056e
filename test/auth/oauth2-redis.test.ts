// The token endpoint on the Redis store: tokens issued, stored and expired by
// Redis itself, clients refused as with the memory store, and a store that
// went down answered 503 at once, never taken for a bad client. Each test
// starts a redis-server of its own.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { sleep } from '../helpers/time.js'
import {
  assertOAuthError, assertToken, assertTokenProblem, basic, call, createClient, redisServer, secrets
} from './oauth2-fixtures.js'

// call() checks every answer for the secrets created; the check
// test/auth/oauth2-refusals.test.ts ends with, that there were some, made here too.
after(() => { assert.ok(secrets.size > 0, 'call() had client secrets to look for') })

test('Redis store: tokens are issued and stored, revoked and expired clients refused', async (t) => {
  const { server } = await redisServer(t)
  const { client, key } = await createClient(server)
  let before = Date.now()
  await assertToken(server, await call(server.url, { form: [['client_id', client.id], ['client_secret', key]] }), client, before)
  before = Date.now()
  await assertToken(server, await call(server.url, { headers: { authorization: basic(client.id, key) } }), client,
    before)

  const expired = await createClient(server, { expiresAt: new Date(Date.now() - 1000).toISOString() })
  assertOAuthError(await call(server.url, { form: [['client_id', expired.client.id], ['client_secret', expired.key]] }), 401, 'invalid_client')

  await server.clients.revoke(client.id)
  assertOAuthError(await call(server.url, { form: [['client_id', client.id], ['client_secret', key]] }), 401, 'invalid_client')
})

test('Redis store: with tokenTtlMs 300 the token stops resolving once it expired', async (t) => {
  const { server } = await redisServer(t, 300)
  const { client, key } = await createClient(server)
  const before = Date.now()
  const token = await assertToken(server, await call(server.url, { form: [['client_id', client.id], ['client_secret', key]] }), client, before, 300)
  await sleep(400) // Redis expires the key on its own clock
  assert.equal(await server.store.resolveToken(server.hasher.hash(token)), undefined)
})

test('Redis store down: 503 STORE_UNAVAILABLE within 1 s, never 401', async (t) => {
  const { server, kill } = await redisServer(t)
  const { client, key } = await createClient(server)
  await kill()
  const form: Array<[string, string]> = [['client_id', client.id], ['client_secret', key]]
  for (const options of [{ form }, { headers: { authorization: basic(client.id, key) } }]) {
    const started = Date.now()
    const answer = await call(server.url, options)
    const elapsed = Date.now() - started
    assertTokenProblem(answer, 503, 'STORE_UNAVAILABLE')
    assert.ok(elapsed < 1000, `answered in ${elapsed} ms`)
  }
})
