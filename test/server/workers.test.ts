import { after, before, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { oneIntegration } from '../helpers/gateway.js'
import { runGerbang, startGatewayProcess } from '../helpers/process.js'
import { waitUntil } from '../helpers/time.js'

// `gerbang start --workers N`: real processes on 127.0.0.1, a routes file
// with auth: none in front of an echo origin that answers /slow after 1.5 s.

type Log = Record<string, unknown>

interface Cluster {
  child: ChildProcess
  url: string
  logs: Log[]
  /** The "gerbang is ready" line's pids. */
  workerPids: number[]
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Every worker pid the logs have named (ready lines and access lines). */
function pidsInLogs (logs: Log[], primary: number | undefined): Set<number> {
  return new Set(logs.map((l) => l.pid as number).filter((pid) => pid !== primary))
}

/**
 * startGatewayProcess with `--workers N`. The primary and every worker it
 * logged are SIGKILLed when the test ends if still running.
 */
async function startCluster (
  t: TestContext, routesFile: string, workers: number, env: NodeJS.ProcessEnv = {}
): Promise<Cluster> {
  const started: { logs: Log[], primary: number | undefined } = { logs: [], primary: undefined }
  t.after(() => {
    for (const pid of pidsInLogs(started.logs, started.primary)) if (alive(pid)) process.kill(pid, 'SIGKILL')
  })
  const gateway = await startGatewayProcess(t, routesFile, env, ['--workers', String(workers)])
  started.logs = gateway.logs as Log[]
  started.primary = gateway.child.pid
  return {
    child: gateway.child,
    url: gateway.url,
    logs: started.logs,
    workerPids: gateway.readyLine.pids as number[],
    exited: gateway.exited
  }
}

/**
 * GET on a fresh connection (no keep-alive), so the cluster hands every
 * request to the next worker. Gives up after 2 s without an answer: a
 * connection the primary was handing to a worker as it died is never
 * answered (Node's cluster keeps it open), which counts as a failure.
 */
async function get (url: string): Promise<number> {
  return await new Promise((resolve, reject) => {
    const req = request(url, { agent: false, timeout: 2000 }, (res) => {
      res.on('error', reject)
      res.on('end', () => { resolve(res.statusCode ?? 0) })
      res.resume()
    })
    req.on('timeout', () => { req.destroy(new Error('no answer within 2 s')) })
    req.on('error', reject)
    req.end()
  })
}

interface Stats { issued: number, ok: number, failed: number, errors: string[] }

/** `concurrency` loops of requests while keepGoing() says so, counting 200s and everything else as they go. */
function load (
  url: string, concurrency: number, keepGoing: (stats: Stats) => boolean
): { stats: Stats, done: Promise<Stats> } {
  const stats: Stats = { issued: 0, ok: 0, failed: 0, errors: [] }
  const done = Promise.all(Array.from({ length: concurrency }, async () => {
    while (keepGoing(stats)) {
      stats.issued++
      try {
        const status = await get(url)
        if (status === 200) {
          stats.ok++
        } else {
          stats.failed++
          stats.errors.push(`status ${status}`)
        }
      } catch (err) {
        stats.failed++
        stats.errors.push((err as Error).message)
      }
    }
  })).then(() => stats)
  return { stats, done }
}

let routesFile: string
let origin: Origin

before(async () => {
  origin = await startOrigin((req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ url: req.url }))
    }, req.url === '/slow' ? 1500 : 0)
  })
  const dir = await mkdtemp(join(tmpdir(), 'gerbang-workers-'))
  routesFile = join(dir, 'routes.yaml')
  // Far above what these tests send: each worker counts on its own (embedded store).
  await writeFile(routesFile, oneIntegration('echo', origin.url, { rateLimit: '1000000/1m' }))
})

after(async () => {
  await origin.close()
  await rm(dirname(routesFile), { recursive: true, force: true })
})

test('--workers 2: both workers serve, the primary says ready once with every pid', async (t) => {
  const gw = await startCluster(t, routesFile, 2)
  assert.equal(gw.workerPids.length, 2)
  assert.ok(!gw.workerPids.includes(gw.child.pid as number))
  // Workers announce themselves as "worker ready"; only the primary says "gerbang is ready".
  assert.equal(gw.logs.filter((l) => l.msg === 'gerbang is ready').length, 1)
  // Each worker's own line may reach the shared stdout just after the primary's.
  const workerReady = () => gw.logs.filter((l) => l.msg === 'worker ready')
  await waitUntil('both "worker ready" lines', () => workerReady().length === 2)
  assert.deepEqual(workerReady().map((l) => l.pid).sort(), [...gw.workerPids].sort())
  assert.ok(workerReady().every((l) => l.address === gw.url))

  const result = await load(`${gw.url}/echo/spread`, 20, ({ issued }) => issued < 400).done
  assert.deepEqual(result, { issued: 400, ok: 400, failed: 0, errors: [] })
  const served = () => gw.logs.filter((l) => l.msg === 'request' && l.path === '/echo/spread')
  await waitUntil('400 access lines', () => served().length === 400)
  const perPid = new Map<unknown, number>()
  for (const line of served()) perPid.set(line.pid, (perPid.get(line.pid) ?? 0) + 1)
  assert.deepEqual([...perPid.keys()].sort(), [...gw.workerPids].sort(), JSON.stringify([...perPid]))
  for (const [pid, count] of perPid) assert.ok(count > 0, `worker ${String(pid)} served nothing`)
})

test('--workers 2: every scrape reports the whole instance, 200 requests spread over both workers', async (t) => {
  const gw = await startCluster(t, routesFile, 2)
  const result = await load(`${gw.url}/echo/counted`, 10, ({ issued }) => issued < 200).done
  assert.deepEqual(result, { issued: 200, ok: 200, failed: 0, errors: [] })
  const served = () => gw.logs.filter((l) => l.msg === 'request' && l.path === '/echo/counted')
  await waitUntil('200 access lines', () => served().length === 200)
  assert.equal(new Set(served().map((l) => l.pid)).size, 2, 'both workers served')
  const series = 'gerbang_requests_total{integration="echo",method="GET",status_class="2xx"}'
  const scrapedBy = new Set<unknown>()
  for (let i = 0; i < 6; i++) {
    // A fresh connection each time, so the cluster hands scrapes to both workers.
    const res = await fetch(`${gw.url}/metrics`, { headers: { connection: 'close' } })
    assert.equal(res.status, 200)
    const line = (await res.text()).split('\n').find((l) => l.startsWith(series + ' '))
    assert.equal(line, `${series} 200`, `scrape ${i + 1}`)
  }
  for (const l of gw.logs) if (l.msg === 'request' && l.path === '/metrics') scrapedBy.add(l.pid)
  assert.equal(scrapedBy.size, 2, 'the scrapes reached both workers')
})

test('a worker SIGKILLed under load: the others keep serving and the primary starts a new one', async (t) => {
  const gw = await startCluster(t, routesFile, 2)
  const [victim, survivor] = gw.workerPids as [number, number]
  const replacement = () => gw.logs.find((l) => l.msg === 'worker ready' && !gw.workerPids.includes(l.pid as number))
  let okWhenReplaced: number | undefined
  const giveUp = Date.now() + 10_000
  // Requests flow until 200 more have succeeded after the new worker is ready.
  const { stats, done } = load(`${gw.url}/echo/kill`, 20, ({ ok }) => {
    if (Date.now() > giveUp) return false
    if (replacement() === undefined) return true
    okWhenReplaced ??= ok
    return ok < okWhenReplaced + 200
  })
  await waitUntil('100 requests', () => stats.ok >= 100)
  process.kill(victim, 'SIGKILL')
  const okAtKill = stats.ok
  const result = await done

  assert.ok(replacement() !== undefined, 'no new worker within 10 s')
  // Until the new worker was ready, the survivor alone answered.
  assert.ok((okWhenReplaced ?? 0) > okAtKill, 'nothing succeeded while one worker was down')
  assert.ok(result.failed <= 20, `${result.failed} requests failed; at most the killed worker's in-flight ones may: ${result.errors.join(', ')}`)
  t.diagnostic(`${result.ok} ok, ${result.failed} failed when a worker was killed: ${result.errors.join(', ')}`)
  assert.ok(!alive(victim))
  const died = gw.logs.find((l) => l.msg === 'worker died: restarting it')
  assert.equal(died?.workerPid, victim)
  assert.equal(died?.signal, 'SIGKILL')
  const newPid = replacement()?.pid as number
  assert.ok(alive(newPid) && alive(survivor))

  // Afterwards every request succeeds, and the new worker takes its share.
  const after = await load(`${gw.url}/echo/after`, 10, ({ issued }) => issued < 100).done
  assert.deepEqual(after, { issued: 100, ok: 100, failed: 0, errors: [] })
  await waitUntil('the new worker\'s access lines', () => gw.logs.some((l) => l.msg === 'request' && l.path === '/echo/after' && l.pid === newPid))
})

test('SIGTERM to the primary during a 1.5 s upstream request: it completes, every process exits, exit 0', async (t) => {
  const gw = await startCluster(t, routesFile, 2)
  const seen = origin.seen.length
  const pending = get(`${gw.url}/echo/slow`)
  await waitUntil('the slow request upstream', () => origin.seen.slice(seen).some((r) => r.url === '/slow'))
  gw.child.kill('SIGTERM')

  assert.equal(await pending, 200)
  const { code, signal } = await gw.exited
  assert.equal(signal, null)
  assert.equal(code, 0)
  for (const pid of [...gw.workerPids, gw.child.pid as number]) assert.ok(!alive(pid), `process ${pid} is still running`)
  assert.equal(gw.logs.filter((l) => l.msg === 'stopped' && gw.workerPids.includes(l.pid as number)).length, 2)
  assert.ok(!gw.logs.some((l) => l.msg === 'worker died: restarting it'))
})

test('a crash loop: the primary gives up, stops the workers and exits 1', async (t) => {
  const gw = await startCluster(t, routesFile, 2)
  const killed = new Set<number>()
  // Kill every worker as soon as it is ready; the fifth death within 10 s ends it.
  await waitUntil('the primary to give up and exit', () => {
    for (const pid of pidsInLogs(gw.logs, gw.child.pid)) {
      if (!killed.has(pid) && alive(pid)) {
        killed.add(pid)
        process.kill(pid, 'SIGKILL')
      }
    }
    return gw.child.exitCode !== null
  }, 15_000)
  const { code } = await gw.exited
  assert.equal(code, 1)
  assert.ok(gw.logs.some((l) => l.msg === 'workers keep dying: giving up'))
  for (const pid of pidsInLogs(gw.logs, gw.child.pid)) assert.ok(!alive(pid), `worker ${pid} outlived the primary`)
})

test('--workers must be 1..64 or auto: anything else is a usage error, exit 2', async () => {
  for (const value of ['0', 'x', '65', '1.5', '2x', '']) {
    const run = await runGerbang(['start', '--routes', routesFile, '--port', '0', '--host', '127.0.0.1', '--workers', value])
    assert.equal(run.code, 2, `--workers '${value}': ${run.stderr}`)
    assert.match(run.stderr, /--workers must be a whole number from 1 to 64, or auto/)
    assert.match(run.stderr, /gerbang start .*--workers N\|auto/)
  }
})

test('--workers with an invalid routes file: the same problem lines, exit 1, no worker started', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gerbang-workers-bad-'))
  try {
    const bad = join(dir, 'routes.yaml')
    await writeFile(bad, 'integrations:\n  yankes:\n    upstream: http://127.0.0.1:3000\n    timeout: soon\n')
    const run = await runGerbang(['start', '--routes', bad, '--port', '0', '--host', '127.0.0.1', '--workers', '2'])
    assert.equal(run.code, 1)
    assert.match(run.stderr, /is not valid; the gateway will not start/)
    assert.ok(run.stderr.includes(`${bad}:4: integrations.yankes.timeout`), run.stderr)
    assert.equal(run.stderr.match(/will not start/g)?.length, 1)
    assert.equal(run.stdout, '', 'no worker should have logged anything')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
