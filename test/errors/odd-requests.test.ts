// Requests no ordinary client sends: TRACE, methods no integration can
// serve, no Host, a header section that never ends. Each gets a problem
// document with a request id, never a bare 404 or a silent close.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { startEchoOrigin } from '../helpers/origin.js'
import { startGateway } from '../helpers/gateway.js'
import { assertProblem, send, sendRaw } from '../proxy/client.js'

test('TRACE is refused with 405 unless an integration lists it', async (t) => {
  const origin = await startEchoOrigin()
  t.after(origin.close)
  const gw = await startGateway(t, [
    'defaults:', '  auth: none', 'integrations:',
    '  yankes:', `    upstream: ${origin.url}`,
    '  diagnosa:', `    upstream: ${origin.url}`, '    methods: [GET, TRACE]', ''
  ].join('\n'))
  const refused = await send(gw.url, '/yankes/kamar', { method: 'TRACE' })
  assertProblem(refused, 405, 'METHOD_NOT_ALLOWED', '/yankes/kamar')
  assert.equal(origin.seen.length, 0)
  const listed = await send(gw.url, '/diagnosa/x', { method: 'TRACE' })
  assert.equal(listed.status, 200)
  assert.equal(origin.seen.length, 1)
})

test('methods no integration can serve (PROPFIND, PURGE) get 405, not 404', async (t) => {
  const origin = await startEchoOrigin()
  t.after(origin.close)
  const gw = await startGateway(t, `defaults:\n  auth: none\nintegrations:\n  yankes:\n    upstream: ${origin.url}\n`)
  for (const method of ['PROPFIND', 'PURGE', 'MKCOL', 'LOCK']) {
    for (const path of ['/yankes/kamar', '/nowhere']) {
      const answer = await sendRaw(gw.url, `${method} ${path} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n`)
      const problem = assertProblem(answer, 405, 'METHOD_NOT_ALLOWED')
      assert.match(String(problem.detail), new RegExp(method))
      assert.ok(answer.headers.allow !== undefined, `${method} ${path}: no Allow header`)
    }
  }
  assert.equal(origin.seen.length, 0)
})

test('an HTTP/1.1 request without Host answers 400 problem+json with a request id', async (t) => {
  const gw = await startGateway(t, 'defaults:\n  auth: none\nintegrations:\n  yankes:\n    upstream: http://127.0.0.1:9\n')
  const answer = await sendRaw(gw.url, 'GET /yankes/kamar HTTP/1.1\r\nConnection: close\r\n\r\n')
  assertProblem(answer, 400, 'BAD_REQUEST')
})

test('a header section that never ends answers 408 problem+json with a request id', async (t) => {
  const gw = await startGateway(t, 'defaults:\n  auth: none\nintegrations:\n  yankes:\n    upstream: http://127.0.0.1:9\n',
    {}, { headersTimeoutMs: 500 })
  const { port } = new URL(gw.url)
  const socket = connect(Number(port), '127.0.0.1')
  t.after(() => { socket.destroy() })
  let answer = ''
  socket.on('data', (chunk: Buffer) => { answer += chunk.toString('latin1') })
  const started = Date.now()
  socket.write('GET /yankes/kamar HTTP/1.1\r\nHost: gw\r\nX-Slow: ')
  await new Promise<void>((resolve) => { socket.on('close', () => { resolve() }) })
  assert.ok(Date.now() - started < 5000, 'closed too late')
  assert.match(answer, /^HTTP\/1\.1 408 /)
  const [head, body] = answer.split('\r\n\r\n')
  const problem = JSON.parse(body ?? '') as Record<string, unknown>
  assert.equal(problem.code, 'REQUEST_TIMEOUT')
  assert.equal(problem.requestId, /x-request-id: (\S+)/i.exec(head ?? '')?.[1])
})
