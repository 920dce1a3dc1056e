// The access line written directly (src/http/access-line.ts) must be the very
// text pino writes for the same fields: a log pipeline parses these lines.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import pino from 'pino'
import { loggerOptions } from '../../src/logging.js'
import { canWriteDirectly, writeAccessLine, type AccessFields } from '../../src/http/access-line.js'

function capture (): { stream: Writable, lines: string[] } {
  const lines: string[] = []
  const stream = new Writable({ write (chunk: Buffer, _enc, done) { lines.push(chunk.toString('utf8')); done() } })
  return { stream, lines }
}

const FULL: AccessFields = {
  reqId: 'req-1',
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  integration: 'yankes',
  client: '2579edcf-0000-4000-8000-000000000001',
  method: 'GET',
  path: '/yankes/kamar "quoted" \\ back\u0001slash ünï',
  status: 200,
  upstreamStatus: 201,
  durationMs: 1.23,
  bytesOut: 512,
  ip: '127.0.0.1',
  userAgent: 'curl/8.0 (x; "y")'
}

const SPARSE: AccessFields = {
  reqId: 'req-2',
  traceId: undefined,
  integration: undefined,
  client: undefined,
  method: 'OPTIONS',
  path: '/',
  status: 404,
  upstreamStatus: undefined,
  durationMs: Number.NaN,
  bytesOut: 0,
  ip: undefined,
  userAgent: undefined
}

for (const [name, fields] of [['every field', FULL], ['the optional fields absent', SPARSE]] as const) {
  test(`the direct access line equals pino's, with ${name}`, () => {
    const viaPino = capture()
    const direct = capture()
    const a = pino(loggerOptions('info'), viaPino.stream).child({ worker: 2 })
    const b = pino(loggerOptions('info'), direct.stream).child({ worker: 2 })
    assert.ok(canWriteDirectly(b))
    // Same millisecond for both timestamps: retry until they agree.
    for (let attempt = 0; attempt < 5; attempt++) {
      viaPino.lines.length = 0
      direct.lines.length = 0
      a.info({ ...fields, err: undefined }, 'request')
      writeAccessLine(b, fields)
      if (viaPino.lines[0] === direct.lines[0]) break
    }
    assert.equal(direct.lines[0], viaPino.lines[0])
    assert.equal((JSON.parse(direct.lines[0] ?? '') as { msg: string }).msg, 'request')
  })
}

test('a logger above info does not take the direct path', () => {
  assert.equal(canWriteDirectly(pino({ level: 'warn' }, capture().stream)), false)
})
