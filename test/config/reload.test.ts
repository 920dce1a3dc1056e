import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { startEchoOrigin, type Origin } from '../helpers/origin.js'
import { startGatewayProcess, type GatewayProcess } from '../helpers/process.js'
import { sleep, sleepUntil, waitFor } from '../helpers/time.js'
import { routesYaml } from '../helpers/routes.js'

// Acceptance: routes.yaml rewritten 20 times (integrations added, removed and
// changed, 5 invalid versions) under 200 requests/s for 20 s; not one request
// to an integration that stayed fails.

/** auth: none and a rate limit the load never reaches, for `integrations`. */
function routesFor (
  integrations: Record<string, { upstream: string, description?: string, timeout?: string }>
): string {
  return routesYaml({ defaults: { auth: 'none', rateLimit: '1000000/1m' }, integrations })
}

/** Replaces the file the way editors and ConfigMaps do: write beside it, rename over it. */
async function replaceFile (file: string, text: string): Promise<void> {
  const temp = `${file}.tmp-${process.hrtime.bigint()}`
  await writeFile(temp, text)
  await rename(temp, file)
}

/** An echo origin, and a routes file in a new temporary directory serving `names` from it. */
async function routesDir (
  t: TestContext, prefix: string, names: string[]
): Promise<{ origin: Origin, dir: string, file: string }> {
  const origin = await startEchoOrigin()
  t.after(origin.close)
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const file = join(dir, 'routes.yaml')
  await writeFile(file, routesFor(Object.fromEntries(names.map((name) => [name, { upstream: origin.url }]))))
  return { origin, dir, file }
}

/**
 * How many processes (workers) logged 'routes reloaded' (and `match`) since `from`, polled until two did or 5 s passed.
 */
async function workersReloaded (
  gw: GatewayProcess, from: number, match: (l: Record<string, unknown>) => boolean = () => true
): Promise<number> {
  const deadline = Date.now() + 5000
  for (;;) {
    const pids = new Set(gw.logs.slice(from).filter((l) => l.msg === 'routes reloaded' && match(l)).map((l) => l.pid))
    if (pids.size >= 2 || Date.now() >= deadline) return pids.size
    await sleep(20)
  }
}

async function waitForLog (
  gw: GatewayProcess, from: number, match: (l: Record<string, unknown>) => boolean, ms: number
): Promise<Record<string, unknown>> {
  return await waitFor('a matching log line', () => gw.logs.slice(from).find(match), {
    timeoutMs: ms,
    intervalMs: 10,
    detail: () => `last lines:\n${gw.logs.slice(-5).map((l) => JSON.stringify(l)).join('\n')}`
  })
}

test('20 rewrites of routes.yaml under 200 requests/s: no failed request on integrations that stayed, added ones work after their reload, invalid versions never apply', { timeout: 90_000 }, async (t) => {
  const { origin, file } = await routesDir(t, 'gerbang-reload-', ['yankes', 'satu-data'])
  const up = origin.url
  const gw = await startGatewayProcess(t, file)

  const agent = new Agent({ connections: 64 })
  t.after(async () => { await agent.close() })
  const failures: string[] = []
  let sent = 0
  const get = async (path: string): Promise<number> => {
    const res = await request(`${gw.url}${path}`, { dispatcher: agent })
    await res.body.dump()
    return res.statusCode
  }

  // 200 requests/s to the two integrations that stay throughout, sent in
  // bursts every 50 ms, topped up to the rate since the start.
  const loading = { on: true }
  const loadStart = Date.now()
  const load = (async () => {
    const pending: Array<Promise<void>> = []
    while (loading.on) {
      const due = Math.floor((Date.now() - loadStart) / 5) - sent
      for (let i = 0; i < due; i++) {
        const path = i % 2 === 0 ? `/yankes/kamar?n=${sent}` : `/satu-data/getGroup?n=${sent}`
        sent++
        pending.push(get(path).then((status) => { if (status !== 200) failures.push(`${path}: ${status}`) },
          (err: Error) => { failures.push(`${path}: ${err.message}`) }))
      }
      await sleep(50)
    }
    await Promise.all(pending)
  })()

  const stable = { yankes: { upstream: up }, 'satu-data': { upstream: up } }
  const invalid = [
    'integrations:\n  yankes: [this is not\n',
    routesFor({ ...stable, bad: { upstream: 'ftp://nope' } }),
    routesFor(stable).replace('  auth: none', '  auth: maybe'),
    routesFor({ ...stable, 'satu-data': { upstream: up, timeout: 'sebentar' } }),
    'integrations:\n  yankes:\n    upstream: http://127.0.0.1:1\n    prefix: /doc\n'
  ]
  const started = Date.now()
  let reloads = 0
  let refused = 0
  for (let round = 0; round < 20; round++) {
    const from = gw.logs.length
    if (round % 4 === 3) {
      // Every fourth version is invalid: it is refused and the old table serves.
      await replaceFile(file, invalid[(round - 3) / 4] as string)
      const line = await waitForLog(gw, from, (l) => l.msg === 'routes reload refused: the previous routes keep serving', 5000)
      assert.ok((line.problems as number) > 0)
      refused++
      assert.equal(await get('/yankes/x'), 200, 'the old table still serves')
      assert.equal(await get(`/extra-${round - 1}/x`), round - 1 === 0 ? 404 : 200, 'and only it')
    } else {
      // Valid versions: add extra-<round>, drop the previous extra, change a description or timeout of the stable ones.
      const version = {
        yankes: { upstream: up, description: `Layanan kesehatan v${round}` },
        'satu-data': { upstream: up, timeout: `${10 + round}s` },
        [`extra-${round}`]: { upstream: up }
      }
      await replaceFile(file, routesFor(version))
      const line = await waitForLog(gw, from, (l) => l.msg === 'routes reloaded', 5000)
      reloads++
      assert.deepEqual(line.added, [`extra-${round}`])
      assert.deepEqual(line.removed, round === 0 ? [] : [`extra-${round - (round % 4 === 0 ? 2 : 1)}`])
      assert.deepEqual(line.changed, round === 0 ? ['yankes', 'satu-data'] : ['yankes', 'satu-data'])
      assert.equal(await get(`/extra-${round}/kamar`), 200, `extra-${round} answers after its reload`)
    }
    // About one rewrite a second, so the load spans the whole 20 s.
    await sleepUntil(started + (round + 1) * 1000)
  }
  loading.on = false
  await load

  assert.equal(reloads, 15)
  assert.equal(refused, 5)
  assert.ok(sent >= 3900, `only ${sent} requests were sent`)
  assert.deepEqual(failures, [], `${failures.length} of ${sent} requests failed`)
  t.diagnostic(`${sent} requests in ${Date.now() - started} ms over 20 rewrites, none failed`)

  // SIGHUP reloads too: the file now holds the last, invalid version, which
  // is refused again while the running table serves on.
  const from = gw.logs.length
  gw.child.kill('SIGHUP')
  const line = await waitForLog(gw, from, (l) => l.msg === 'routes reload refused: the previous routes keep serving', 5000)
  assert.equal(line.reason, 'SIGHUP')
  assert.equal(gw.child.exitCode, null, 'SIGHUP does not stop the gateway')
  assert.equal(await get('/yankes/x'), 200)

  const ready = await (await fetch(`${gw.url}/readyz`)).json() as { status: string }
  assert.equal(ready.status, 'ready')
})

test('with --workers 2, a changed routes file reloads in every worker', { timeout: 60_000 }, async (t) => {
  const { origin, file } = await routesDir(t, 'gerbang-reload-workers-', ['yankes'])
  const gw = await startGatewayProcess(t, file, {}, ['--workers', '2'])
  const from = gw.logs.length
  await replaceFile(file, routesFor({ yankes: { upstream: origin.url }, bpjs: { upstream: origin.url } }))
  assert.equal(await workersReloaded(gw, from), 2, 'both workers reloaded')
  // Whichever worker answers, bpjs is there.
  for (let i = 0; i < 10; i++) assert.equal((await fetch(`${gw.url}/bpjs/peserta/1`)).status, 200)

  const hup = gw.logs.length
  gw.child.kill('SIGHUP')
  assert.equal(await workersReloaded(gw, hup, (l) => l.reason === 'SIGHUP'), 2, 'SIGHUP to the primary reloads every worker')
  assert.equal(gw.child.exitCode, null)
})

test('a file written all the time beside routes.yaml does not hold a reload back', { timeout: 30_000 }, async (t) => {
  const { origin, dir, file } = await routesDir(t, 'gerbang-reload-busy-', ['yankes'])
  const gw = await startGatewayProcess(t, file)
  // A log beside it, written every 20 ms: each write is a watch event, less than the 150 ms debounce apart.
  const log = { writing: true }
  const writer = (async () => {
    for (let n = 0; log.writing; n++) {
      await writeFile(join(dir, 'gateway.log'), `line ${n}\n`, { flag: 'a' })
      await sleep(20)
    }
  })()
  // Stopped here, not in t.after: the hooks that remove the directory run first.
  try {
    await sleep(300)
    const from = gw.logs.length
    const changedAt = Date.now()
    await replaceFile(file, routesFor({ yankes: { upstream: origin.url }, bpjs: { upstream: origin.url } }))
    await waitForLog(gw, from, (l) => l.msg === 'routes reloaded', 3000)
    assert.ok(Date.now() - changedAt < 2000, `reloaded after ${Date.now() - changedAt} ms`)
    assert.equal((await fetch(`${gw.url}/bpjs/x`)).status, 200)
  } finally {
    log.writing = false
    await writer
  }
})
