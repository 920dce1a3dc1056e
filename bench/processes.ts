// Starting the processes a bench measures and stopping every one of them,
// whatever happens: an error, Ctrl-C, a child that dies early. No exit path
// may leave a gateway or a redis-server behind on a shared machine.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { dirname, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

// Compiled to dist/bench/*.js; the sibling scripts are compiled next to it.
export const HERE = dirname(fileURLToPath(import.meta.url))
export const REPO_ROOT = resolve(HERE, '../..')
export const GERBANG_BIN = resolve(REPO_ROOT, 'bin/gerbang.js')
// The node flags of the bin's shebang, so the gateway runs as `npx gerbang start` runs it.
export const GATEWAY_NODE_FLAGS = (readFileSync(GERBANG_BIN, 'utf8').split('\n', 1)[0] ?? '').split(' ').filter((a) => a.startsWith('--'))
export const READY_TIMEOUT_MS = 15_000
const STOP_TIMEOUT_MS = 10_000

export interface Started {
  child: ChildProcess
  pid: number
  port: number
  exited: Promise<void>
  /** The tail of what it wrote on stderr (and stdout, when that is not read otherwise). */
  output: () => string
}

// ---------------------------------------------------------------------------
// Every process started, stopped on every way out

// Every child ever started, so that no exit path (error, SIGINT) leaves one behind.
const children = new Set<ChildProcess>()
const exitHooks: Array<() => void> = []

export function killAll (): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
}

/** Runs `hook` when this process exits, however it exits, after every child has been killed. */
export function onExit (hook: () => void): void {
  exitHooks.push(hook)
}

process.on('exit', () => {
  killAll()
  for (const hook of exitHooks) hook()
})
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.once(signal, () => {
    process.stderr.write(`\nbench: ${signal}, stopping every process it started\n`)
    process.exit(code) // the 'exit' handler kills and cleans up
  })
}

/** Registers a child just spawned: tracked until it exits, its output's tail kept for error messages. */
export function track (child: ChildProcess, what: string, { captureStdout = false } = {}): Started {
  children.add(child)
  // Without a listener a failed spawn (ENOENT) would crash this process.
  let spawnError: Error | undefined
  child.on('error', (err) => { spawnError = err })
  if (child.pid === undefined) {
    children.delete(child)
    throw new Error(`could not start ${what}${spawnError !== undefined ? ': ' + spawnError.message : ''}`)
  }
  const exited = once(child, 'exit').then(() => { children.delete(child) }, () => { children.delete(child) })
  // Only the tail matters, for the error message when a process dies early.
  let output = ''
  const keep = (c: Buffer): void => { output = (output + c.toString()).slice(-4000) }
  child.stderr?.on('data', keep)
  if (captureStdout) child.stdout?.on('data', keep)
  return { child, pid: child.pid, port: 0, exited, output: () => output }
}

export function spawnNode (args: string[], env: NodeJS.ProcessEnv, stdout: 'pipe' | number, nodeFlags: string[] = []): Started {
  const child = spawn(process.execPath, [...nodeFlags, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', stdout, 'pipe']
  })
  return track(child, args.join(' '))
}

export function hasExited (started: Started): boolean {
  return started.child.exitCode !== null || started.child.signalCode !== null
}

/** SIGTERM, then SIGKILL if it is still there after 10 s. */
export async function stop (started: Started | undefined): Promise<void> {
  if (started === undefined || hasExited(started)) return
  const { child } = started
  child.kill('SIGTERM')
  const timer = setTimeout(() => { child.kill('SIGKILL') }, STOP_TIMEOUT_MS)
  await started.exited
  clearTimeout(timer)
}

/** Stops each one, even when stopping another failed; rethrows the first failure. */
export async function stopEach (list: Array<Started | undefined>): Promise<void> {
  const results = await Promise.allSettled(list.map(async (s) => { await stop(s) }))
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failed !== undefined) throw failed.reason
}

/** Waits for the first JSON line a child prints on stdout (its port), failing if it exits or stalls first. */
export async function firstJsonLine (started: Started, what: string): Promise<Record<string, unknown>> {
  const stdout = started.child.stdout
  if (stdout === null) throw new Error(`${what}: no stdout`)
  const lines = createInterface({ input: stdout })
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`${what} did not report its port within ${READY_TIMEOUT_MS} ms:\n${started.output()}`)) }, READY_TIMEOUT_MS)
      lines.on('line', (line) => {
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>
          clearTimeout(timer)
          resolve(parsed)
        } catch { /* not the port line */ }
      })
      started.exited.then(() => {
        clearTimeout(timer)
        reject(new Error(`${what} exited before it was ready:\n${started.output()}`))
      }, reject)
    })
  } finally {
    // Later output (none is expected) must still be read, or a full pipe would block the child.
    lines.close()
    stdout.resume()
  }
}

/** A port free right now on 127.0.0.1. */
export async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

/** Runs a bench's main(), sets the exit code, and stops every child whatever happened. */
export function runMain (main: () => Promise<number>): void {
  main().then((code) => {
    process.exitCode = code
  }, (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
    process.exitCode = 1
  }).finally(() => {
    // Normally every child has already been stopped; this covers the error paths.
    killAll()
  })
}

/** How long a CLI command may run before it is killed: none of the benches' takes more than a few seconds. */
const CLI_TIMEOUT_MS = 30_000

export interface CliRun { code: number | null, stdout: string, stderr: string, ms: number }

/**
 * Runs bin/gerbang.js as `npx gerbang` runs it (its shebang's node flags), with `env` over the bench's
 * environment and `input`, if any, on its stdin; timed from spawn to exit.
 */
export async function runGerbang (args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<CliRun> {
  const t0 = performance.now()
  const child = spawn(process.execPath, [...GATEWAY_NODE_FLAGS, GERBANG_BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe']
  })
  const started = track(child, `gerbang ${args.join(' ')}`)
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (c: Buffer) => { stdout += c.toString() })
  child.stderr?.on('data', (c: Buffer) => { stderr += c.toString() })
  if (input !== undefined) child.stdin?.end(input)
  const timer = setTimeout(() => { child.kill('SIGKILL') }, CLI_TIMEOUT_MS)
  await started.exited
  clearTimeout(timer)
  return { code: child.exitCode, stdout, stderr, ms: performance.now() - t0 }
}
