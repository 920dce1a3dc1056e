// The token endpoint (POST /oauth2/v1/accesstoken) refusing: RFC 6749 5.2
// errors for bad requests and bad, revoked or expired clients, problem
// documents for what the gateway itself refuses, and no secret or token in a
// response body or a log line. Real servers on 127.0.0.1, the memory store.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKey } from '../../src/auth/secrets.js'
import {
  assertOAuthError, assertTokenProblem, basic, call, createClient, secrets, startTokenServer
} from './oauth2-fixtures.js'

// ---------------------------------------------------------------------------
// Refusals: RFC 6749 section 5.2

test('request errors answer 400 invalid_request or unsupported_grant_type', async (t) => {
  const server = await startTokenServer(t)
  const { client, key } = await createClient(server)
  const creds: Array<[string, string]> = [['client_id', client.id], ['client_secret', key]]
  const cases: Array<{
    name: string
    error: string
    query?: string
    form?: Array<[string, string]>
    body?: string
    headers?: Record<string, string>
  }> = [
    { name: 'grant_type missing', error: 'invalid_request', query: '', form: creds },
    { name: 'grant_type empty', error: 'invalid_request', query: '?grant_type=', form: creds },
    { name: 'grant_type password', error: 'unsupported_grant_type', query: '?grant_type=password', form: creds },
    { name: 'grant_type authorization_code in the body', error: 'unsupported_grant_type', query: '', form: [['grant_type', 'authorization_code'], ...creds] },
    { name: 'client_id missing', error: 'invalid_request', form: [['client_secret', key]] },
    { name: 'client_id empty', error: 'invalid_request', form: [['client_id', ''], ['client_secret', key]] },
    { name: 'client_secret missing', error: 'invalid_request', form: [['client_id', client.id]] },
    { name: 'no body and no credentials', error: 'invalid_request' },
    { name: 'client_id twice', error: 'invalid_request', form: [['client_id', client.id], ...creds] },
    { name: 'client_secret twice', error: 'invalid_request', form: [...creds, ['client_secret', key]] },
    { name: 'grant_type twice in the query', error: 'invalid_request', query: '?grant_type=client_credentials&grant_type=client_credentials', form: creds },
    { name: 'grant_type differing between query and body', error: 'invalid_request', form: [['grant_type', 'password'], ...creds] },
    { name: 'client_secret in the query string', error: 'invalid_request', query: `?grant_type=client_credentials&client_id=${client.id}&client_secret=${key}` },
    {
      name: 'a JSON body',
      error: 'invalid_request',
      body: JSON.stringify({ client_id: client.id, client_secret: key }),
      headers: { 'content-type': 'application/json' }
    },
    { name: 'a text body', error: 'invalid_request', body: `client_id=${client.id}&client_secret=${key}`, headers: { 'content-type': 'text/plain' } },
    { name: 'Basic and form credentials together', error: 'invalid_request', form: creds, headers: { authorization: basic(client.id, key) } },
    { name: 'Basic credentials without a colon', error: 'invalid_request', headers: { authorization: 'Basic ' + Buffer.from(client.id).toString('base64') } },
    { name: 'Basic credentials with an empty secret', error: 'invalid_request', headers: { authorization: basic(client.id, '') } }
  ]
  for (const c of cases) {
    await t.test(c.name, async () => {
      const answer = await call(server.url, {
        ...(c.query !== undefined ? { query: c.query } : {}),
        ...(c.form !== undefined ? { form: c.form } : {}),
        ...(c.body !== undefined ? { body: c.body } : {}),
        ...(c.headers !== undefined ? { headers: c.headers } : {})
      })
      assertOAuthError(answer, 400, c.error)
    })
  }
})

test('client authentication failures answer 401 invalid_client', async (t) => {
  const server = await startTokenServer(t)
  const { client, key } = await createClient(server)
  const other = await createClient(server)
  const unknownKey = generateKey()
  secrets.add(unknownKey)
  const cases: Array<{ name: string, id: string, secret: string }> = [
    { name: 'a secret that is not shaped like a key', id: client.id, secret: 'hunter2-not-a-key' },
    { name: 'an unknown key', id: client.id, secret: unknownKey },
    { name: 'the key of another client', id: client.id, secret: other.key },
    { name: 'an unknown client id', id: '00000000-0000-4000-8000-000000000000', secret: key },
    { name: 'a client id that differs in length', id: client.id + 'x', secret: key },
    { name: 'a client id that differs in case', id: client.id.toUpperCase(), secret: key }
  ]
  for (const c of cases) {
    await t.test(`${c.name}, in the form body`, async () => {
      const answer = await call(server.url, { form: [['client_id', c.id], ['client_secret', c.secret]] })
      assertOAuthError(answer, 401, 'invalid_client')
      assert.ok(!answer.text.includes(c.secret))
    })
    await t.test(`${c.name}, by HTTP Basic: WWW-Authenticate challenges with Basic`, async () => {
      const answer = await call(server.url, { headers: { authorization: basic(c.id, c.secret) } })
      assertOAuthError(answer, 401, 'invalid_client', { basicChallenge: true })
      assert.ok(!answer.text.includes(c.secret))
    })
  }
  await t.test('an Authorization scheme other than Basic', async () => {
    const answer = await call(server.url, { headers: { authorization: `Bearer ${key}` } })
    assertOAuthError(answer, 401, 'invalid_client', { basicChallenge: true })
  })
})

test('a revoked client gets invalid_client', async (t) => {
  const server = await startTokenServer(t)
  const { client, key } = await createClient(server)
  await server.clients.revoke(client.id)
  const answer = await call(server.url, { form: [['client_id', client.id], ['client_secret', key]] })
  assertOAuthError(answer, 401, 'invalid_client')
  assert.equal(answer.json.error_description, 'the client has been revoked')
  const byBasic = await call(server.url, { headers: { authorization: basic(client.id, key) } })
  assertOAuthError(byBasic, 401, 'invalid_client', { basicChallenge: true })
})

test('an expired client gets invalid_client', async (t) => {
  const server = await startTokenServer(t)
  const { client, key } = await createClient(server, { expiresAt: new Date(Date.now() - 60_000).toISOString() })
  const answer = await call(server.url, { form: [['client_id', client.id], ['client_secret', key]] })
  assertOAuthError(answer, 401, 'invalid_client')
  assert.match(answer.json.error_description as string, /^the client expired at /)
})

// ---------------------------------------------------------------------------
// Gateway errors: problem+json

test('a body over 8 KiB answers 413 PAYLOAD_TOO_LARGE as problem+json', async (t) => {
  const server = await startTokenServer(t)
  const { client, key } = await createClient(server)
  const answer = await call(server.url, { form: [['client_id', client.id], ['client_secret', key], ['padding', 'x'.repeat(9000)]] })
  assertTokenProblem(answer, 413, 'PAYLOAD_TOO_LARGE')
})

test('other methods answer 405 METHOD_NOT_ALLOWED with Allow: POST', async (t) => {
  const server = await startTokenServer(t)
  for (const method of ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
    const answer = await call(server.url, { method })
    assertTokenProblem(answer, 405, 'METHOD_NOT_ALLOWED')
    assert.equal(answer.headers.get('allow'), 'POST')
  }
  const head = await call(server.url, { method: 'HEAD' })
  assert.equal(head.status, 405)
  assert.equal(head.headers.get('allow'), 'POST')
})

test('neither the secret nor the token reaches a log line', async (t) => {
  const server = await startTokenServer(t, { logs: true })
  const { client, key } = await createClient(server)
  const ok = await call(server.url, { form: [['client_id', client.id], ['client_secret', key]] })
  assert.equal(ok.status, 200)
  const token = ok.json.access_token as string
  assert.equal((await call(server.url, { headers: { authorization: basic(client.id, key) } })).status, 200)
  assert.equal((await call(server.url, { form: [['client_id', 'someone-else'], ['client_secret', key]] })).status, 401)
  assert.equal((await call(server.url, { body: JSON.stringify({ client_secret: key }), headers: { 'content-type': 'application/json' } })).status, 400)
  assert.ok(server.logs.some((l) => l.includes('oauth2 token issued')), 'issuing a token is logged')
  for (const line of server.logs) {
    assert.ok(!line.includes(key), `a log line carries the secret: ${line}`)
    assert.ok(!line.includes(token), `a log line carries the token: ${line}`)
  }
})

test('no response body in this file carried a client secret', () => {
  // call() asserts it on every answer; this makes sure it had secrets to look for.
  assert.ok(secrets.size > 5)
})
