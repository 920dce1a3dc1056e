// Behind a load balancer (docs/contract.md section 13): with GERBANG_TRUST_PROXY
// the client is the right-most X-Forwarded-For address that is not itself a
// trusted proxy, for allowed IPs, per-address limits, the logs and the
// x-forwarded-for sent upstream; without it, nobody's X-Forwarded-For counts.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway, type TestGateway } from '../helpers/gateway.js'
import { startEchoOrigin, type Origin } from '../helpers/origin.js'
import { send } from '../proxy/client.js'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startRedis } from '../helpers/redis.js'
import { runGerbang, startGatewayProcess } from '../helpers/process.js'

interface Setup { gw: TestGateway, origin: Origin, key: string }

async function setup (t: TestContext, trustProxy?: string): Promise<Setup> {
  const origin = await startEchoOrigin()
  t.after(origin.close)
  const gw = await startGateway(t, [
    'integrations:',
    '  dukcapil:',
    `    upstream: ${origin.url}`,
    '  terbuka:',
    `    upstream: ${origin.url}`,
    '    auth: none',
    '    rateLimit: 2/1m',
    ''
  ].join('\n'), {}, trustProxy === undefined ? {} : { trustProxy })
  const { key } = await gw.app.clients.create({ name: 'Kantor Cabang', integrations: '*', allowedIps: ['10.9.8.7'] })
  return { gw, origin, key }
}

const call = async (s: Setup, path: string, forwardedFor?: string): Promise<number> => (await send(s.gw.url, path, {
  headers: { 'x-api-key': s.key, ...(forwardedFor !== undefined ? { 'x-forwarded-for': forwardedFor } : {}) }
})).status

test('a trusted proxy\'s X-Forwarded-For decides the client address for allowed IPs', async (t) => {
  const s = await setup(t, '127.0.0.1/32, 10.0.0.0/8')
  assert.equal(await call(s, '/dukcapil/nik', '10.9.8.7'), 200)
  // The right-most untrusted hop is the client: here 203.0.113.9, not allowed.
  assert.equal(await call(s, '/dukcapil/nik', '10.9.8.7, 203.0.113.9'), 403)
  // Hops that are themselves trusted proxies are skipped.
  assert.equal(await call(s, '/dukcapil/nik', '203.0.113.9, 10.9.8.7, 10.1.1.1'), 403)
  assert.equal(await call(s, '/dukcapil/nik'), 403, 'the proxy itself is not the client')
  const seen = s.origin.seen.at(0)
  assert.equal(seen?.headers['x-forwarded-for'], '10.9.8.7, 127.0.0.1')
  const line = s.gw.logs.find((l) => l.msg === 'request' && l.status === 200)
  assert.equal(line?.ip, '10.9.8.7')
})

test('without GERBANG_TRUST_PROXY the same header changes nothing', async (t) => {
  const s = await setup(t)
  const answer = await send(s.gw.url, '/dukcapil/nik', { headers: { 'x-api-key': s.key, 'x-forwarded-for': '10.9.8.7' } })
  assert.equal(answer.status, 403, answer.body.toString())
  const line = s.gw.logs.find((l) => l.msg === 'request' && l.status === 403)
  assert.equal(line?.ip, '127.0.0.1')
})

test('per-address limits count each forwarded client apart', async (t) => {
  const s = await setup(t, '127.0.0.1/32')
  const statuses = async (address: string): Promise<number[]> => {
    const out: number[] = []
    for (let i = 0; i < 3; i++) out.push(await call(s, '/terbuka/data', address))
    return out
  }
  assert.deepEqual(await statuses('198.51.100.1'), [200, 200, 429])
  assert.deepEqual(await statuses('198.51.100.2'), [200, 200, 429])
})

test('a trusted proxy\'s X-Forwarded-Proto is believed, nobody else\'s', async (t) => {
  const trusted = await setup(t, '127.0.0.1/32')
  await send(trusted.gw.url, '/terbuka/a', { headers: { 'x-forwarded-proto': 'https' } })
  assert.equal(trusted.origin.seen.at(-1)?.headers['x-forwarded-proto'], 'https')
  const untrusted = await setup(t)
  await send(untrusted.gw.url, '/terbuka/a', { headers: { 'x-forwarded-proto': 'https' } })
  assert.equal(untrusted.origin.seen.at(-1)?.headers['x-forwarded-proto'], 'http')
})

test('black-box: gerbang start with GERBANG_TRUST_PROXY, a key made by gerbang keys, allowed only from 10.9.8.7', async (t) => {
  const redis = await startRedis(t, { own: true })
  const origin = await startEchoOrigin()
  t.after(origin.close)
  const dir = await mkdtemp(join(tmpdir(), 'gerbang-trust-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const routes = join(dir, 'routes.yaml')
  await writeFile(routes, `integrations:\n  dukcapil:\n    upstream: ${origin.url}\n  terbuka:\n    upstream: ${origin.url}\n    auth: none\n    rateLimit: 1/1m\n`)
  const env = { REDIS_URL: redis.url, GERBANG_KEY_PEPPER: 'trusted-proxies-pepper-0123456789' }
  const created = await runGerbang(['keys', 'create', '--client', 'Kantor Cabang', '--integrations', '*', '--allowed-ips', '10.9.8.7', '--json'], env)
  assert.equal(created.code, 0, created.stderr)
  const { key } = JSON.parse(created.stdout) as { key: string }
  const status = async (url: string, path: string, forwardedFor: string): Promise<number> =>
    (await send(url, path, { headers: { 'x-api-key': key, 'x-forwarded-for': forwardedFor } })).status

  const trusted = await startGatewayProcess(t, routes, { ...env, GERBANG_TRUST_PROXY: '127.0.0.1/32' })
  assert.equal(await status(trusted.url, '/dukcapil/nik', '10.9.8.7'), 200)
  assert.equal(await status(trusted.url, '/dukcapil/nik', '10.9.8.7, 203.0.113.9'), 403)
  // Per-address limits: each forwarded client has its own 1/1m.
  assert.equal(await status(trusted.url, '/terbuka/a', '198.51.100.1'), 200)
  assert.equal(await status(trusted.url, '/terbuka/a', '198.51.100.2'), 200)
  assert.equal(await status(trusted.url, '/terbuka/a', '198.51.100.1'), 429)

  const untrusted = await startGatewayProcess(t, routes, env)
  assert.equal(await status(untrusted.url, '/dukcapil/nik', '10.9.8.7'), 403, 'without the setting the header changes nothing')

  const refused = await runGerbang(['start', '--routes', routes, '--port', '0'], { ...env, GERBANG_TRUST_PROXY: '10.0.0.0/8, lb.internal' })
  assert.equal(refused.code, 1)
  assert.match(refused.stderr, /GERBANG_TRUST_PROXY: 'lb\.internal' is not an IP address or CIDR/)
})
