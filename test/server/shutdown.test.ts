import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startOrigin } from '../helpers/origin.js'
import { oneIntegration } from '../helpers/gateway.js'
import { startGatewayProcess } from '../helpers/process.js'
import { waitUntil } from '../helpers/time.js'

test('SIGTERM during a 2 s upstream request: the request completes with 200 and the process exits 0', async (t) => {
  const origin = await startOrigin((_req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"data":{"rumahsakit":12}}')
    }, 2000)
  })
  t.after(origin.close)
  const dir = await mkdtemp(join(tmpdir(), 'gerbang-shutdown-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const routes = join(dir, 'routes.yaml')
  await writeFile(routes, oneIntegration('yankes', origin.url))

  const gw = await startGatewayProcess(t, routes)
  const pending = fetch(`${gw.url}/yankes/yankes`)
  // Let the request reach the upstream before the signal.
  await waitUntil('the request to reach the upstream', () => origin.seen.length > 0)
  gw.child.kill('SIGTERM')

  // New connections are refused once the listener is closed (at once; polled, for a slow machine).
  await waitUntil('the listener to refuse new connections', async () => await fetch(`${gw.url}/healthz`).then(() => false, () => true))
  await assert.rejects(fetch(`${gw.url}/healthz`))

  const res = await pending
  assert.equal(res.status, 200)
  assert.deepEqual(await res.json(), { data: { rumahsakit: 12 } })
  const { code, signal } = await gw.exited
  assert.equal(signal, null)
  assert.equal(code, 0)
  assert.ok(gw.logs.some((l) => l.msg === 'stopped'))
})
