// WebSocket on integrations with `websocket: true` (docs/contract.md section 9),
// closing: idleTimeout, revocation, key rotation, reloads, closing the app and
// SIGTERM close open sockets, each with its own close code.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WebSocket } from 'ws'
import { startGateway, routesFrom } from '../helpers/gateway.js'
import { startGatewayProcess } from '../helpers/process.js'
import { assertProblem } from './client.js'
import { assertElapsed, LATE_MS, sleep, waitUntil } from '../helpers/time.js'
import { connect, exchange, fixture, refusal, ROUTES, startWsOrigin, wsBase } from './websocket-fixtures.js'

test('idleTimeout applies to silence in both directions', { timeout: 20_000 }, async (t) => {
  const { origin, base } = await fixture(t)
  // raw: idleTimeout 1s. For 2.1 s, one client talks every 300 ms to an upstream that says nothing,
  // and another one says nothing to an upstream that talks every 300 ms: both stay open.
  const talking = await connect(`${base}/raw/silent`)
  const listening = await connect(`${base}/raw/talk?every=300`)
  let heard = 0
  listening.ws.on('message', () => { heard++ })
  let lastSentAt = 0
  for (let i = 0; i < 7; i++) {
    talking.ws.send(`ping ${i}`)
    lastSentAt = performance.now()
    await sleep(300)
  }
  assert.equal(talking.ws.readyState, WebSocket.OPEN, 'messages from the client alone keep it open')
  assert.equal(listening.ws.readyState, WebSocket.OPEN, 'messages from the upstream alone keep it open')
  assert.ok(heard >= 5, `the client heard ${heard} messages`)
  listening.ws.close()
  // Now the first one falls silent both ways: closed about 1 s after its last message.
  const end = await talking.closed
  const after = end.at - lastSentAt
  t.diagnostic(`closed ${Math.round(after)} ms after the last message`)
  assert.equal(end.code, 1001)
  assert.match(end.reason, /idleTimeout/)
  assertElapsed(after, 900, 1000, 'closed after silence')
  await waitUntil('the upstream\'s side closed with 1001', () => origin.closes.some((c) => c.code === 1001))
  assert.ok(origin.closes.some((c) => c.code === 1001 && /idleTimeout/.test(c.reason)), 'the upstream\'s side is closed too')
})

test('revoking the client closes its open sockets within 1 s (1008), and only its own', async (t) => {
  const { base, key, clientId, gw } = await fixture(t)
  const other = await gw.app.clients.create({ name: 'Lain', integrations: ['chat'] })
  const mine = await Promise.all([connect(`${base}/chat/a?api_key=${key}`), connect(`${base}/chat/b`, { headers: { 'x-api-key': key } })])
  const theirs = await connect(`${base}/chat/c?api_key=${other.key}`)
  const revokedAt = performance.now()
  await gw.app.clients.revoke(clientId)
  const ends = await Promise.all(mine.map(async (m) => await m.closed))
  for (const end of ends) {
    assert.equal(end.code, 1008)
    assert.match(end.reason, /revoked/)
    assert.ok(end.at - revokedAt < 1000, `closed ${Math.round(end.at - revokedAt)} ms after the revocation`)
  }
  t.diagnostic(`closed ${ends.map((e) => Math.round(e.at - revokedAt)).join(', ')} ms after the revocation`)
  assert.equal(theirs.ws.readyState, WebSocket.OPEN)
  assert.equal((await exchange(theirs.ws, 1, () => 'masih'))[0]?.data.toString(), 'masih')
  theirs.ws.close()
  assertProblem(await refusal(`${base}/chat/a?api_key=${key}`), 401, 'CREDENTIALS_INVALID')
})

test('rotating the key without a grace period closes the sockets opened with the old one (1008)', async (t) => {
  const { base, key, clientId, gw } = await fixture(t)
  const { closed } = await connect(`${base}/chat/a?api_key=${key}`)
  const rotated = await gw.app.clients.rotate(clientId, 0)
  assert.ok(rotated !== undefined)
  const end = await closed
  assert.equal(end.code, 1008)
  const fresh = await connect(`${base}/chat/a?api_key=${rotated.key}`)
  assert.equal((await exchange(fresh.ws, 1, () => 'kunci baru'))[0]?.data.toString(), 'kunci baru')
  fresh.ws.close()
})

test('a reload that removes the integration (or its websocket) closes its sockets with 1001; others stay', async (t) => {
  const { origin, base, key, gw } = await fixture(t)
  const chat = await connect(`${base}/chat/a?api_key=${key}`)
  const raw = await connect(`${base}/raw/echo`)
  const limited = await connect(`${base}/limited/echo`, { headers: { 'x-api-key': key } })
  // chat is gone, raw no longer takes WebSocket, limited is unchanged.
  gw.app.applyRoutes(routesFrom([
    'integrations:',
    '  raw:', `    upstream: ${origin.url}`, '    auth: none',
    '  limited:', `    upstream: ${origin.url}`, '    rewritePrefix: /echo', '    websocket: true', '    rateLimit: 2/1m', ''
  ].join('\n')))
  const [chatEnd, rawEnd] = await Promise.all([chat.closed, raw.closed])
  assert.equal(chatEnd.code, 1001)
  assert.match(chatEnd.reason, /chat was removed/)
  assert.equal(rawEnd.code, 1001)
  assert.match(rawEnd.reason, /raw no longer accepts WebSocket/)
  assert.equal((await exchange(limited.ws, 1, () => 'tetap'))[0]?.data.toString(), 'tetap')
  limited.ws.close()
  assertProblem(await refusal(`${base}/raw/echo`), 400, 'BAD_REQUEST')
})

test('closing the app closes open sockets with 1001, both sides, and does not wait for them', async (t) => {
  const origin = await startWsOrigin(t)
  const gw = await startGateway(t, ROUTES(origin.url))
  const { ws, closed } = await connect(`${wsBase(gw)}/raw/echo`)
  assert.equal((await exchange(ws, 1, () => 'x'))[0]?.data.toString(), 'x')
  // An upgrade still waiting for its upstream's answer when the gateway stops: 503 over HTTP.
  const waiting = refusal(`${wsBase(gw)}/raw/hang`)
  await waitUntil('the upgrade to reach the upstream', () => origin.seen.some((s) => s.url === '/hang'))
  const started = performance.now()
  await gw.app.close()
  const took = performance.now() - started
  assertProblem(await waiting, 503, 'SHUTTING_DOWN')
  const end = await closed
  assert.equal(end.code, 1001)
  assert.match(end.reason, /shutting down/)
  // Sockets that do not finish the closing handshake within a second are cut.
  assert.ok(took < 1000 + LATE_MS, `app.close took ${Math.round(took)} ms`)
  await waitUntil('the upstream\'s side to close', () => origin.closes.length === 1)
  assert.equal(origin.closes[0]?.code, 1001)
})

test('SIGTERM: open sockets are closed with 1001 and the process exits 0', { timeout: 30_000 }, async (t) => {
  const origin = await startWsOrigin(t)
  const dir = await mkdtemp(join(tmpdir(), 'gerbang-ws-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const file = join(dir, 'routes.yaml')
  await writeFile(file, ['defaults:', '  auth: none', 'integrations:', '  up:', `    upstream: ${origin.url}`, '    websocket: true', ''].join('\n'))
  const gw = await startGatewayProcess(t, file)
  const { ws, closed } = await connect(`${wsBase(gw)}/up/echo`)
  assert.equal((await exchange(ws, 1, () => 'sebelum'))[0]?.data.toString(), 'sebelum')
  gw.child.kill('SIGTERM')
  const end = await closed
  assert.equal(end.code, 1001)
  const { code, signal } = await gw.exited
  assert.equal(signal, null)
  assert.equal(code, 0)
  await waitUntil('the upstream\'s side to close', () => origin.closes.length === 1)
  assert.equal(origin.closes[0]?.code, 1001)
})
