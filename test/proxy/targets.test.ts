// Several upstream targets per integration (docs/contract.md section 14, issue 14):
// balancing by weight, passive failover, active health checks, reloads.
// Real upstream servers on 127.0.0.1 that the tests start, kill and revive.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { LookupFunction } from 'node:net'
import { startOrigin, type Origin, type OriginHandler } from '../helpers/origin.js'
import { routesFrom, startGateway } from '../helpers/gateway.js'
import { runGerbang, startGatewayProcess } from '../helpers/process.js'
import { assertProblem, send } from './client.js'
import { trapUnhandled } from '../helpers/unhandled.js'

const unhandled = trapUnhandled()

/** An upstream that answers JSON naming itself; /health answers `healthStatus`. */
interface Server extends Origin {
  name: string
  healthStatus: number
  healthProbes: number
  /** Requests other than /health. */
  served: () => number
}

async function startServer (t: TestContext, name: string, handler?: OriginHandler): Promise<Server> {
  const server = { healthStatus: 200, healthProbes: 0 } as Server
  const origin = await startOrigin((req, res) => {
    if (req.url === '/health') {
      server.healthProbes++
      res.writeHead(server.healthStatus, { 'content-type': 'text/plain' })
      res.end('health')
      return
    }
    if (handler !== undefined) {
      handler(req, res)
      return
    }
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ server: name }))
    })
  })
  Object.assign(server, origin, { name, served: () => origin.seen.filter((s) => s.url !== '/health').length })
  t.after(origin.close)
  return server
}

function routes (targets: string[], extra: string[] = []): string {
  return [
    'defaults:',
    '  auth: none',
    '  rateLimit: 100000/1m',
    'integrations:',
    '  yankes:',
    '    upstream:',
    ...targets.map((x) => `      - ${x}`),
    ...extra.map((l) => `    ${l}`)
  ].join('\n') + '\n'
}

async function getMany (base: string, count: number, path = '/yankes/kamar'): Promise<Array<{ status: number, server: string | undefined }>> {
  const out: Array<{ status: number, server: string | undefined }> = []
  for (let i = 0; i < count; i++) {
    const answer = await send(base, path)
    const server = answer.status === 200 ? (JSON.parse(answer.body.toString()) as { server: string }).server : undefined
    out.push({ status: answer.status, server })
  }
  return out
}

const share = (answers: Array<{ server: string | undefined }>, name: string): number =>
  answers.filter((a) => a.server === name).length / answers.length

test('two targets both serve, and killing one costs no failed GET', async (t) => {
  const a = await startServer(t, 'a')
  const b = await startServer(t, 'b')
  const gw = await startGateway(t, routes([a.url, b.url]))
  const first = await getMany(gw.url, 200)
  assert.ok(first.every((x) => x.status === 200))
  assert.ok(share(first, 'a') >= 0.3, `a served ${share(first, 'a')}`)
  assert.ok(share(first, 'b') >= 0.3, `b served ${share(first, 'b')}`)

  await a.close()
  const after = await getMany(gw.url, 100)
  assert.deepEqual(after.filter((x) => x.status !== 200), [], 'no GET failed after one target died')
  assert.ok(after.every((x) => x.server === 'b'))
  const out = gw.logs.find((l) => l.msg === 'upstream target failed; taken out of the balancing')
  assert.equal(out?.target, a.url)
  assert.deepEqual(unhandled, [])
})

test('a POST in flight on a target that dies answers 502 and is not sent twice', async (t) => {
  let holding: (() => void) | undefined
  const received = async (): Promise<() => void> => {
    for (;;) {
      if (holding !== undefined) return holding
      await sleep(5)
    }
  }
  const holdPost: OriginHandler = (req, res) => {
    if (req.method !== 'POST') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{}')
      return
    }
    req.resume()
    // The target receives the POST, then dies before it answers.
    holding = () => { req.socket.destroy() }
  }
  const a = await startServer(t, 'a', holdPost)
  const b = await startServer(t, 'b', holdPost)
  const gw = await startGateway(t, routes([a.url, b.url]))
  const answer = send(gw.url, '/yankes/daftar', {
    method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '2' }, body: '{}'
  })
  const dropConnection = await received()
  const posts = (o: Origin): number => o.seen.filter((s) => s.method === 'POST').length
  const dying = posts(a) === 1 ? a : b
  const other = dying === a ? b : a
  dropConnection()
  await dying.close()
  const problem = await answer
  assertProblem(problem, 502, 'UPSTREAM_UNAVAILABLE')
  await sleep(200)
  assert.equal(posts(dying), 1)
  assert.equal(posts(other), 0, 'the POST was not sent to the other target')
  // Without an Idempotency-Key no POST is replayed, even on a refused connection, but the GETs go on.
  const next = await getMany(gw.url, 20)
  assert.ok(next.every((x) => x.status === 200))
})

test('with an Idempotency-Key a POST whose target refuses goes to another target', async (t) => {
  const a = await startServer(t, 'a')
  const b = await startServer(t, 'b')
  const gw = await startGateway(t, routes([a.url, b.url], ['retries: 0']))
  await a.close()
  // Bodyless: a streamed body is read once and cannot be sent again (README, retries).
  for (let i = 0; i < 6; i++) {
    const answer = await send(gw.url, '/yankes/daftar', {
      method: 'POST', headers: { 'idempotency-key': `k${i}`, 'content-length': '0' }
    })
    assert.equal(answer.status, 200, answer.body.toString())
  }
  // Without one, the POST that meets the dead target fails (once it is out, no POST meets it).
  const c = await startServer(t, 'c')
  const gw2 = await startGateway(t, routes([c.url, a.url], ['retries: 0']))
  const statuses: number[] = []
  for (let i = 0; i < 4; i++) {
    statuses.push((await send(gw2.url, '/yankes/daftar', { method: 'POST', headers: { 'content-length': '2' }, body: '{}' })).status)
  }
  assert.deepEqual(statuses.filter((s) => s === 502).length, 1, `statuses ${statuses.join(',')}`)
})

test('the circuit breaker stays closed while another target is up, and opens when every target fails', async (t) => {
  const a = await startServer(t, 'a')
  const b = await startServer(t, 'b')
  const gw = await startGateway(t, routes([a.url, b.url], ['retries: 0', 'circuitBreaker: { failures: 2, openFor: 30s }']))
  await a.close()
  // POSTs are not failed over: the one that meets the dead target fails, and tells the breaker nothing.
  for (let i = 0; i < 10; i++) await send(gw.url, '/yankes/x', { method: 'POST', headers: { 'content-length': '0' } })
  const ready = JSON.parse((await send(gw.url, '/readyz')).body.toString()) as { breakers: Record<string, string> }
  assert.equal(ready.breakers.yankes, 'closed')
  await b.close()
  for (let i = 0; i < 4; i++) await send(gw.url, '/yankes/x')
  const after = JSON.parse((await send(gw.url, '/readyz')).body.toString()) as { breakers: Record<string, string> }
  assert.equal(after.breakers.yankes, 'open')
})

test('weights 3:1 give 75% ± 5% of 1,000 requests', async (t) => {
  const a = await startServer(t, 'a')
  const b = await startServer(t, 'b')
  const gw = await startGateway(t, routes([`{ url: ${a.url}, weight: 3 }`, b.url]))
  const answers = await getMany(gw.url, 1000)
  assert.ok(answers.every((x) => x.status === 200))
  const shareA = share(answers, 'a')
  assert.ok(shareA >= 0.70 && shareA <= 0.80, `a served ${shareA}`)
})

test('a target refused on connect is skipped: one that never connects fails over after connectTimeout', async (t) => {
  const b = await startServer(t, 'b')
  // `slow.test` resolves never: its connections time out, like a host that drops SYNs.
  const lookup: LookupFunction = (hostname, options, callback) => {
    if (hostname === 'slow.test') return
    callback(null, options.all === true ? [{ address: '127.0.0.1', family: 4 }] as never : '127.0.0.1', 4)
  }
  const gw = await startGateway(t, routes([`http://slow.test:${b.port}`, b.url], ['connectTimeout: 300ms', 'timeout: 5s']),
    {}, { upstreamConnect: { lookup } })
  const started = performance.now()
  const answers = await getMany(gw.url, 4)
  const took = performance.now() - started
  assert.ok(answers.every((x) => x.status === 200), JSON.stringify(answers))
  // The first request waited for slow.test's connect timeout (and at most undici's timer slack); the others did not
  // meet it.
  assert.ok(took < 2500, `took ${took} ms`)
  const ready = JSON.parse((await send(gw.url, '/readyz')).body.toString()) as { targets: Record<string, Array<{ target: string, state: string, reason?: string }>> }
  assert.deepEqual(ready.targets.yankes?.map((x) => [x.target, x.state, x.reason]),
    [[`http://slow.test:${b.port}`, 'down', 'connection failures'], [b.url, 'up', undefined]])
})

test('health checks take a failing target out within interval × unhealthy + 1 s and bring it back after healthy successes', async (t) => {
  const a = await startServer(t, 'a')
  const b = await startServer(t, 'b')
  const gw = await startGateway(t, routes([a.url, b.url], ['healthCheck: { path: /health, interval: 300ms, healthy: 2, unhealthy: 3 }']))
  assert.ok((await getMany(gw.url, 20)).some((x) => x.server === 'b'))
  b.healthStatus = 503
  await sleep(300 * 3 + 1000)
  const during = await getMany(gw.url, 40)
  assert.ok(during.every((x) => x.status === 200 && x.server === 'a'), 'no traffic for the unhealthy target')
  const metrics = (await send(gw.url, '/metrics')).body.toString()
  assert.match(metrics, new RegExp(`gerbang_upstream_target_up\\{integration="yankes",target="${b.url}"\\} 0`))
  assert.match(metrics, new RegExp(`gerbang_upstream_target_up\\{integration="yankes",target="${a.url}"\\} 1`))
  const down = gw.logs.find((l) => l.msg === 'upstream target unhealthy: taken out of the balancing')
  assert.equal(down?.target, b.url)
  assert.equal(down?.level, 'warn')

  b.healthStatus = 200
  await sleep(300 * 2 + 700)
  const back = await getMany(gw.url, 40)
  assert.ok(share(back, 'b') >= 0.3, `b served ${share(back, 'b')} after recovering`)
  assert.ok(gw.logs.some((l) => l.msg === 'upstream target healthy: back in the balancing' && l.target === b.url))
})

test('a reload keeps the health of targets that stay, adds new ones and stops probing removed ones', async (t) => {
  const a = await startServer(t, 'a')
  const b = await startServer(t, 'b')
  const c = await startServer(t, 'c')
  const check = 'healthCheck: { path: /health, interval: 200ms, healthy: 3, unhealthy: 1 }'
  const gw = await startGateway(t, routes([a.url, b.url], [check]))
  b.healthStatus = 503
  await sleep(700)
  assert.ok((await getMany(gw.url, 10)).every((x) => x.server === 'a'))
  // b stays (still down, no probe needed to know it); c comes; a goes.
  gw.app.applyRoutes(routesFrom(routes([b.url, c.url], [check, 'timeout: 2s'])))
  const after = await getMany(gw.url, 10)
  assert.ok(after.every((x) => x.server === 'c'), JSON.stringify(after))
  const probesOfA = a.healthProbes
  await sleep(600)
  assert.equal(a.healthProbes, probesOfA, 'a removed target is no longer probed')
  assert.ok(c.healthProbes > 0)
})

test('/readyz, /doc and the admin routes view show the targets', async (t) => {
  const a = await startServer(t, 'a')
  const b = await startServer(t, 'b')
  const gw = await startGateway(t, routes([`{ url: ${a.url}/api, weight: 2 }`, `${b.url}/api/`], ['healthCheck: { path: /health, interval: 10s }']))
  const ready = JSON.parse((await send(gw.url, '/readyz')).body.toString()) as { status: string, targets: Record<string, unknown> }
  assert.equal(ready.status, 'ready')
  assert.deepEqual(ready.targets.yankes, [{ target: a.url, weight: 2, state: 'up' }, { target: b.url, weight: 1, state: 'up' }])
  const doc = JSON.parse((await send(gw.url, '/doc/json')).body.toString()) as { tags: Array<{ name: string, description: string }> }
  const tag = doc.tags.find((x) => x.name === 'yankes')
  assert.match(tag?.description ?? '', /2 server upstream/)
  // The base path is shared: a request reaches either target under /api.
  const echoed = await send(gw.url, '/yankes/kamar')
  assert.equal(echoed.status, 200)
  assert.ok([...a.seen, ...b.seen].some((s) => s.url === '/api/kamar'))
})

test('routes check refuses mixed schemes, base paths, repeated origins and bad health checks, with lines', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gerbang-targets-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const path = join(dir, 'routes.yaml')
  await writeFile(path, [
    'integrations:',
    '  yankes:',
    '    upstream:',
    '      - http://10.0.0.1:8080/api',
    '      - https://10.0.0.2:8080/api',
    '      - http://10.0.0.3:8080/v2',
    '      - { url: http://10.0.0.1:8080/api, weight: 2 }',
    '      - { url: http://10.0.0.4:8080/api, weight: 0 }',
    '    healthCheck: { path: /health, interval: 1s, timeout: 5s }',
    '  kosong:',
    '    upstream: []',
    ''
  ].join('\n'))
  const lines = async (): Promise<string[]> => {
    const check = await runGerbang(['routes', 'check', path])
    assert.equal(check.code, 1, check.stdout + check.stderr)
    return check.stdout.trim().split('\n').map((l) => l.slice(path.length + 1))
  }
  // The schema's problems come first, each at its own path.
  const first = await lines()
  assert.ok(first.includes('8: integrations.yankes.upstream.4.weight: must be an integer from 1 to 100 (got 0)'), first.join('\n'))
  assert.ok(first.some((l) => l.startsWith('11: integrations.kosong.upstream: ')), first.join('\n'))
  await writeFile(path, (await readFile(path, 'utf8')).replace('weight: 0', 'weight: 1').replace('upstream: []', 'upstream: http://10.0.0.9'))
  const second = await lines()
  assert.deepEqual(second.map((l) => l.split(': ').slice(0, 2).join(': ')), [
    '5: integrations.yankes.upstream.1',
    '6: integrations.yankes.upstream.2',
    '7: integrations.yankes.upstream.3.url',
    '9: integrations.yankes.healthCheck.timeout'
  ])
  assert.match(second[0] ?? '', /must use http/)
  assert.match(second[1] ?? '', /base path '\/api'/)
  assert.match(second[2] ?? '', /listed twice/)
  assert.match(second[3] ?? '', /must not be longer than the interval/)
})

test('with --workers 2 the health path is probed once per interval, not twice', async (t) => {
  const a = await startServer(t, 'a')
  const b = await startServer(t, 'b')
  const dir = await mkdtemp(join(tmpdir(), 'gerbang-targets-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const file = join(dir, 'routes.yaml')
  await writeFile(file, routes([a.url, b.url], ['healthCheck: { path: /health, interval: 500ms, healthy: 1, unhealthy: 2 }']))
  const gw = await startGatewayProcess(t, file, {}, ['--workers', '2'])
  const before = a.healthProbes
  await sleep(3000)
  const probes = a.healthProbes - before
  // Six intervals: one prober gives about 6, two would give about 12.
  assert.ok(probes >= 4 && probes <= 8, `${probes} probes of a in 3 s`)
  // The verdict reaches the worker that does not probe: b fails, and neither worker sends it requests.
  b.healthStatus = 503
  await sleep(500 * 2 + 1000)
  const answers = await getMany(gw.url, 30)
  assert.ok(answers.every((x) => x.server === 'a'), JSON.stringify(answers.filter((x) => x.server !== 'a')))
  gw.child.kill('SIGTERM')
  await gw.exited
})
