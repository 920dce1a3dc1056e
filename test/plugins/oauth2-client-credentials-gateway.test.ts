// The oauth2-client-credentials plugin through the gateway: a token fetched once
// and shared by concurrent requests, replaced before it expires or after an
// upstream 401, and failures that are problems naming the plugin, never
// carrying the client secret. Real servers on 127.0.0.1 only.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { type FakeSatusehat } from '../helpers/satusehat.js'
import { startGateway, type TestGateway } from '../helpers/gateway.js'
import { assertProblem, closedPort, json, send } from '../proxy/client.js'
import { trapUnhandled } from '../helpers/unhandled.js'
import { routesYaml } from '../helpers/routes.js'
import { assertNoSecret, fakeSatusehat } from './oauth2-client-credentials-fixtures.js'

const unhandled = trapUnhandled()

// ---------------------------------------------------------------------------
// Through the gateway

const PATIENT = '/satusehat/Patient?identifier=https%3A%2F%2Ffhir.kemkes.go.id%2Fid%2Fnik%7C3601234567890001'

function satusehatRoutes (upstream: string, extra = ''): string {
  return routesYaml({
    defaults: { auth: 'none' },
    integrations: {
      satusehat: {
        upstream,
        plugins: [`oauth2-client-credentials: { tokenUrl: \${SS_TOKEN_URL}, clientId: \${SS_CLIENT_ID}, clientSecret: \${SS_CLIENT_SECRET}${extra} }`]
      }
    }
  })
}

async function gatewayFor (t: TestContext, fake: FakeSatusehat, tokenUrl = fake.tokenUrl, extra = ''): Promise<TestGateway> {
  return await startGateway(t, satusehatRoutes(fake.fhirUrl, extra), {
    SS_TOKEN_URL: tokenUrl,
    SS_CLIENT_ID: fake.clientId,
    SS_CLIENT_SECRET: fake.clientSecret
  })
}

function assertLogsClean (gw: TestGateway, fake: FakeSatusehat): void {
  assertNoSecret(JSON.stringify(gw.logs), fake)
}

test('gateway: 200 concurrent requests, one token request, the plugin\'s Authorization replaces the client\'s', async (t) => {
  const fake = await fakeSatusehat(t)
  const gw = await gatewayFor(t, fake)
  const answers = await Promise.all(Array.from({ length: 200 }, async () =>
    await send(gw.url, PATIENT, { headers: { authorization: 'Bearer the-clients-own-token' } })))
  for (const answer of answers) assert.equal(answer.status, 200, answer.body.toString('utf8'))
  assert.equal(json(answers[0]!).resourceType, 'Bundle')
  assert.equal(fake.tokenRequests.length, 1)
  assert.equal(fake.fhirRequests.length, 200)
  for (const seen of fake.fhirRequests) {
    assert.equal(seen.url, '/fhir-r4/v1/Patient?identifier=https%3A%2F%2Ffhir.kemkes.go.id%2Fid%2Fnik%7C3601234567890001')
    assert.equal(seen.authorization, `Bearer ${fake.issued[0]}`)
    assert.equal(seen.valid, true)
  }
  assertLogsClean(gw, fake)
})

test('gateway: a revoked token meets one upstream 401, one refresh and one retry; the client gets 200', async (t) => {
  const fake = await fakeSatusehat(t)
  const gw = await gatewayFor(t, fake)
  assert.equal((await send(gw.url, PATIENT)).status, 200)
  assert.equal(fake.tokenRequests.length, 1)
  assert.equal(fake.fhirRequests.length, 1)

  fake.revokeAll()
  const answer = await send(gw.url, PATIENT)
  assert.equal(answer.status, 200, answer.body.toString('utf8'))
  assert.equal(json(answer).resourceType, 'Bundle')
  assert.equal(fake.tokenRequests.length, 2)
  assert.deepEqual(fake.fhirRequests.slice(1).map((r) => [r.authorization, r.valid]), [
    [`Bearer ${fake.issued[0]}`, false],
    [`Bearer ${fake.issued[1]}`, true]
  ])
  assertLogsClean(gw, fake)
})

test('gateway: 20 concurrent requests after a revocation share one refresh; each one refused is retried once', async (t) => {
  const fake = await fakeSatusehat(t)
  const gw = await gatewayFor(t, fake)
  assert.equal((await send(gw.url, PATIENT)).status, 200)
  fake.revokeAll()
  const answers = await Promise.all(Array.from({ length: 20 }, async () => await send(gw.url, PATIENT)))
  for (const answer of answers) assert.equal(answer.status, 200, answer.body.toString('utf8'))
  assert.equal(fake.tokenRequests.length, 2)
  // How many were sent before the first 401 dropped the token depends on
  // timing; each of those, and only those, was sent once more.
  const refused = fake.fhirRequests.filter((r) => !r.valid)
  assert.ok(refused.length >= 1)
  for (const r of refused) assert.equal(r.authorization, `Bearer ${fake.issued[0]}`)
  assert.equal(fake.fhirRequests.length, 1 + 20 + refused.length)
  const accepted = fake.fhirRequests.slice(1).filter((r) => r.valid)
  assert.equal(accepted.length, 20)
  for (const r of accepted) assert.equal(r.authorization, `Bearer ${fake.issued[1]}`)
  assertLogsClean(gw, fake)
})

test('gateway: a token past expires_in - 60 s is replaced before the upstream refuses it', async (t) => {
  // Date mocked (timers real), as in the plugin's own tests: 1.1 s pass at once.
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() })
  const fake = await fakeSatusehat(t)
  fake.expiresIn = '61'
  const gw = await gatewayFor(t, fake)
  assert.equal((await send(gw.url, PATIENT)).status, 200)
  assert.equal((await send(gw.url, PATIENT)).status, 200)
  assert.equal(fake.tokenRequests.length, 1)
  t.mock.timers.tick(1100)
  assert.equal((await send(gw.url, PATIENT)).status, 200)
  assert.equal(fake.tokenRequests.length, 2)
  assert.deepEqual(fake.fhirRequests.map((r) => r.authorization), [
    `Bearer ${fake.issued[0]}`, `Bearer ${fake.issued[0]}`, `Bearer ${fake.issued[1]}`
  ])
  assert.ok(fake.fhirRequests.every((r) => r.valid))
  assertLogsClean(gw, fake)
})

test('gateway: token endpoint down is a 502 UPSTREAM_AUTH_FAILED naming the plugin, without the secret', async (t) => {
  const fake = await fakeSatusehat(t)
  const port = await closedPort()
  const gw = await gatewayFor(t, fake, `http://127.0.0.1:${port}/oauth2/v1/accesstoken`)
  const answer = await send(gw.url, PATIENT)
  const problem = assertProblem(answer, 502, 'UPSTREAM_AUTH_FAILED')
  assert.equal(problem.plugin, 'oauth2-client-credentials')
  assert.match(String(problem.detail), /the token endpoint refused the connection/)
  assertNoSecret(answer.body.toString('utf8'), fake)
  assert.equal(fake.fhirRequests.length, 0)
  assertLogsClean(gw, fake)
})

test('gateway: refused credentials are a 502 that carries neither the secret nor the endpoint\'s answer', async (t) => {
  const fake = await fakeSatusehat(t)
  fake.tokenMode = { status: 401 }
  const gw = await gatewayFor(t, fake)
  const answer = await send(gw.url, PATIENT)
  const problem = assertProblem(answer, 502, 'UPSTREAM_AUTH_FAILED')
  assert.equal(problem.plugin, 'oauth2-client-credentials')
  assert.match(String(problem.detail), /the token endpoint answered 401/)
  assertNoSecret(answer.body.toString('utf8'), fake)
  assert.ok(!answer.body.toString('utf8').includes('invalid_client'))
  assert.equal(fake.fhirRequests.length, 0)
  assertLogsClean(gw, fake)
})

test('gateway: a token endpoint slower than the plugin\'s timeout is a 504 UPSTREAM_TIMEOUT', async (t) => {
  const fake = await fakeSatusehat(t)
  fake.tokenDelayMs = 3000
  const gw = await gatewayFor(t, fake, fake.tokenUrl, ', timeout: 300ms')
  const answer = await send(gw.url, PATIENT)
  const problem = assertProblem(answer, 504, 'UPSTREAM_TIMEOUT')
  assert.equal(problem.plugin, 'oauth2-client-credentials')
  assert.equal(fake.fhirRequests.length, 0)
  assertLogsClean(gw, fake)
})

test('no unhandled rejection or exception escaped', () => {
  assert.deepEqual(unhandled, [])
})
