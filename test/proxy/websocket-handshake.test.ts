// WebSocket on integrations with `websocket: true` (docs/contract.md section 9),
// the handshake: the upgrade is checked like any request (key in the query or
// a header, grants, the rate limit) and refused over HTTP with a problem
// document; the upstream never sees the client's credentials; /doc and the
// admin Routes page say which integrations accept WebSocket.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { request, type IncomingMessage } from 'node:http'
import { type WebSocket } from 'ws'
import { routesFrom } from '../helpers/gateway.js'
import { login, startAdminGateway, USERS } from '../helpers/admin.js'
import { assertProblem, send, type Answer } from './client.js'
import { waitUntil } from '../helpers/time.js'
import { connect, exchange, fixture, refusal, ROUTES, startWsOrigin, toAnswer, type SeenUpgrade } from './websocket-fixtures.js'
import { trapUnhandled } from '../helpers/unhandled.js'

// The check test/proxy/websocket-relay.test.ts makes in its upstream-failure tests, made once these tests have run.
const unhandled = trapUnhandled()
after(() => { assert.deepEqual(unhandled, [], 'no unhandled rejection or exception escaped') })

/** An upgrade request written as given (what a WebSocket client would not send), and the HTTP answer to it. */
async function rawUpgrade (base: string, path: string, headers: Record<string, string>, method = 'GET'): Promise<Answer> {
  const { hostname, port } = new URL(base)
  const req = request({
    host: hostname,
    port,
    path,
    method,
    headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64'), ...headers }
  })
  req.end()
  const [res] = await Promise.race([once(req, 'response'), once(req, 'upgrade').then(() => { throw new Error('upgraded') })]) as [IncomingMessage]
  const parts: Buffer[] = []
  for await (const chunk of res) parts.push(chunk as Buffer)
  return toAnswer(res, Buffer.concat(parts))
}

test('a browser-style key in the query (apiKeyQuery) opens the socket; the upstream never sees it and gets the gateway\'s identity headers', async (t) => {
  const { origin, gw, base, key, clientId } = await fixture(t)
  const { ws, response } = await connect(`${base}/chat/room/7?lang=id&api_key=${encodeURIComponent(key)}`, {
    protocols: ['chat.v1', 'chat.v2'],
    headers: { origin: 'https://dashboard.bantenprov.go.id', 'x-request-id': 'ws-trace-1' }
  })
  assert.equal(response.statusCode, 101)
  assert.equal(response.headers['x-request-id'], 'ws-trace-1')
  assert.equal(ws.protocol, 'chat.v2', 'the upstream\'s choice of subprotocol')
  const [answer] = await exchange(ws, 1, () => 'halo')
  assert.equal(answer?.data.toString(), 'halo')
  ws.close(1000)

  assert.equal(origin.seen.length, 1)
  const seen = origin.seen[0] as SeenUpgrade
  assert.equal(seen.url, '/echo/room/7?lang=id', 'rewritten as for HTTP, the key removed')
  const everything = JSON.stringify(seen)
  assert.ok(!everything.includes(key), 'the key appears nowhere in what the upstream received')
  assert.equal(seen.headers['x-client-id'], clientId)
  assert.equal(seen.headers['x-client-name'], 'Dasbor Dinkes')
  assert.equal(seen.headers['x-request-id'], 'ws-trace-1')
  assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1')
  assert.equal(seen.headers['x-forwarded-proto'], 'http')
  assert.equal(seen.headers['x-forwarded-host'], new URL(gw.url).host)
  assert.equal(seen.headers.origin, 'https://dashboard.bantenprov.go.id')
  assert.equal(seen.headers['sec-websocket-protocol'], 'chat.v1,chat.v2')
  assert.equal(seen.headers['x-api-key'], undefined)
  assert.equal(seen.headers.authorization, undefined)
  // One access line for the upgrade, with its 101; none of them holds the key.
  await waitUntil('the "websocket closed" log line', () => gw.logs.some((l) => l.msg === 'websocket closed'))
  const access = gw.logs.find((l) => l.msg === 'request' && l.integration === 'chat')
  assert.equal(access?.status, 101)
  assert.equal(access?.client, clientId)
  assert.ok(!JSON.stringify(gw.logs).includes(key), 'the key is never logged')
})

test('the x-api-key header (and a bearer token) work as for any request, and never reach the upstream', async (t) => {
  const { origin, gw, base, key, clientId } = await fixture(t)
  const { ws } = await connect(`${base}/chat/header`, { headers: { 'x-api-key': key } })
  assert.equal((await exchange(ws, 1, () => 'satu'))[0]?.data.toString(), 'satu')
  ws.close()
  const seen = origin.seen[0] as SeenUpgrade
  assert.equal(seen.url, '/echo/header')
  assert.equal(seen.headers['x-client-id'], clientId)
  assert.ok(!JSON.stringify(seen).includes(key))

  const token = await fetch(`${gw.url}/oauth2/v1/accesstoken?grant_type=client_credentials`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: clientId, client_secret: key })
  })
  assert.equal(token.status, 200)
  const { access_token: bearer } = await token.json() as { access_token: string }
  const second = await connect(`${base}/chat/bearer`, { headers: { authorization: `Bearer ${bearer}` } })
  assert.equal((await exchange(second.ws, 1, () => 'dua'))[0]?.data.toString(), 'dua')
  second.ws.close()
  assert.equal(origin.seen[1]?.headers.authorization, undefined)
})

test('no key: 401 problem+json over plain HTTP, and nothing reaches the upstream', async (t) => {
  const { origin, base } = await fixture(t)
  const answer = await refusal(`${base}/chat/room`)
  assertProblem(answer, 401, 'CREDENTIALS_MISSING', '/chat/room')
  assert.equal(answer.headers.connection, 'close')
  const wrong = await refusal(`${base}/chat/room?api_key=gk_live_${'x'.repeat(40)}`)
  assert.equal(wrong.status, 401)
  assert.equal(origin.seen.length, 0)
  // The same answer for a plain HTTP request to the upgrade URL.
  assertProblem(await send(base.replace(/^ws/, 'http'), '/chat/room'), 401, 'CREDENTIALS_MISSING')
})

test('a client not granted the integration: 403 INTEGRATION_FORBIDDEN', async (t) => {
  const { origin, gw, base } = await fixture(t)
  const other = await gw.app.clients.create({ name: 'Lain', integrations: ['limited'] })
  assertProblem(await refusal(`${base}/chat/room?api_key=${other.key}`), 403, 'INTEGRATION_FORBIDDEN')
  assert.equal(origin.seen.length, 0)
})

test('the rate limit counts each upgrade as one request: 429 with Retry-After past it', async (t) => {
  const { origin, base, key } = await fixture(t)
  const sockets: WebSocket[] = []
  for (let i = 0; i < 2; i++) {
    const { ws, response } = await connect(`${base}/limited/x`, { headers: { 'x-api-key': key } })
    assert.match(String(response.headers.ratelimit), /"default";r=\d+;t=\d+/)
    sockets.push(ws)
  }
  const answer = await refusal(`${base}/limited/x`, { 'x-api-key': key })
  assertProblem(answer, 429, 'RATE_LIMITED')
  assert.ok(Number(answer.headers['retry-after']) > 0)
  assert.equal(origin.seen.length, 2)
  // Messages on an open socket are not requests: they are never limited.
  assert.equal((await exchange(sockets[0] as WebSocket, 50, (i) => `m${i}`)).length, 50)
  for (const ws of sockets) ws.close()
})

test('an integration without websocket: true refuses the upgrade with a problem (400); other Upgrade tokens are plain requests', async (t) => {
  const { origin, base, key, gw } = await fixture(t)
  const answer = await refusal(`${base}/plain/x?api_key=${key}`)
  assertProblem(answer, 400, 'BAD_REQUEST')
  assert.match(JSON.parse(answer.body.toString()).detail as string, /plain does not accept WebSocket/)
  assert.equal(origin.seen.length, 0)
  // Malformed handshakes are refused before credentials are looked at.
  const version = await rawUpgrade(gw.url, '/chat/x', { 'sec-websocket-version': '8' })
  assertProblem(version, 400, 'BAD_REQUEST')
  assert.equal(version.headers['sec-websocket-version'], '13')
  assertProblem(await rawUpgrade(gw.url, '/chat/x', { 'sec-websocket-key': 'short' }), 400, 'BAD_REQUEST')
  assertProblem(await rawUpgrade(gw.url, '/chat/x', {}, 'POST'), 400, 'BAD_REQUEST')
  // Not a WebSocket upgrade (curl --http2 on http://): answered as the plain request it also is.
  const { hostname, port } = new URL(gw.url)
  const req = request({ host: hostname, port, path: '/healthz', headers: { connection: 'Upgrade, HTTP2-Settings', upgrade: 'h2c', 'http2-settings': 'AAMAAABkAARAAAAAAAIAAAAA' } })
  req.end()
  const [res] = await once(req, 'response') as [IncomingMessage]
  assert.equal(res.statusCode, 200)
  res.resume()
  // Unknown paths: 404 as ever.
  assertProblem(await refusal(`${base}/nowhere/x`), 404, 'ROUTE_NOT_FOUND')
})

test('/doc and the admin Routes page say which integrations accept WebSocket', async (t) => {
  const origin = await startWsOrigin(t)
  const gw = await startAdminGateway(t, { routes: routesFrom(ROUTES(origin.url)) })
  const doc = await (await fetch(`${gw.url}/doc/json`)).json() as { tags: Array<{ name: string, description: string, 'x-websocket'?: boolean }> }
  const tag = (name: string): { description: string, 'x-websocket'?: boolean } => doc.tags.find((t) => t.name === name) ?? assert.fail(`no tag ${name}`)
  assert.equal(tag('chat')['x-websocket'], true)
  assert.match(tag('chat').description, /WebSocket.*\/chat\/…/)
  assert.match(tag('chat').description, /new WebSocket\('wss:\/\/<gateway>\/chat\/…\?api_key=<kunci>'\)/)
  assert.equal(tag('plain')['x-websocket'], false)
  assert.doesNotMatch(tag('plain').description, /WebSocket/)

  const viewer = await login(gw.url, USERS.viewer)
  const routes = await (await viewer.call('GET', '/routes')).json() as { integrations: Array<{ name: string, websocket: boolean, idleTimeoutMs: number }> }
  assert.deepEqual(routes.integrations.map((i) => [i.name, i.websocket, i.idleTimeoutMs]),
    [['chat', true, 30_000], ['raw', true, 1000], ['limited', true, 30_000], ['plain', false, 30_000]])
})
