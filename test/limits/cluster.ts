// A real three-master Redis Cluster for one test: three redis-server
// processes in cluster mode on 127.0.0.1, joined with `redis-cli --cluster
// create`, all stopped and their directory removed when the test ends.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { waitUntil } from '../helpers/time.js'

export interface TestCluster {
  /** `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3` */
  url: string
  ports: number[]
}

async function portIsFree (port: number): Promise<boolean> {
  const server = createServer()
  return await new Promise<boolean>((resolve) => {
    server.once('error', () => { resolve(false) })
    server.listen(port, '127.0.0.1', () => { server.close(() => { resolve(true) }) })
  })
}

/**
 * Three ports P whose cluster bus ports P + 10000 are free too. Taken below
 * the usual ephemeral range, so the bus port stays under 65536.
 */
async function clusterPorts (count: number): Promise<number[]> {
  const ports: number[] = []
  for (let attempt = 0; ports.length < count && attempt < 500; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 10_000)
    if (ports.includes(port)) continue
    if (await portIsFree(port) && await portIsFree(port + 10_000)) ports.push(port)
  }
  if (ports.length < count) throw new Error('no free ports for a Redis Cluster')
  return ports
}

// --cluster create waits for the nodes to agree: on a loaded CI machine it
// has taken over 10 s, so it is given longer than the other commands.
function cli (args: string[], timeoutMs = 10_000): string {
  const result = spawnSync('redis-cli', args, { encoding: 'utf8', timeout: timeoutMs })
  if (result.error !== undefined) throw new Error(`redis-cli ${args.join(' ')}: ${result.error.message}`)
  return `${result.stdout ?? ''}${result.stderr ?? ''}`
}

export async function startRedisCluster (t: TestContext): Promise<TestCluster> {
  if (spawnSync('redis-server', ['--version']).error !== undefined) {
    throw new Error('this test needs redis-server and redis-cli on PATH (Debian: apt-get install redis-server)')
  }
  const dir = await mkdtemp(join(tmpdir(), 'gerbang-cluster-'))
  const children: ChildProcess[] = []
  // Killed as a crash would: nothing of the cluster is kept, so no shutdown is owed.
  t.after(async () => {
    await Promise.all(children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGKILL')
      await exited
    }))
    await rm(dir, { recursive: true, force: true })
  })

  const ports = await clusterPorts(3)
  for (const port of ports) {
    children.push(spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1',
      '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`),
      '--cluster-node-timeout', '5000',
      '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning'
    ], { stdio: 'ignore' }))
  }
  for (const [i, port] of ports.entries()) {
    await waitUntil(`redis-server on port ${port} to answer PING`, () => {
      if (children[i]?.exitCode !== null) throw new Error(`redis-server on port ${port} exited with ${String(children[i]?.exitCode)}`)
      return cli(['-p', String(port), 'PING']).trim() === 'PONG'
    }, { timeoutMs: 5000, intervalMs: 50 })
  }

  const created = cli(['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], 60_000)
  if (!created.includes('[OK] All 16384 slots covered')) throw new Error(`redis-cli --cluster create failed:\n${created}`)
  // Every node, not only the first: a client may be sent to any of them.
  await waitUntil('cluster_state:ok on every node',
    () => ports.every((port) => cli(['-p', String(port), 'CLUSTER', 'INFO']).includes('cluster_state:ok')), { timeoutMs: 10_000, intervalMs: 50 })

  return { url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`, ports }
}
