import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import type { TestContext } from 'node:test'
import { randomBytes } from 'node:crypto'
import { waitUntil } from './time.js'

export interface TestRedis {
  url: string
  port: number
  /** A key prefix of this test's own, so runs against a shared REDIS_URL never collide. */
  prefix: string
  /** Stops the server (as a crash would); only for servers this helper started. */
  kill: () => Promise<void>
  /** Starts it again on the same port, empty. */
  restart: () => Promise<void>
}

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => { resolve() }))
  return port
}

let checked = false
function requireRedisServer (): void {
  if (checked) return
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
  if (probe.error !== undefined) {
    throw new Error('these tests need a Redis server: install redis-server (Debian: apt-get install redis-server; ' +
      '`bash .ci/run` does it) or set REDIS_URL to one they may use')
  }
  checked = true
}

async function waitForPing (port: number, child: ChildProcess): Promise<void> {
  await waitUntil(`redis-server on port ${port} to answer PING`, () => {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`)
    return spawnSync('redis-cli', ['-p', String(port), 'PING'], { encoding: 'utf8' }).stdout?.trim() === 'PONG'
  }, { intervalMs: 25 })
}

/** Resolves once `store` (a RedisStore, say) has connected; fails after `timeoutMs`. */
export async function storeConnected (store: { isAvailable: () => boolean }, timeoutMs = 10_000): Promise<void> {
  await waitUntil('the store to connect', () => store.isAvailable(), { timeoutMs, intervalMs: 10 })
}

/**
 * A real redis-server for this test on 127.0.0.1 and a free port, stopped
 * when the test ends. With `own: false` and REDIS_URL set, that server is used
 * instead (under a prefix of this test's own); tests that kill Redis ask for their own.
 */
export async function startRedis (t: TestContext, { own = false }: { own?: boolean } = {}): Promise<TestRedis> {
  const prefix = `gbtest:${randomBytes(4).toString('hex')}:`
  const shared = process.env.REDIS_URL
  if (!own && shared !== undefined && shared !== '') {
    const port = Number(new URL(shared).port || 6379)
    const refuse = async (): Promise<void> => { throw new Error('cannot kill a shared REDIS_URL server') }
    return { url: shared, port, prefix, kill: refuse, restart: refuse }
  }
  requireRedisServer()
  const port = await freePort()
  let child: ChildProcess | undefined
  const start = async (): Promise<void> => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
      { stdio: 'ignore' })
    await waitForPing(port, child)
  }
  const kill = async (): Promise<void> => {
    const running = child
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return
    const exited = once(running, 'exit')
    running.kill('SIGKILL')
    await exited
  }
  await start()
  t.after(kill)
  return { url: `redis://127.0.0.1:${port}`, port, prefix, kill, restart: start }
}
