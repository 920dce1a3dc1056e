// The token endpoint answers token_type "BearerToken" (as SATUSEHAT does),
// and clients that echo it send `Authorization: BearerToken <token>`: the
// gateway accepts that scheme like Bearer, any case, never forwards it, and
// names any other scheme it cannot use.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway } from '../helpers/gateway.js'
import { startEchoOrigin } from '../helpers/origin.js'
import { assertProblem, send } from '../proxy/client.js'

test('BearerToken is accepted like Bearer, in any case, and never reaches the upstream', async (t) => {
  const origin = await startEchoOrigin()
  t.after(origin.close)
  const gw = await startGateway(t, `integrations:\n  sehat:\n    upstream: ${origin.url}\n`)
  const { client, key } = await gw.app.clients.create({ name: 'Puskesmas Ciruas', integrations: '*' })
  const tokenAnswer = await fetch(`${gw.url}/oauth2/v1/accesstoken?grant_type=client_credentials`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: client.id, client_secret: key }).toString()
  })
  assert.equal(tokenAnswer.status, 200)
  const { access_token: token, token_type: type } = await tokenAnswer.json() as {
    access_token: string, token_type: string
  }
  assert.equal(type, 'BearerToken')
  for (const scheme of [type, 'bearertoken', 'BEARER', 'Bearer']) {
    const answer = await send(gw.url, '/sehat/Patient', { headers: { authorization: `${scheme} ${token}` } })
    assert.equal(answer.status, 200, `${scheme}: ${answer.body.toString()}`)
  }
  for (const seen of origin.seen) {
    assert.equal(seen.headers.authorization, undefined)
    assert.ok(!JSON.stringify(seen.rawHeaders).includes(token))
  }
})

test('an Authorization scheme the gateway cannot use is named in the 401', async (t) => {
  const gw = await startGateway(t, 'integrations:\n  sehat:\n    upstream: http://127.0.0.1:9\n')
  const basic = await send(gw.url, '/sehat/Patient', { headers: { authorization: 'Basic dXNlcjpwYXNz' } })
  const problem = assertProblem(basic, 401, 'CREDENTIALS_MISSING')
  assert.match(String(problem.detail), /'Basic'/)
  assert.match(String(basic.headers['www-authenticate']), /Bearer/)
  const token = await send(gw.url, '/sehat/Patient', { headers: { authorization: 'Token abc' } })
  assert.match(String(assertProblem(token, 401, 'CREDENTIALS_MISSING').detail), /'Token'/)
})
