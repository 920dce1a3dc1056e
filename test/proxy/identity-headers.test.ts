// Security rules for the headers Gerbang sets (docs/contract.md section 15):
// a client can neither strip nor spoof x-client-id, x-client-name,
// x-request-id and x-forwarded-*, checked where it matters, in a real CGI-style
// (WSGI) upstream that reads `x_client_id` as HTTP_X_CLIENT_ID. And the other
// direction: an upstream cannot remove the gateway's x-request-id, set the
// admin session cookie, or have its answers sniffed into another type.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway, type TestGateway } from '../helpers/gateway.js'
import { startOrigin } from '../helpers/origin.js'
import { startWsgiOrigin } from '../helpers/wsgi.js'
import { assertProblem, send, sendRaw } from './client.js'

interface Victim { id: string, name: string }

interface Setup {
  gw: TestGateway
  key: string
  me: Victim
  victim: Victim
}

async function setup (t: TestContext): Promise<Setup> {
  const wsgi = await startWsgiOrigin(t)
  const gw = await startGateway(t, [
    'integrations:',
    '  sirs:',
    `    upstream: ${wsgi.url}`,
    '  terbuka:',
    `    upstream: ${wsgi.url}`,
    '    auth: none',
    ''
  ].join('\n'))
  const mine = await gw.app.clients.create({ name: 'Aplikasi Dinkes', integrations: ['sirs'] })
  const other = await gw.app.clients.create({ name: 'RSUD Banten', integrations: '*' })
  return {
    gw,
    key: mine.key,
    me: { id: mine.client.id, name: mine.client.name },
    victim: { id: other.client.id, name: other.client.name }
  }
}

/** What the WSGI app saw: its HTTP_* environment. */
function environ (answer: { status: number, body: Buffer }): Record<string, string> {
  assert.equal(answer.status, 200, answer.body.toString())
  return JSON.parse(answer.body.toString()) as Record<string, string>
}

test('a Connection header cannot remove the headers the gateway sets', async (t) => {
  const { gw, key, me } = await setup(t)
  const answer = await send(gw.url, '/sirs/pasien', {
    headers: {
      'x-api-key': key,
      connection: 'keep-alive, x-client-id, X-Client-Name, x-forwarded-for, x-forwarded-proto, x-forwarded-host, x-request-id'
    }
  })
  const env = environ(answer)
  assert.equal(env.HTTP_X_CLIENT_ID, me.id)
  assert.equal(env.HTTP_X_CLIENT_NAME, me.name)
  assert.equal(env.HTTP_X_REQUEST_ID, answer.headers['x-request-id'])
  assert.equal(env.HTTP_X_FORWARDED_FOR, '127.0.0.1')
  assert.equal(env.HTTP_X_FORWARDED_PROTO, 'http')
  assert.equal(env.HTTP_X_FORWARDED_HOST, new URL(gw.url).host)
})

test('a Connection header still removes the client\'s own headers it names', async (t) => {
  const { gw, key } = await setup(t)
  const env = environ(await send(gw.url, '/sirs/pasien', {
    headers: { 'x-api-key': key, connection: 'x-hop', 'x-hop': 'one hop only', 'x-kept': 'yes' }
  }))
  assert.equal(env.HTTP_X_HOP, undefined)
  assert.equal(env.HTTP_X_KEPT, 'yes')
})

test('header names with an underscore never reach the upstream, so nobody can pose as another client', async (t) => {
  const { gw, key, me, victim } = await setup(t)
  const answer = await send(gw.url, '/sirs/pasien', {
    headers: {
      'x-api-key': key,
      x_client_id: victim.id,
      x_client_name: victim.name,
      X_Forwarded_For: '10.1.2.3',
      x_request_id: 'forged-id',
      connection: 'x-client-id, x-client-name, x-forwarded-for, x-request-id',
      'x-normal-header': 'kept'
    }
  })
  const env = environ(answer)
  assert.equal(env.HTTP_X_CLIENT_ID, me.id)
  assert.equal(env.HTTP_X_CLIENT_NAME, me.name)
  assert.equal(env.HTTP_X_FORWARDED_FOR, '127.0.0.1')
  assert.equal(env.HTTP_X_REQUEST_ID, answer.headers['x-request-id'])
  assert.equal(env.HTTP_X_NORMAL_HEADER, 'kept')
  assert.doesNotMatch(answer.body.toString(), /forged-id|10\.1\.2\.3/)
  assert.doesNotMatch(answer.body.toString(), new RegExp(victim.id))
})

test('an open integration gets no client identity from the client either', async (t) => {
  const { gw, victim } = await setup(t)
  const env = environ(await send(gw.url, '/terbuka/data', {
    headers: { 'x-client-id': victim.id, 'x-client-name': victim.name, x_client_id: victim.id }
  }))
  assert.equal(env.HTTP_X_CLIENT_ID, undefined)
  assert.equal(env.HTTP_X_CLIENT_NAME, undefined)
})

test('Forwarded, X-Real-IP, X-Original-URL, X-Rewrite-URL and other x-forwarded-* from the client are removed', async (t) => {
  const { gw, key } = await setup(t)
  const env = environ(await send(gw.url, '/sirs/pasien', {
    headers: {
      'x-api-key': key,
      forwarded: 'for=10.9.9.9;proto=https;host=evil.example',
      'x-real-ip': '10.9.9.9',
      'x-original-url': '/admin/api/users',
      'x-rewrite-url': '/admin/api/users',
      'x-forwarded-prefix': '/evil',
      'x-forwarded-port': '443',
      'x-forwarded-server': 'evil.example',
      'x-forwarded-for': '10.9.9.9'
    }
  }))
  for (const name of ['HTTP_FORWARDED', 'HTTP_X_REAL_IP', 'HTTP_X_ORIGINAL_URL', 'HTTP_X_REWRITE_URL',
    'HTTP_X_FORWARDED_PREFIX', 'HTTP_X_FORWARDED_PORT', 'HTTP_X_FORWARDED_SERVER']) {
    assert.equal(env[name], undefined, `${name} reached the upstream`)
  }
  // Without GERBANG_TRUST_PROXY nobody's X-Forwarded-For is believed: the peer is the client.
  assert.equal(env.HTTP_X_FORWARDED_FOR, '127.0.0.1')
})

test('two Host headers, or a Host that is not host[:port], are refused with 400', async (t) => {
  const { gw, key } = await setup(t)
  const port = new URL(gw.url).port
  const twice = await sendRaw(gw.url,
    `GET /sirs/pasien HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nHost: evil.example\r\nx-api-key: ${key}\r\nConnection: close\r\n\r\n`)
  assertProblem(twice, 400, 'BAD_REQUEST')
  for (const host of ['evil.example/../admin', 'a b', 'evil.example:99999', 'user@evil.example', 'evil.example:80:81']) {
    const answer = await sendRaw(gw.url, `GET /sirs/pasien HTTP/1.1\r\nHost: ${host}\r\nx-api-key: ${key}\r\nConnection: close\r\n\r\n`)
    assert.equal(answer.status, 400, `Host: ${host} answered ${answer.status}`)
    assert.equal(answer.headers['content-type'], 'application/problem+json')
  }
  // Ordinary forms still pass: a name, a name with a port, an IPv6 literal.
  for (const host of ['gateway.bantenprov.go.id', `127.0.0.1:${port}`, `[::1]:${port}`]) {
    const answer = await sendRaw(gw.url, `GET /sirs/pasien HTTP/1.1\r\nHost: ${host}\r\nx-api-key: ${key}\r\nConnection: close\r\n\r\n`)
    assert.equal(answer.status, 200, `Host: ${host} answered ${answer.status}`)
  }
})

test('an upstream cannot remove x-request-id, set the admin cookie, or have its answer sniffed', async (t) => {
  const origin = await startOrigin((_req, res) => {
    res.setHeader('connection', 'x-request-id, x-content-type-options')
    res.setHeader('set-cookie', [
      'gerbang_session=stolen; Path=/admin; HttpOnly',
      'Gerbang_Session=stolen2; Path=/',
      'lang=id; Path=/'
    ])
    res.setHeader('x-content-type-options', 'sniff-away')
    res.setHeader('cross-origin-opener-policy', 'same-origin')
    res.setHeader('service-worker-allowed', '/')
    res.setHeader('content-type', 'text/html')
    res.end('<p>hello</p>')
  })
  t.after(async () => { await origin.close() })
  const gw = await startGateway(t, `integrations:\n  portal:\n    upstream: ${origin.url}\n    auth: none\n`)
  const answer = await send(gw.url, '/portal/', { headers: { 'x-request-id': 'req-abc-123' } })
  assert.equal(answer.status, 200)
  assert.equal(answer.headers['x-request-id'], 'req-abc-123')
  assert.equal(answer.headers['x-content-type-options'], 'nosniff')
  assert.deepEqual(answer.headers['set-cookie'], ['lang=id; Path=/'])
  assert.equal(answer.headers['cross-origin-opener-policy'], undefined)
  assert.equal(answer.headers['service-worker-allowed'], undefined)
  assert.equal(answer.body.toString(), '<p>hello</p>')
})
