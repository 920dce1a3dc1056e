import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { startEchoOrigin, startOrigin } from '../helpers/origin.js'
import { oneIntegration, startGateway } from '../helpers/gateway.js'
import { waitUntil } from '../helpers/time.js'

/** Sends raw bytes and returns everything the gateway answers until it closes the connection. */
async function rawExchange (url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url)
  return await new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname)
    let answer = ''
    socket.on('data', (chunk: Buffer) => { answer += chunk.toString('latin1') })
    socket.on('end', () => { resolve(answer) })
    socket.on('error', reject)
    socket.write(request)
  })
}

test('request headers over the limit answer 431 HEADERS_TOO_LARGE as problem+json', async (t) => {
  const origin = await startEchoOrigin()
  t.after(origin.close)
  const gw = await startGateway(t, oneIntegration('yankes', origin.url))
  const answer = await rawExchange(gw.url, `GET /yankes/kamar HTTP/1.1\r\nHost: gw\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
  const [head, body] = answer.split('\r\n\r\n')
  assert.match(head ?? '', /^HTTP\/1\.1 431 /)
  assert.match(head ?? '', /content-type: application\/problem\+json/i)
  const problem = JSON.parse(body ?? '') as Record<string, unknown>
  assert.equal(problem.code, 'HEADERS_TOO_LARGE')
  assert.equal(problem.status, 431)
  const requestId = /x-request-id: (\S+)/i.exec(head ?? '')?.[1]
  assert.equal(problem.requestId, requestId)
  assert.equal(origin.seen.length, 0)
})

test('a malformed request line answers 400 BAD_REQUEST as problem+json', async (t) => {
  const gw = await startGateway(t, oneIntegration('yankes', 'http://127.0.0.1:9'))
  const answer = await rawExchange(gw.url, 'GET /yankes/kamar HTTP/9.9 extra\r\n\r\n')
  assert.match(answer, /^HTTP\/1\.1 400 /)
  assert.match(answer, /"code":"BAD_REQUEST"/)
})

test('a client that goes away mid-request aborts the upstream request, and the gateway keeps serving', async (t) => {
  let markClosed = (): void => {}
  const upstreamClosed = new Promise<void>((resolve) => { markClosed = resolve })
  const origin = await startOrigin((req, res) => {
    if (req.url === '/slow') {
      res.on('close', markClosed)
      return // never answers
    }
    res.end('ok')
  })
  t.after(origin.close)
  const gw = await startGateway(t, oneIntegration('yankes', origin.url))
  const controller = new AbortController()
  const pending = fetch(`${gw.url}/yankes/slow`, { signal: controller.signal })
  await waitUntil('the request to reach the upstream', () => origin.seen.length > 0, { intervalMs: 10 })
  controller.abort()
  await assert.rejects(pending)
  const closedInTime = await Promise.race([
    upstreamClosed.then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => { resolve(false) }, 500))
  ])
  assert.ok(closedInTime, 'the upstream connection of an abandoned request is closed')
  const res = await fetch(`${gw.url}/yankes/fast`)
  assert.equal(await res.text(), 'ok')
})
