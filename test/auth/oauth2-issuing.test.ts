// The token endpoint (POST /oauth2/v1/accesstoken, client credentials)
// issuing tokens: SATUSEHAT's request and answer shapes and RFC 6749's, HTTP
// Basic, and how long a token lives (never past its client or a rotated key).
// Real servers on 127.0.0.1, the memory store.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import Fastify from 'fastify'
import { oauth2Plugin } from '../../src/auth/oauth2.js'
import { SecretHasher } from '../../src/auth/secrets.js'
import { MemoryStore } from '../../src/store/memory-store.js'
import { assertToken, basic, call, createClient, PEPPER, secrets, startTokenServer } from './oauth2-fixtures.js'

// call() checks every answer for the secrets created; the check
// test/auth/oauth2-refusals.test.ts ends with, that there were some, made here too.
after(() => { assert.ok(secrets.size > 0, 'call() had client secrets to look for') })

test('SATUSEHAT style: grant_type in the query, credentials in the form body, 200 with the token stored', async (t) => {
  const server = await startTokenServer(t)
  const { client, key } = await createClient(server)
  const before = Date.now()
  const answer = await call(server.url, { form: [['client_id', client.id], ['client_secret', key]] })
  assert.equal(answer.json.expires_in, '14399')
  await assertToken(server, answer, client, before)
})

test('RFC 6749 style: grant_type in the body, with a charset on the content type', async (t) => {
  const server = await startTokenServer(t)
  const { client, key } = await createClient(server)
  const before = Date.now()
  const answer = await call(server.url, {
    query: '',
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: client.id, client_secret: key }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' }
  })
  await assertToken(server, answer, client, before)
})

test('grant_type in both the query and the body is accepted when they agree', async (t) => {
  const server = await startTokenServer(t)
  const { client, key } = await createClient(server)
  const before = Date.now()
  const answer = await call(server.url, { form: [['grant_type', 'client_credentials'], ['client_id', client.id], ['client_secret', key]] })
  await assertToken(server, answer, client, before)
})

test('HTTP Basic client authentication, with and without an empty form body', async (t) => {
  const server = await startTokenServer(t)
  const { client, key } = await createClient(server)
  let before = Date.now()
  await assertToken(server, await call(server.url, { headers: { authorization: basic(client.id, key) } }), client,
    before)
  before = Date.now()
  await assertToken(server, await call(server.url, { form: [], headers: { authorization: basic(client.id, key) } }),
    client, before)
  before = Date.now()
  const lowerScheme = `basic ${Buffer.from(`${client.id}:${key}`).toString('base64')}`
  await assertToken(server, await call(server.url, { headers: { authorization: lowerScheme } }), client, before)
})

test('every token is new, and each one resolves to its client', async (t) => {
  const server = await startTokenServer(t)
  const { client, key } = await createClient(server)
  const form: Array<[string, string]> = [['client_id', client.id], ['client_secret', key]]
  let before = Date.now()
  const first = await assertToken(server, await call(server.url, { form }), client, before)
  before = Date.now()
  const second = await assertToken(server, await call(server.url, { form }), client, before)
  assert.notEqual(first, second)
})

test('a token never outlives its client: expires_in is cut to the client expiry', async (t) => {
  const server = await startTokenServer(t)
  const expiresAt = new Date(Date.now() + 5500).toISOString()
  const { client, key } = await createClient(server, { expiresAt })
  const answer = await call(server.url, { form: [['client_id', client.id], ['client_secret', key]] })
  assert.equal(answer.status, 200, answer.text)
  assert.ok(['4', '5'].includes(answer.json.expires_in as string), `expires_in ${String(answer.json.expires_in)}`)
  const resolved = await server.store.resolveToken(server.hasher.hash(answer.json.access_token as string))
  assert.ok(resolved?.expiresAt !== undefined && Math.abs(resolved.expiresAt - Date.parse(expiresAt)) < 1000)
})

test('a token issued on a rotated key in its grace period dies with that key', async (t) => {
  const server = await startTokenServer(t)
  const { client, key } = await createClient(server)
  const rotated = await server.clients.rotate(client.id, 3000)
  assert.ok(rotated !== undefined)
  secrets.add(rotated.key)
  const answer = await call(server.url, { form: [['client_id', client.id], ['client_secret', key]] })
  assert.equal(answer.status, 200, answer.text)
  assert.ok(['2', '3'].includes(answer.json.expires_in as string), `expires_in ${String(answer.json.expires_in)}`)
})

test('with tokenTtlMs 300 the token stops resolving once it expired', async (t) => {
  // The memory store reads expiry from Date.now(): a mocked Date (timers stay real) moves on at once.
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() })
  const server = await startTokenServer(t, { tokenTtlMs: 300 })
  const { client, key } = await createClient(server)
  const before = Date.now()
  const answer = await call(server.url, { form: [['client_id', client.id], ['client_secret', key]] })
  const token = await assertToken(server, answer, client, before, 300)
  assert.equal(answer.json.expires_in, '0')
  t.mock.timers.tick(299)
  assert.notEqual(await server.store.resolveToken(server.hasher.hash(token)), undefined, 'still valid just before it expires')
  t.mock.timers.tick(101)
  assert.equal(await server.store.resolveToken(server.hasher.hash(token)), undefined)
})

test('the plugin refuses a tokenTtlMs that is not a positive duration', async () => {
  for (const tokenTtlMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
    const app = Fastify({ logger: false })
    await assert.rejects(async () => {
      await app.register(oauth2Plugin, { store: new MemoryStore(), hasher: new SecretHasher(PEPPER), tokenTtlMs })
    }, /tokenTtlMs must be a positive number of milliseconds/)
    await app.close()
  }
})
