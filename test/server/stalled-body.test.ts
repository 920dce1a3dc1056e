import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { startEchoOrigin } from '../helpers/origin.js'
import { startGateway } from '../helpers/gateway.js'
import { sleep } from '../helpers/time.js'

// Issue 20, finding 4 (docs/contract.md section 15): the body of a request to
// Gerbang's own endpoints (/oauth2, /admin/api) must arrive within 10 s; a
// stalled one is answered 408 or closed, so slow clients cannot hold sockets
// (and file descriptors) for ever. Proxied bodies stream to the upstream as
// they arrive and have no such limit.

/** How long past the 10 s rule the answer (or the close) may take. */
const RULE_MS = 10_000
const SLACK_MS = 1500

interface Outcome {
  /** ms from the last byte sent to the first byte answered, or to the close. */
  afterMs: number
  /** What came back before the close; '' when the socket was only closed. */
  answer: string
  closed: boolean
}

/**
 * Sends `head` and a part of the body, then nothing; resolves on the first answer byte plus close, or after `waitMs`.
 */
async function stall (port: number, head: string, partialBody: string, waitMs: number): Promise<Outcome> {
  const socket = connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve).once('error', reject) })
  socket.write(head + partialBody)
  const sent = Date.now()
  let answer = ''
  let firstByteAt: number | undefined
  return await new Promise<Outcome>((resolve) => {
    const done = (closed: boolean): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve({ afterMs: (firstByteAt ?? Date.now()) - sent, answer, closed })
    }
    const timer = setTimeout(() => { done(false) }, waitMs)
    socket.on('data', (chunk: Buffer) => {
      firstByteAt ??= Date.now()
      answer += chunk.toString('utf8')
    })
    socket.on('error', () => {})
    socket.on('close', () => { done(true) })
  })
}

function checkOutcome (what: string, outcome: Outcome): void {
  assert.ok(outcome.closed, `${what}: neither answered nor closed within ${RULE_MS + SLACK_MS} ms (got ${JSON.stringify(outcome.answer.slice(0, 200))})`)
  assert.ok(outcome.afterMs >= RULE_MS - 1000, `${what}: answered after ${outcome.afterMs} ms, before the body had its 10 s: ${outcome.answer.slice(0, 300)}`)
  assert.ok(outcome.afterMs <= RULE_MS + SLACK_MS, `${what}: took ${outcome.afterMs} ms`)
  if (outcome.answer === '') return // closed without an answer: allowed
  const [head = '', body = ''] = outcome.answer.split('\r\n\r\n')
  assert.match(head, /^HTTP\/1\.1 408 /, `${what}: ${head}`)
  assert.match(head, /\r\ncontent-type: application\/problem\+json/i, `${what}: ${head}`)
  assert.match(head, /\r\nconnection: close/i, `${what}: ${head}`)
  const problem = JSON.parse(body) as { status: number, code: string }
  assert.equal(problem.status, 408)
  assert.equal(problem.code, 'REQUEST_TIMEOUT')
}

// The two tests mostly wait, each on a gateway and an origin of its own: they wait side by side.
describe('bodies that arrive slowly', { concurrency: true }, () => {
  test('a stalled body to /oauth2/v1/accesstoken or /admin/api/session is answered 408 and closed within ~10 s', async (t) => {
    const origin = await startEchoOrigin()
    t.after(origin.close)
    const gw = await startGateway(t, `integrations:\n  lambat:\n    upstream: ${origin.url}\n    auth: none\n`)
    const port = Number(new URL(gw.url).port)
    const wait = RULE_MS + SLACK_MS + 500
    const head = (path: string, type: string): string =>
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: ${type}\r\nContent-Length: 100\r\n\r\n`

    const [oauth2, login] = await Promise.all([
      stall(port, head('/oauth2/v1/accesstoken?grant_type=client_credentials', 'application/x-www-form-urlencoded'), 'client_id=', wait),
      stall(port, head('/admin/api/session', 'application/json'), '{"email":"', wait)
    ])
    checkOutcome('POST /oauth2/v1/accesstoken', oauth2)
    checkOutcome('POST /admin/api/session', login)

    // The gateway still serves, and a timely body still works.
    const answer = await fetch(`${gw.url}/admin/api/session`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'nobody@bantenprov.go.id', password: 'x' })
    })
    assert.equal(answer.status, 401)
  })

  test('a proxied POST whose body trickles in over 12 s still reaches the upstream whole', async (t) => {
    const origin = await startEchoOrigin()
    t.after(origin.close)
    const gw = await startGateway(t, `integrations:\n  lambat:\n    upstream: ${origin.url}\n    auth: none\n    timeout: 60s\n`)
    const port = Number(new URL(gw.url).port)
    const socket = connect(port, '127.0.0.1')
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve).once('error', reject) })
    let answer = ''
    socket.on('data', (chunk: Buffer) => { answer += chunk.toString('utf8') })
    const closed = new Promise<void>((resolve) => { socket.on('close', () => { resolve() }) })
    socket.on('error', () => {})
    t.after(() => { socket.destroy() })

    const chunks = 13
    socket.write(`POST /lambat/unggah HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${chunks * 10}\r\nConnection: close\r\n\r\n`)
    const started = Date.now()
    for (let i = 0; i < chunks; i++) {
      assert.equal(answer, '', `the gateway answered before the body was complete (after ${Date.now() - started} ms): ${answer.slice(0, 300)}`)
      socket.write('0123456789')
      if (i < chunks - 1) await sleep(1000)
    }
    // (A timer left running would keep the test process alive for its 10 s after the last test.)
    let timer: NodeJS.Timeout | undefined
    await Promise.race([closed, new Promise<void>((resolve) => { timer = setTimeout(resolve, 10_000) })])
    clearTimeout(timer)
    assert.ok(Date.now() - started >= 12_000)
    const [head = '', body = ''] = answer.split('\r\n\r\n')
    assert.match(head, /^HTTP\/1\.1 200 /, answer.slice(0, 500))
    // Chunked or not, the echo is one JSON object.
    assert.equal((JSON.parse(body.slice(body.indexOf('{'), body.lastIndexOf('}') + 1)) as { bodyBytes: number }).bodyBytes, chunks * 10)
  })
})
