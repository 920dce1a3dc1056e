// The two processes every proxy bench runs: the origin (bench/upstream.ts)
// and the gateway, started from bin/gerbang.js with a routes file written for
// the run, as `npx gerbang start` runs in production.
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  firstJsonLine, freePort, GATEWAY_NODE_FLAGS, GERBANG_BIN, hasExited, HERE, READY_TIMEOUT_MS, spawnNode, type Started
} from './processes.js'

/** The bench's request: one route of the one integration every routes file here has. */
export const PATH = '/yankes/kamar?rs=1'

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
