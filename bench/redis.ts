// A redis-server of the bench's own: 127.0.0.1, a free port, nothing written
// to disk, stopped with everything else the bench started (bench/processes.ts).
import { spawn, spawnSync } from 'node:child_process'
import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { RedisStore } from '../src/store/redis-store.js'
import { round1 } from './output.js'
import { freePort, hasExited, stop, track, type Started } from './processes.js'

export interface BenchRedis extends Started {
  url: string
  version: string
}

const READY_TIMEOUT_MS = 5000

/** Whether a PING on 127.0.0.1:port gets +PONG, within 500 ms. */
async function pong (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    let answer = ''
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(500, () => { done(false) })
    socket.on('error', () => { done(false) })
    socket.on('connect', () => { socket.write('PING\r\n') })
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1')
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'))
    })
  })
}

/** Starts redis-server in `dir` (its working directory; nothing is saved there). */
export async function startRedis (dir: string): Promise<BenchRedis> {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
  if (probe.error !== undefined) {
    throw new Error('this bench needs redis-server on the PATH (Debian: apt-get install redis-server)')
  }
  const version = /v=(\S+)/.exec(probe.stdout)?.[1] ?? 'unknown'
  // The port is free when picked, not necessarily when redis-server binds it: try again on another.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const redis = await launch(dir, port, version)
    if (typeof redis !== 'string') return redis
    if (attempt === 3) throw new Error(`redis-server did not answer PING on port ${port} within ${READY_TIMEOUT_MS} ms:\n${redis}`)
  }
}

/** Starts redis-server again on the port it had (empty: nothing is saved), after it was stopped. */
export async function restartRedis (dir: string, port: number, version: string): Promise<BenchRedis> {
  const redis = await launch(dir, port, version)
  if (typeof redis === 'string') throw new Error(`redis-server did not start again on port ${port}:\n${redis}`)
  return redis
}

/** A redis-server on `port` once it answers PING; else it is stopped and its output returned. */
async function launch (dir: string, port: number, version: string): Promise<BenchRedis | string> {
  const child = spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir, '--loglevel', 'warning'
  ], { stdio: ['ignore', 'pipe', 'pipe'] })
  const started = track(child, 'redis-server', { captureStdout: true })
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline && !hasExited(started)) {
    if (await pong(port)) return { ...started, port, url: `redis://127.0.0.1:${port}`, version }
    await sleep(20)
  }
  await stop(started)
  return started.output()
}

/**
 * A RedisStore on `url` once it is connected: it fails commands at once while
 * disconnected (no offline queue), so the first one must wait for the connection.
 */
export async function openStore (url: string): Promise<RedisStore> {
  const store = new RedisStore({ url })
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (!store.isAvailable()) {
    if (Date.now() >= deadline) {
      store.redis.disconnect()
      throw new Error(`could not connect to ${url} within ${READY_TIMEOUT_MS} ms`)
    }
    await sleep(10)
  }
  return store
}

/** Closes a store opened by openStore, dropping the connection if Redis is gone. */
export async function closeStore (store: RedisStore | undefined): Promise<void> {
  try {
    await store?.close()
  } catch {
    store?.redis.disconnect()
  }
}

/** How many keys Redis holds and how much memory it uses, MB to 0.1. */
export async function redisMemory (store: RedisStore): Promise<{ keys: number, usedMb: number }> {
  const [info, keys] = await Promise.all([store.redis.info('memory'), store.redis.dbsize()])
  const used = Number(/used_memory:(\d+)/.exec(info)?.[1] ?? Number.NaN)
  return { keys, usedMb: round1(used / 1024 / 1024) }
}
