import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer as createNetServer, type Server as NetServer, type Socket, type AddressInfo, type LookupFunction } from 'node:net'
import { request as httpRequest } from 'node:http'
import { startOrigin } from '../helpers/origin.js'
import { oneIntegration, startGateway } from '../helpers/gateway.js'
import { assertProblem, type Problem } from '../helpers/problem.js'
import { trapUnhandled } from '../helpers/unhandled.js'
import { assertElapsed } from '../helpers/time.js'

const unhandled = trapUnhandled()

/**
 * GETs `url` and asserts the answer is the problem document `status` and `code` for `instance`
 * (test/helpers/problem.ts).
 */
async function getProblem (
  url: string, status: number, code: string, instance: string
): Promise<{ body: Problem, ms: number }> {
  const started = performance.now()
  const res = await fetch(url)
  const body = assertProblem({ status: res.status, headers: res.headers, body: await res.text() }, status, code,
    instance)
  return { body, ms: performance.now() - started }
}

/** A raw TCP server: for upstreams that misbehave below HTTP. */
async function startTcp (
  onSocket: (socket: Socket) => void
): Promise<{ port: number, server: NetServer, close: () => Promise<void> }> {
  const sockets = new Set<Socket>()
  const server = createNetServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    onSocket(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    server,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
    }
  }
}

/** A port nothing listens on: bound once, then released. */
async function deadPort (): Promise<number> {
  const tcp = await startTcp(() => {})
  await tcp.close()
  return tcp.port
}

test('a refused connection answers 502 UPSTREAM_UNAVAILABLE', async (t) => {
  const gw = await startGateway(t, oneIntegration('yankes', `http://127.0.0.1:${await deadPort()}`))
  const { body } = await getProblem(`${gw.url}/yankes/kamar?rs=1`, 502, 'UPSTREAM_UNAVAILABLE', '/yankes/kamar')
  assert.match(body.detail, /yankes refused the connection/)
})

test('a DNS failure answers 502 UPSTREAM_UNAVAILABLE', async (t) => {
  // The lookup is answered locally so the test sends no DNS query off this machine.
  const lookup: LookupFunction = (hostname, _options, callback) => {
    callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname }), '', 4)
  }
  const gw = await startGateway(t, oneIntegration('bpjs', 'http://bpjs-01.dev.bantenprov.go.id'), {}, { upstreamConnect: { lookup } })
  const { body } = await getProblem(`${gw.url}/bpjs/peserta/0001`, 502, 'UPSTREAM_UNAVAILABLE', '/bpjs/peserta/0001')
  assert.match(body.detail, /DNS/)
})

test('a reset before the response headers answers 502 UPSTREAM_UNAVAILABLE', async (t) => {
  const tcp = await startTcp((socket) => { socket.once('data', () => socket.resetAndDestroy()) })
  t.after(tcp.close)
  const gw = await startGateway(t, oneIntegration('yankes', `http://127.0.0.1:${tcp.port}`))
  await getProblem(`${gw.url}/yankes/kamar`, 502, 'UPSTREAM_UNAVAILABLE', '/yankes/kamar')
})

test('a malformed HTTP response answers 502 UPSTREAM_UNAVAILABLE', async (t) => {
  const tcp = await startTcp((socket) => {
    socket.once('data', () => socket.end('HTTP/1.1 two hundred OK\r\nthis is not http\r\n\r\n'))
  })
  t.after(tcp.close)
  const gw = await startGateway(t, oneIntegration('yankes', `http://127.0.0.1:${tcp.port}`))
  const { body } = await getProblem(`${gw.url}/yankes/kamar`, 502, 'UPSTREAM_UNAVAILABLE', '/yankes/kamar')
  assert.match(body.detail, /malformed/)
})

for (const status of [500, 501, 502, 505]) {
  test(`an upstream ${status} answers 502 UPSTREAM_ERROR without its body`, async (t) => {
    const origin = await startOrigin((_req, res) => {
      res.writeHead(status, { 'content-type': 'text/html' })
      res.end('<html>Whoops, looks like something went wrong. SQLSTATE[HY000] secret-dsn</html>')
    })
    t.after(origin.close)
    const gw = await startGateway(t, oneIntegration('satu-data', origin.url))
    const { body } = await getProblem(`${gw.url}/satu-data/getGroup`, 502, 'UPSTREAM_ERROR', '/satu-data/getGroup')
    assert.equal(body.upstreamStatus, status)
    assert.doesNotMatch(JSON.stringify(body), /SQLSTATE|secret-dsn/)
  })
}

test('upstreamErrors: passthrough passes a 500 on untouched', async (t) => {
  const origin = await startOrigin((_req, res) => {
    res.writeHead(500, { 'content-type': 'application/json' })
    res.end('{"status":0,"code":500,"message":"kesalahan server"}')
  })
  t.after(origin.close)
  const gw = await startGateway(t, oneIntegration('satu-data', origin.url, { upstreamErrors: 'passthrough' }))
  const res = await fetch(`${gw.url}/satu-data/getGroup`)
  assert.equal(res.status, 500)
  assert.equal(await res.text(), '{"status":0,"code":500,"message":"kesalahan server"}')
})

test('an upstream 504 answers 504 UPSTREAM_TIMEOUT', async (t) => {
  const origin = await startOrigin((_req, res) => { res.writeHead(504); res.end('gateway timeout') })
  t.after(origin.close)
  const gw = await startGateway(t, oneIntegration('yankes', origin.url))
  const { body } = await getProblem(`${gw.url}/yankes/dokter`, 504, 'UPSTREAM_TIMEOUT', '/yankes/dokter')
  assert.equal(body.upstreamStatus, 504)
})

test('an upstream 503 with Retry-After passes through untouched', async (t) => {
  const origin = await startOrigin((_req, res) => {
    res.writeHead(503, { 'retry-after': '120', 'content-type': 'application/json' })
    res.end('{"message":"pemeliharaan sistem"}')
  })
  t.after(origin.close)
  const gw = await startGateway(t, oneIntegration('yankes', origin.url))
  const res = await fetch(`${gw.url}/yankes/kamar`)
  assert.equal(res.status, 503)
  assert.equal(res.headers.get('retry-after'), '120')
  assert.equal(await res.text(), '{"message":"pemeliharaan sistem"}')
})

test('a slow connect answers 504 UPSTREAM_TIMEOUT within connectTimeout + 100 ms', async (t) => {
  // TCP connects at once but the TLS handshake never completes: the connect
  // phase (TCP + TLS) outlasts connectTimeout.
  const tcp = await startTcp(() => {})
  t.after(tcp.close)
  const gw = await startGateway(t, oneIntegration('yankes', `https://127.0.0.1:${tcp.port}`, { connectTimeout: '300ms', timeout: '5s' }))
  const { body, ms } = await getProblem(`${gw.url}/yankes/kamar`, 504, 'UPSTREAM_TIMEOUT', '/yankes/kamar')
  assert.match(body.detail, /300 ms/)
  assertElapsed(ms, 290, 300)
})

test('slow response headers answer 504 UPSTREAM_TIMEOUT at the timeout', async (t) => {
  const origin = await startOrigin(() => { /* never answers */ })
  t.after(origin.close)
  const gw = await startGateway(t, oneIntegration('yankes', origin.url, { timeout: '500ms' }))
  const { body, ms } = await getProblem(`${gw.url}/yankes/kamar`, 504, 'UPSTREAM_TIMEOUT', '/yankes/kamar')
  assert.equal(body.detail, 'yankes did not answer within 500 ms')
  assertElapsed(ms, 490, 500)
})

test('a timeout longer than connectTimeout still fires at the response deadline', async (t) => {
  const origin = await startOrigin(() => { /* never answers */ })
  t.after(origin.close)
  const gw = await startGateway(t, oneIntegration('yankes', origin.url, { connectTimeout: '100ms', timeout: '700ms' }))
  const { ms } = await getProblem(`${gw.url}/yankes/kamar`, 504, 'UPSTREAM_TIMEOUT', '/yankes/kamar')
  assertElapsed(ms, 690, 700)
})

test('a reset after the response headers destroys the client connection, and the next request works', async (t) => {
  let calls = 0
  const tcp = await startTcp((socket) => {
    socket.once('data', () => {
      calls++
      if (calls === 1) {
        socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"data":[')
        setTimeout(() => socket.resetAndDestroy(), 50)
      } else {
        socket.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{"data":[]}')
      }
    })
  })
  t.after(tcp.close)
  const gw = await startGateway(t, oneIntegration('yankes', `http://127.0.0.1:${tcp.port}`))

  const outcome = await new Promise<string>((resolve) => {
    const req = httpRequest(`${gw.url}/yankes/kamar`, (res) => {
      assert.equal(res.statusCode, 200)
      res.on('data', () => {})
      res.on('end', () => { resolve('ended cleanly') })
      res.on('error', () => { resolve('broken') })
      res.on('aborted', () => { resolve('broken') })
    })
    req.on('error', () => { resolve('broken') })
    req.end()
  })
  assert.equal(outcome, 'broken', 'a truncated body must not look complete')

  const res = await fetch(`${gw.url}/yankes/kamar`)
  assert.equal(res.status, 200)
  assert.equal(await res.text(), '{"data":[]}')
  const warned = gw.logs.find((l) => l.msg === 'upstream failed after the response started; client connection destroyed')
  assert.ok(warned !== undefined, 'the failure is logged')
  // The cut-off request still gets its access line, with the error.
  const access = gw.logs.filter((l) => l.msg === 'request cut off by the upstream' && l.path === '/yankes/kamar')
  assert.equal(access.length, 1)
  assert.equal(access[0]?.status, 200)
  assert.equal(access[0]?.level, 'warn', 'a warning: upstream failures are operational')
  assert.match(String((access[0]?.err as { message?: string } | undefined)?.message), /upstream failed after the response started \(ECONNRESET\)/)
  assert.doesNotMatch(String((access[0]?.err as { stack?: string } | undefined)?.stack), /\n\s+at /, 'no stack trace')
})

test('no unhandled rejection or exception escaped while upstreams failed', () => {
  assert.deepEqual(unhandled, [])
})
