// Gerbang credentials that a client put in the URL (query string or a path
// parameter) are never forwarded upstream and never logged (docs/contract.md
// sections 4 and 15), whether or not the integration reads keys from the query.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway, type TestGateway } from '../helpers/gateway.js'
import { startEchoOrigin, type Origin } from '../helpers/origin.js'
import { send } from './client.js'

interface Setup { gw: TestGateway, origin: Origin, key: string, token: string }

async function setup (t: TestContext): Promise<Setup> {
  const origin = await startEchoOrigin()
  t.after(async () => { await origin.close() })
  const gw = await startGateway(t, [
    'integrations:',
    '  yankes:',
    `    upstream: ${origin.url}`,
    '  terbuka:',
    `    upstream: ${origin.url}`,
    '    auth: none',
    ''
  ].join('\n'))
  const { key } = await gw.app.clients.create({ name: 'Aplikasi Kamar', integrations: '*' })
  // A token-shaped value: what matters is its shape, not whether it is live.
  const token = 'gbt_' + 'A'.repeat(43)
  return { gw, origin, key, token }
}

function assertNowhere (setup: Setup, secrets: string[]): void {
  const upstream = JSON.stringify(setup.origin.seen.map((s) => ({ url: s.url, headers: s.rawHeaders })))
  const logs = JSON.stringify(setup.gw.logs)
  for (const secret of secrets) {
    assert.ok(!upstream.includes(secret), `a credential reached the upstream: ${upstream}`)
    assert.ok(!logs.includes(secret), 'a credential reached the logs')
  }
}

test('a key in the query of an integration without apiKeyQuery is not forwarded or logged', async (t) => {
  const s = await setup(t)
  const answer = await send(s.gw.url, `/yankes/kamar?rs=1&api_key=${s.key}&kelas=3`, { headers: { 'x-api-key': s.key } })
  assert.equal(answer.status, 200)
  assert.equal(s.origin.seen.at(-1)?.url, '/kamar?rs=1&kelas=3')
  const open = await send(s.gw.url, `/terbuka/data?token=${s.token}&x=1&key=${encodeURIComponent(s.key)}`)
  assert.equal(open.status, 200)
  assert.equal(s.origin.seen.at(-1)?.url, '/data?x=1')
  assertNowhere(s, [s.key, s.token, s.key.slice(3)])
})

test('a key in a path parameter is not forwarded or logged', async (t) => {
  const s = await setup(t)
  const answer = await send(s.gw.url, `/terbuka/kamar;X-API-KEY=${s.key}/daftar`)
  assert.equal(answer.status, 200)
  assert.equal(s.origin.seen.at(-1)?.url, '/kamar/daftar')
  const bare = await send(s.gw.url, `/terbuka/kunci/${s.token}?a=b`)
  assert.equal(bare.status, 200)
  assert.equal(s.origin.seen.at(-1)?.url, '/kunci/?a=b')
  // Refused requests are logged too (a 404 here): still without the key.
  const lost = await send(s.gw.url, `/tidak-ada;key=${s.key}`)
  assert.equal(lost.status, 404)
  assert.ok(!lost.body.toString().includes(s.key), 'the problem document echoed the key')
  assertNowhere(s, [s.key, s.token])
})

test('ordinary URLs are forwarded byte for byte', async (t) => {
  const s = await setup(t)
  const path = '/terbuka/a/gb_short;v=1/b?q=gb_&r=%2Fx&gb_x=1'
  assert.equal((await send(s.gw.url, path)).status, 200)
  assert.equal(s.origin.seen.at(-1)?.url, path.slice('/terbuka'.length))
})
