// What bench/run.ts and bench/clients.ts share: starting the processes they
// measure and stopping every one of them whatever happens, reading a
// process's CPU and memory from /proc, driving autocannon, printing tables.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { cpus } from 'node:os'
import autocannon from 'autocannon'

// Compiled to dist/bench/*.js; the sibling scripts are compiled next to it.
export const HERE = dirname(fileURLToPath(import.meta.url))
export const REPO_ROOT = resolve(HERE, '../..')
export const GERBANG_BIN = resolve(REPO_ROOT, 'bin/gerbang.js')
// The node flags of the bin's shebang, so the gateway runs as `npx gerbang start` runs it.
export const GATEWAY_NODE_FLAGS = (readFileSync(GERBANG_BIN, 'utf8').split('\n', 1)[0] ?? '').split(' ').filter((a) => a.startsWith('--'))
export const READY_TIMEOUT_MS = 15_000
const STOP_TIMEOUT_MS = 10_000
/** The bench's request: one route of the one integration every routes file here has. */
export const PATH = '/yankes/kamar?rs=1'

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

export function positiveInt (name: string, fallback: number): number {
  const text = process.env[name]
  if (text === undefined || text === '') return fallback
  const value = Number(text)
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive whole number, not '${text}'`)
  return value
}

// ---------------------------------------------------------------------------
// The origin and the gateway

/** The bench's upstream; it answers on a second port too (`port2`), for two targets on one server. */
export async function startOrigin (): Promise<Started & { port2: number }> {
  const started = spawnNode([join(HERE, 'upstream.js')], {}, 'pipe')
  const info = await firstJsonLine(started, 'the origin')
  return { ...started, port: Number(info.port), port2: Number(info.port2) }
}

/** What a routes file may add to the one integration `yankes` (bench/run.ts's gateway and gateway+headers). */
export interface RoutesExtras {
  /** `yankes` gets two upstream targets, the origin's two ports (same process, same answers). */
  secondPort?: number
  /**
   * Items of a `plugins:` list, one YAML item each without its `- `, e.g.
   * `static-headers: { set: { x-a: b } }`: given to `yankes`, and to
   * `bench-check` alike.
   */
  plugins?: readonly string[]
  /**
   * Adds a second integration, `bench-check` → http://127.0.0.1:PORT, with the
   * very same plugins lines as `yankes`: a request sent through it shows what
   * the gateway sends upstream. It is never under load (a Map lookup routes
   * by first segment: one more integration costs `yankes` nothing).
   */
  checkPort?: number
  /** A `cors:` mapping for `yankes` (flow style), e.g. `{ origins: ["https://a.example"] }`: bench/run.ts's gateway+cors. */
  cors?: string
}

/**
 * A routes file with the one integration `yankes` → the origin. `auth: none`
 * for the plain gateway; `apiKey` leaves auth at its default, an API key.
 */
export function writeRoutesFile (file: string, originPort: number, auth: 'none' | 'apiKey', extras: RoutesExtras = {}): string {
  const plugins = extras.plugins ?? []
  const pluginLines = plugins.length === 0 ? [] : ['    plugins:', ...plugins.map((p) => `      - ${p}`)]
  writeFileSync(file, [
    'defaults:',
    ...(auth === 'none' ? ['  auth: none'] : []),
    // Far above what one client can send here: if rate limiting lands, the
    // bench measures what checking a limit costs, not 429s.
    '  rateLimit: 1000000000/1s',
    'integrations:',
    '  yankes:',
    ...(extras.secondPort === undefined
      ? [`    upstream: http://127.0.0.1:${originPort}/api/v1`]
      : ['    upstream:', `      - http://127.0.0.1:${originPort}/api/v1`, `      - http://127.0.0.1:${extras.secondPort}/api/v1`]),
    ...pluginLines,
    ...(extras.cors === undefined ? [] : [`    cors: ${extras.cors}`]),
    ...(extras.checkPort === undefined ? [] : ['  bench-check:', `    upstream: http://127.0.0.1:${extras.checkPort}`, ...pluginLines]),
    ''
  ].join('\n'))
  return file
}

export function logsAccessLines (logLevel: string): boolean {
  return logLevel === 'info' || logLevel === 'debug' || logLevel === 'trace'
}

export interface GatewayOptions {
  routesFile: string
  /** The gateway's stdout (its logs) goes straight to this file. */
  logFile: string
  logLevel: string
  /** REDIS_URL and GERBANG_KEY_PEPPER, or '' for both: the embedded store. */
  redisUrl: string
  keyPepper: string
  /**
   * GERBANG_DATA_DIR, for the embedded store on disk; default: `data` beside the log file (in the bench's work
   * directory).
   */
  dataDir?: string
  extraNodeFlags?: string[]
  /** Also wait for /readyz (the store is connected): a keyed request before that would get a 503. */
  waitForStore?: boolean
}

export interface StartedGateway extends Started {
  /** /readyz requests sent while waiting, and how many were answered: each answered one has an access line. */
  readyProbes: { sent: number, answered: number }
}

export async function startGateway (options: GatewayOptions): Promise<StartedGateway> {
  const { logFile } = options
  // With logs at info the gateway picks its own port and logs it (no race);
  // otherwise the bench picks one and polls /healthz.
  const logsInfo = logsAccessLines(options.logLevel)
  let port = logsInfo ? 0 : await freePort()
  // stdout goes straight to the file, as in production (to a file or a pipe
  // read by a log shipper), never through this process.
  const fd = openSync(logFile, 'w')
  let started: Started
  try {
    started = spawnNode(
      [GERBANG_BIN, 'start', '--routes', options.routesFile, '--port', String(port), '--host', '127.0.0.1'],
      // Always set, to '' for the embedded store: a REDIS_URL in the caller's
      // environment must not decide what the gateway runs with.
      {
        LOG_LEVEL: options.logLevel,
        GERBANG_SHUTDOWN_TIMEOUT_MS: '3000',
        REDIS_URL: options.redisUrl,
        GERBANG_KEY_PEPPER: options.keyPepper,
        GERBANG_DATA_DIR: options.dataDir ?? join(dirname(logFile), 'data')
      },
      fd,
      [...GATEWAY_NODE_FLAGS, ...(options.extraNodeFlags ?? [])]
    )
  } finally {
    closeSync(fd)
  }
  const failed = (why: string): Error => new Error(`the gateway ${hasExited(started) ? 'exited' : why}:\n` +
    started.output() + readFileSync(logFile, 'utf8').slice(-2000))
  const deadline = Date.now() + READY_TIMEOUT_MS
  let listening = false
  while (!listening) {
    if (Date.now() >= deadline || hasExited(started)) throw failed(`was not listening within ${READY_TIMEOUT_MS} ms`)
    if (port !== 0) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`)
        await res.arrayBuffer()
        listening = res.ok
      } catch { /* not listening yet */ }
    } else {
      for (const line of readFileSync(logFile, 'utf8').split('\n')) {
        if (!line.includes('gerbang is ready')) continue
        let address: string | undefined
        try {
          address = (JSON.parse(line) as { address?: string }).address
        } catch {
          break // a line still being written; read it again on the next poll
        }
        port = Number(new URL(address ?? '').port)
        listening = true
        break
      }
    }
    if (!listening) await sleep(50)
  }
  const readyProbes = { sent: 0, answered: 0 }
  // Listening is not connected: the store connects in the background.
  while (options.waitForStore === true) {
    if (Date.now() >= deadline || hasExited(started)) throw failed(`was not ready (GET /readyz) within ${READY_TIMEOUT_MS} ms`)
    readyProbes.sent++
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`)
      await res.arrayBuffer()
      readyProbes.answered++
      if (res.ok) break
    } catch { /* no answer */ }
    await sleep(20)
  }
  return { ...started, port, readyProbes }
}

// ---------------------------------------------------------------------------
// Measuring

export function rssMb (pid: number): number | null {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match === null ? null : Math.round(Number(match[1]) / 1024 * 10) / 10
  } catch {
    return null // not Linux, or the process is gone
  }
}

const CLOCK_TICKS_PER_S = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

/** User + system CPU time a process (all its threads) has used so far, in microseconds, from /proc. */
export function cpuUs (pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name may hold spaces and parentheses; fields are counted after its closing ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S * 1e6
  } catch {
    return null
  }
}

export interface LoadOptions {
  port: number
  seconds: number
  connections: number
  pipelining: number
  headers?: Record<string, string>
  /** The request target; PATH unless told. */
  path?: string
}

export async function load (options: LoadOptions): Promise<autocannon.Result> {
  return await autocannon({
    url: `http://127.0.0.1:${options.port}${options.path ?? PATH}`,
    connections: options.connections,
    pipelining: options.pipelining,
    duration: options.seconds,
    ...(options.headers !== undefined ? { headers: options.headers } : {})
  })
}

export interface LoadSummary {
  completed: number
  sent: number
  non2xx: number
  errors: number
  timeouts: number
  statusCodes: Record<string, number>
}

export function summarize (result: autocannon.Result): LoadSummary {
  const statusCodes: Record<string, number> = {}
  for (const [code, { count }] of Object.entries(result.statusCodeStats)) statusCodes[code] = count
  return {
    completed: result.requests.total,
    sent: result.requests.sent,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes
  }
}

/** CPU per completed request between two cpuUs() readings, 0.1 µs steps. */
export function perRequest (before: number | null, after: number | null, completed: number): number | null {
  return before === null || after === null ? null : Math.round((after - before) / Math.max(completed, 1) * 10) / 10
}

// ---------------------------------------------------------------------------
// Output

export function fmt (value: number | null | undefined, digits = 0): string {
  return value === null || value === undefined || Number.isNaN(value) ? '-' : value.toFixed(digits)
}

/** Columns padded to their widest cell; the first left-aligned, the others right-aligned. */
export function table (header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)).join('  ')
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

export function ratio (a: number, b: number): number {
  return b === 0 ? Number.NaN : Math.round(a / b * 100) / 100
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

/** Where a result was measured, at the head of every results file. */
export function machine (redisVersion: string | undefined): Record<string, unknown> {
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    redis: redisVersion
  }
}
