// The soak test (bench/README.md, "Soak"): SOAK_MINUTES (10) of mixed traffic
// through one gateway, with upstreams that fail, one that goes away and comes
// back every two minutes, and Redis killed and started again (empty) at 60 %
// of the run. It watches the gateway's memory every 5 s and reads every line
// it logs, and answers two questions: does the RSS stay flat after the
// warm-up (growth ≤ 10 %), and does anything go wrong that nobody handled
// (an error or fatal log line that is not an expected operational one,
// anything on stderr, the process gone, /healthz not 200)? Not run in CI.
//
// `node dist/bench/soak.js --upstreams` is the upstreams' own process (this
// file, in another mode), so that the load generator (this process) does not
// slow them down.
import { spawn } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync, type WriteStream } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { Pool } from 'undici'
import { positiveInt } from './env.js'
import { fmt, machine } from './output.js'
import { cpuUs, rssMb } from './proc.js'
import {
  GATEWAY_NODE_FLAGS, GERBANG_BIN, hasExited, onExit, READY_TIMEOUT_MS, REPO_ROOT, runMain, stop, stopEach, track,
  type Started
} from './processes.js'
import { restartRedis, startRedis, type BenchRedis } from './redis.js'
import { SESSION_COOKIE } from '../src/admin/sessions.js'

const SELF = fileURLToPath(import.meta.url)
const RESULTS_FILE = resolve(REPO_ROOT, 'bench/results/soak.json')

// ---------------------------------------------------------------------------
// Settings

function positiveNumber (name: string, fallback: number): number {
  const text = process.env[name]
  if (text === undefined || text === '') return fallback
  const value = Number(text)
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, not '${text}'`)
  return value
}

const MINUTES = positiveNumber('SOAK_MINUTES', 10)
const DURATION_S = Math.round(MINUTES * 60)
/** The first 10 % of the run, at least 30 s, on a sample boundary. */
const SAMPLE_S = 5
const WARMUP_S = Math.ceil(Math.max(30, DURATION_S * 0.1) / SAMPLE_S) * SAMPLE_S
const ROW_S = 30
/** Requests per second the load generator sends, steadily (open loop). */
const RATE = positiveInt('SOAK_RATE', 300)
const CONNECTIONS = 64
/** Past this many requests in flight the generator skips a request and counts it as dropped. */
const MAX_IN_FLIGHT = 256
const MAX_RSS_GROWTH = 0.10
const KEEP_LOGS = process.env.SOAK_KEEP_LOGS === '1'

// The schedule, in seconds from the start of the traffic.
const REDIS_DOWN_AT_S = Math.round(DURATION_S * 0.6)
const REDIS_DOWN_S = 10
/** The `flap` upstream is closed for FLAP_DOWN_S every FLAP_EVERY_S (shorter for runs under 4 minutes). */
const FLAP_FIRST_S = Math.min(40, Math.round(DURATION_S * 0.3))
const FLAP_EVERY_S = Math.min(120, Math.round(DURATION_S / 2))
const FLAP_DOWN_S = Math.min(20, Math.round(DURATION_S * 0.15))

// The flaky upstream, per request: reset (RST) 2 %, closed without an answer
// 2 %, 500 4 %, no answer for HANG_MS (past its 1 s timeout) 2 %, headers and
// part of the body then RST 2 %; the other 88 % answer 200.
const HANG_MS = 3000

const KEY_PEPPER = randomBytes(24).toString('base64url')
const ADMIN_EMAIL = 'soak-admin@bantenprov.go.id'
const ADMIN_PASSWORD = randomBytes(18).toString('base64url')
const METRICS_TOKEN = randomBytes(24).toString('base64url')

/**
 * Error-level log lines (pino level 50) that are an expected part of what
 * this run does to the gateway, by message; every other line at level ≥ 50
 * fails the run, and so does any fatal line. Upstream failures (refused,
 * reset, timed out, 5xx), open breakers, Redis going away, rate limits and
 * refused credentials are logged at info or warn by design: none of them is
 * here, and one of them logged at error would be a finding.
 */
const EXPECTED_ERRORS: ReadonlyArray<{ msg: string, why: string }> = []

/** Lines on the gateway's stderr that are known and harmless (regular expressions). None so far. */
const KNOWN_STDERR: readonly RegExp[] = []

// ---------------------------------------------------------------------------
// The upstreams' process

type UpstreamName = 'fast' | 'slow' | 'flaky' | 'flap'
const UPSTREAMS: readonly UpstreamName[] = ['fast', 'slow', 'flaky', 'flap']

interface UpstreamStats {
  requests: Record<UpstreamName, number>
  flaky: { reset: number, closed: number, status500: number, hang: number, midBodyReset: number }
}

function answerJson (res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)) })
  res.end(text)
}

function upstreamsMain (): void {
  const stats: UpstreamStats = {
    requests: { fast: 0, slow: 0, flaky: 0, flap: 0 },
    flaky: { reset: 0, closed: 0, status500: 0, hang: 0, midBodyReset: 0 }
  }
  const say = (line: unknown): void => { process.stdout.write(JSON.stringify(line) + '\n') }

  const handler = (name: UpstreamName) => (req: IncomingMessage, res: ServerResponse): void => {
    stats.requests[name]++
    let received = 0
    req.on('data', (chunk: Buffer) => { received += chunk.length })
    req.on('error', () => {})
    req.on('end', () => {
      const ok = (): void => {
        answerJson(res, 200, {
          ok: true,
          upstream: name,
          method: req.method,
          path: req.url,
          receivedBytes: received,
          at: new Date().toISOString()
        })
      }
      const later = (ms: number): void => {
        const timer = setTimeout(ok, ms)
        res.on('close', () => { clearTimeout(timer) })
      }
      if (name === 'slow') {
        later(randomInt(50, 301))
        return
      }
      if (name === 'flaky') {
        const r = Math.random()
        if (r < 0.02) {
          stats.flaky.reset++
          req.socket.resetAndDestroy()
          return
        }
        if (r < 0.04) {
          stats.flaky.closed++
          req.socket.destroy()
          return
        }
        if (r < 0.08) {
          stats.flaky.status500++
          answerJson(res, 500, { error: 'InternalError', message: 'database connection lost' })
          return
        }
        if (r < 0.10) {
          stats.flaky.hang++
          later(HANG_MS)
          return
        }
        if (r < 0.12) {
          stats.flaky.midBodyReset++
          res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': '4096' })
          res.write('{"ok":true,"rows":[')
          setTimeout(() => { req.socket.resetAndDestroy() }, 5)
          return
        }
      }
      ok()
    })
  }

  const servers = new Map<UpstreamName, Server>()
  const ports = new Map<UpstreamName, number>()
  for (const name of UPSTREAMS) {
    const server = createServer(handler(name))
    // Longer than the run's idle gaps: the gateway's pooled sockets are not closed under it.
    server.keepAliveTimeout = 60_000
    servers.set(name, server)
  }
  const listen = async (name: UpstreamName, port: number): Promise<number> => {
    const server = servers.get(name) as Server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve() })
    })
    return (server.address() as AddressInfo).port
  }

  const commands = async (line: string): Promise<void> => {
    const [command, which] = line.trim().split(' ')
    const name = which as UpstreamName
    const server = servers.get(name)
    if (command === 'down' && server !== undefined) {
      const closed = new Promise<void>((resolve) => { server.close(() => { resolve() }) })
      server.closeAllConnections()
      await closed
      say({ event: 'down', name })
    } else if (command === 'up' && server !== undefined) {
      for (let attempt = 1; ; attempt++) {
        try {
          await listen(name, ports.get(name) ?? 0)
          say({ event: 'up', name })
          return
        } catch (err) {
          if (attempt === 20) {
            say({ event: 'error', name, message: (err as Error).message })
            return
          }
          await sleep(250)
        }
      }
    } else if (command === 'stats') {
      say({ event: 'stats', stats })
    }
  }

  Promise.all(UPSTREAMS.map(async (name) => { ports.set(name, await listen(name, 0)) })).then(() => {
    say({ ports: Object.fromEntries(ports) })
    const input = createInterface({ input: process.stdin })
    let queue = Promise.resolve()
    input.on('line', (line) => { queue = queue.then(async () => { await commands(line) }) })
    // The orchestrator is gone: nothing else will stop this process.
    input.on('close', () => { process.exit(0) })
  }, (err: unknown) => {
    process.stderr.write(`upstreams: ${(err as Error).message}\n`)
    process.exit(1)
  })
}

interface Upstreams extends Started {
  ports: Record<UpstreamName, number>
  send: (command: string) => void
  /** The next line `{"event": event, …}` from the upstreams' process. */
  next: (event: string) => Promise<Record<string, unknown>>
}

async function startUpstreams (): Promise<Upstreams> {
  const child = spawn(process.execPath, [SELF, '--upstreams'], { stdio: ['pipe', 'pipe', 'pipe'] })
  const started = track(child, 'the upstreams')
  const waiting = new Map<string, Array<(line: Record<string, unknown>) => void>>()
  let portsLine: ((line: Record<string, unknown>) => void) | undefined
  const portsPromise = new Promise<Record<string, unknown>>((resolve) => { portsLine = resolve })
  createInterface({ input: child.stdout }).on('line', (text) => {
    let line: Record<string, unknown>
    try {
      line = JSON.parse(text) as Record<string, unknown>
    } catch {
      return
    }
    if ('ports' in line) {
      portsLine?.(line)
      return
    }
    const event = String(line.event)
    const queue = waiting.get(event)
    queue?.shift()?.(line)
  })
  const info = await Promise.race([
    portsPromise,
    sleep(READY_TIMEOUT_MS).then(() => { throw new Error(`the upstreams did not report their ports:\n${started.output()}`) }),
    started.exited.then(() => { throw new Error(`the upstreams exited:\n${started.output()}`) })
  ])
  return {
    ...started,
    ports: info.ports as Record<UpstreamName, number>,
    send: (command) => { child.stdin.write(command + '\n') },
    next: async (event) => await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`the upstreams did not answer '${event}' within 10 s`)) }, 10_000)
      const list = waiting.get(event) ?? []
      list.push((line) => { clearTimeout(timer); resolve(line) })
      waiting.set(event, list)
    })
  }
}

// ---------------------------------------------------------------------------
// The gateway and what it logs

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' }
const LEVEL_VALUES: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 }

interface LogSample { t: number, line: string }

/** Every line the gateway writes, read as it comes: counted by level and message; warn and above kept in a file. */
class GatewayLog {
  lines = 0
  accessLines = 0
  failedAccessLines = 0
  nonJson = 0
  readonly nonJsonSamples: string[] = []
  readonly byLevel: Record<string, number> = {}
  /** `level msg` → count, every line but the access lines. */
  readonly byMessage = new Map<string, number>()
  readonly expected = new Map<string, number>()
  unexpectedCount = 0
  readonly unexpected: LogSample[] = []
  fatal = 0
  stderrLines = 0
  readonly stderrUnexpected: LogSample[] = []
  stderrUnexpectedCount = 0
  readyAddress: string | undefined
  readonly #out: WriteStream
  readonly #t0: () => number
  #stderrRest = ''

  constructor (warnFile: string, t0: () => number) {
    this.#out = createWriteStream(warnFile)
    this.#t0 = t0
  }

  line (text: string): void {
    if (text === '') return
    this.lines++
    let parsed: { level?: unknown, msg?: unknown, address?: unknown }
    try {
      parsed = JSON.parse(text) as typeof parsed
    } catch {
      this.nonJson++
      if (this.nonJsonSamples.length < 10) this.nonJsonSamples.push(text.slice(0, 500))
      return
    }
    const level = typeof parsed.level === 'number' ? LEVEL_NAMES[parsed.level] ?? String(parsed.level) : String(parsed.level)
    const msg = typeof parsed.msg === 'string' ? parsed.msg : ''
    this.byLevel[level] = (this.byLevel[level] ?? 0) + 1
    if (msg === 'request' && level === 'info') {
      this.accessLines++
      return
    }
    if (msg === 'request failed' || msg === 'request cut off by the upstream') this.failedAccessLines++
    if (msg === 'gerbang is ready' && typeof parsed.address === 'string') this.readyAddress = parsed.address
    const key = `${level} ${msg}`
    this.byMessage.set(key, (this.byMessage.get(key) ?? 0) + 1)
    const value = LEVEL_VALUES[level] ?? 0
    if (value >= 40) this.#out.write(`${this.#t0().toFixed(1)} ${text}\n`)
    if (value < 50) return
    if (value >= 60) this.fatal++
    if (value < 60 && EXPECTED_ERRORS.some((e) => e.msg === msg)) {
      this.expected.set(msg, (this.expected.get(msg) ?? 0) + 1)
      return
    }
    this.unexpectedCount++
    if (this.unexpected.length < 20) this.unexpected.push({ t: this.#t0(), line: text.slice(0, 2000) })
  }

  stderr (chunk: Buffer): void {
    const text = this.#stderrRest + chunk.toString()
    const parts = text.split('\n')
    this.#stderrRest = parts.pop() ?? ''
    for (const line of parts) this.#stderrLine(line)
  }

  #stderrLine (line: string): void {
    if (line.trim() === '') return
    this.stderrLines++
    if (KNOWN_STDERR.some((re) => re.test(line))) return
    this.stderrUnexpectedCount++
    if (this.stderrUnexpected.length < 20) this.stderrUnexpected.push({ t: this.#t0(), line: line.slice(0, 2000) })
  }

  async close (): Promise<void> {
    if (this.#stderrRest !== '') this.#stderrLine(this.#stderrRest)
    this.#stderrRest = ''
    await new Promise<void>((resolve) => { this.#out.end(resolve) })
  }
}

interface Gateway extends Started {
  log: GatewayLog
  /** Resolves when the gateway's stdout has been read to its end. */
  stdoutDone: Promise<void>
}

function writeRoutes (file: string, ports: Record<UpstreamName, number>): string {
  const upstream = (name: UpstreamName): string => `    upstream: http://127.0.0.1:${ports[name]}/${name}/api/v1`
  writeFileSync(file, [
    '# Written by bench/soak.ts for one run.',
    'defaults:',
    '  timeout: 2s',
    '  connectTimeout: 1s',
    // Far above what one client sends: only the client with its own rate limit gets 429s.
    '  rateLimit: 1000000/1m',
    'integrations:',
    '  fast:',
    '    description: Answers at once',
    upstream('fast'),
    '    methods: [GET, POST]',
    '  slow:',
    '    description: Answers in 50 to 300 ms',
    upstream('slow'),
    '    methods: [GET, POST]',
    '  flaky:',
    '    description: Resets, closes, answers 500 or hangs past its timeout in 12 % of requests',
    upstream('flaky'),
    '    methods: [GET, POST]',
    '    timeout: 1s',
    '  flap:',
    `    description: Closed for ${FLAP_DOWN_S} s every ${FLAP_EVERY_S} s`,
    upstream('flap'),
    '    methods: [GET]',
    ''
  ].join('\n'))
  return file
}

async function startSoakGateway (routesFile: string, redisUrl: string, log: GatewayLog): Promise<Gateway> {
  const child = spawn(process.execPath, [
    ...GATEWAY_NODE_FLAGS, GERBANG_BIN, 'start', '--routes', routesFile, '--port', '0', '--host', '127.0.0.1'
  ], {
    env: {
      ...process.env,
      LOG_LEVEL: 'info',
      REDIS_URL: redisUrl,
      GERBANG_KEY_PEPPER: KEY_PEPPER,
      GERBANG_ADMIN_EMAIL: ADMIN_EMAIL,
      GERBANG_ADMIN_PASSWORD: ADMIN_PASSWORD,
      GERBANG_METRICS_TOKEN: METRICS_TOKEN,
      GERBANG_SHUTDOWN_TIMEOUT_MS: '5000'
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const started = track(child, 'the gateway')
  child.stderr.on('data', (chunk: Buffer) => { log.stderr(chunk) })
  const lines = createInterface({ input: child.stdout, crlfDelay: Infinity })
  lines.on('line', (text) => { log.line(text) })
  const stdoutDone = new Promise<void>((resolve) => { lines.on('close', resolve) })
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (log.readyAddress === undefined) {
    if (hasExited(started) || Date.now() > deadline) {
      throw new Error(`the gateway ${hasExited(started) ? 'exited' : `did not log 'gerbang is ready' within ${READY_TIMEOUT_MS} ms`}:\n${started.output()}`)
    }
    await sleep(50)
  }
  return { ...started, port: Number(new URL(log.readyAddress).port), log, stdoutDone }
}

// ---------------------------------------------------------------------------
// The gerbang CLI, for clients and the admin user

async function gerbangCli (
  args: string[], redisUrl: string, input?: string
): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [...GATEWAY_NODE_FLAGS, GERBANG_BIN, ...args], {
    env: { ...process.env, REDIS_URL: redisUrl, GERBANG_KEY_PEPPER: KEY_PEPPER },
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe']
  })
  const started = track(child, `gerbang ${args.join(' ')}`)
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (c: Buffer) => { stdout += c.toString() })
  child.stderr?.on('data', (c: Buffer) => { stderr += c.toString() })
  if (input !== undefined) child.stdin?.end(input)
  const timer = setTimeout(() => { child.kill('SIGKILL') }, 30_000)
  await started.exited
  clearTimeout(timer)
  return { code: child.exitCode, stdout, stderr }
}

interface Key { id: string, key: string }

async function createKey (redisUrl: string, name: string, extra: string[]): Promise<Key> {
  const result = await gerbangCli(['keys', 'create', '--client', name, '--description', 'bench/soak.ts', ...extra, '--json'], redisUrl)
  if (result.code !== 0) throw new Error(`gerbang keys create --client ${name} failed (${String(result.code)}): ${result.stderr.trim()}`)
  const json = JSON.parse(result.stdout) as { id: string, key: string }
  return { id: json.id, key: json.key }
}

/** The admin user, unless the gateway made it already from GERBANG_ADMIN_EMAIL. */
async function ensureAdminUser (redisUrl: string): Promise<'created' | 'existed'> {
  const result = await gerbangCli(['users', 'create', '--email', ADMIN_EMAIL, '--role', 'admin', '--name', 'Soak admin'], redisUrl, ADMIN_PASSWORD + '\n')
  if (result.code === 0) return 'created'
  if (/already exists/.test(result.stderr)) return 'existed'
  throw new Error(`gerbang users create failed (${String(result.code)}): ${result.stderr.trim()}`)
}

interface Credentials {
  generation: number
  /** integrations '*', no rate of its own: most API-key traffic. */
  main: Key
  /** integrations '*', rate limit 300/1m per integration: 429s. */
  limited: Key
  /** integrations '*': trades its key for bearer tokens. */
  oauth: Key
  /** integrations fast only: 403 elsewhere. */
  fastOnly: Key
  token: string | undefined
}

async function createCredentials (redisUrl: string, generation: number): Promise<Credentials> {
  const suffix = generation === 1 ? '' : ` (${generation})`
  // One after the other: four node processes at once would take the 2 cores from the gateway.
  const main = await createKey(redisUrl, `Soak main${suffix}`, ['--integrations', '*'])
  const limited = await createKey(redisUrl, `Soak limited${suffix}`, ['--integrations', '*', '--rate-limit', '300/1m'])
  const oauth = await createKey(redisUrl, `Soak OAuth2${suffix}`, ['--integrations', '*'])
  const fastOnly = await createKey(redisUrl, `Soak fast only${suffix}`, ['--integrations', 'fast'])
  return { generation, main, limited, oauth, fastOnly, token: undefined }
}

// ---------------------------------------------------------------------------
// Counting answers

/** Answers counted over some time: by status class, with the codes that tell 503s apart. */
class Counts {
  responses = 0
  s2xx = 0
  s3xx = 0
  s4xx = 0
  s429 = 0
  s5xx = 0
  circuitOpen = 0
  storeUnavailable = 0
  /** Requests that got no complete answer (the connection broke). */
  errors = 0
  dropped = 0
  readonly codes: Record<string, number> = {}
  readonly latencies: number[] = []

  add (status: number, code: string | undefined, ms: number): void {
    this.responses++
    if (status >= 500) this.s5xx++
    else if (status === 429) this.s429++
    else if (status >= 400) this.s4xx++
    else if (status >= 300) this.s3xx++
    else this.s2xx++
    if (code === 'UPSTREAM_CIRCUIT_OPEN') this.circuitOpen++
    if (code === 'STORE_UNAVAILABLE') this.storeUnavailable++
    const label = code === undefined ? String(status) : `${status} ${code}`
    this.codes[label] = (this.codes[label] ?? 0) + 1
    this.latencies.push(ms)
  }

  error (name: string): void {
    this.errors++
    const label = `error ${name}`
    this.codes[label] = (this.codes[label] ?? 0) + 1
  }

  merge (other: Counts): void {
    for (const k of ['responses', 's2xx', 's3xx', 's4xx', 's429', 's5xx', 'circuitOpen', 'storeUnavailable', 'errors', 'dropped'] as const) {
      this[k] += other[k]
    }
    for (const [code, n] of Object.entries(other.codes)) this.codes[code] = (this.codes[code] ?? 0) + n
    for (const ms of other.latencies) this.latencies.push(ms)
  }

  summary (): Record<string, unknown> {
    const { latencies, ...rest } = this
    return { ...rest, p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99) }
  }
}

function percentile (values: number[], q: number): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  return Math.round((sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0) * 10) / 10
}

/** The `code` of a problem document, or the `error` of an OAuth2 error; undefined for anything else. */
function answerCode (body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { code?: unknown, error?: unknown }
    if (typeof parsed.code === 'string') return parsed.code
    if (typeof parsed.error === 'string') return parsed.error
  } catch { /* not JSON */ }
  return undefined
}

function errorName (err: unknown): string {
  const e = err as { code?: unknown, name?: unknown } | null
  if (e !== null && typeof e === 'object') {
    if (typeof e.code === 'string') return e.code
    if (typeof e.name === 'string') return e.name
  }
  return 'unknown'
}

// ---------------------------------------------------------------------------
// The traffic

interface RequestSpec {
  method: 'GET' | 'POST'
  path: string
  headers: Record<string, string>
  body?: string
}

interface Kind {
  name: string
  weight: number
  build: (c: Credentials, n: number) => RequestSpec
}

const key = (k: Key): Record<string, string> => ({ 'x-api-key': k.key })
const bearer = (c: Credentials): Record<string, string> =>
  c.token === undefined ? key(c.oauth) : { authorization: `Bearer ${c.token}` }
const post = (headers: Record<string, string>, n: number, path: string): RequestSpec => ({
  method: 'POST',
  path,
  headers: { ...headers, 'content-type': 'application/json' },
  body: JSON.stringify({ id: n, kecamatan: 'Cipocok Jaya', pria: 1520 + (n % 97), wanita: 1375 + (n % 89), catatan: 'soak' })
})
const get = (headers: Record<string, string>, path: string): RequestSpec => ({ method: 'GET', path, headers })
// A fixed wrong key (remembered as unknown) and fresh random ones (each looked up once).
const WRONG_KEY = 'gb_' + randomBytes(32).toString('base64url')

/** The mix, by weight (they add up to 100): shares of SOAK_RATE. */
const KINDS: readonly Kind[] = [
  { name: 'fast GET key', weight: 28, build: (c, n) => get(key(c.main), `/fast/items/${n % 500}?page=${n % 7}`) },
  { name: 'fast POST key', weight: 7, build: (c, n) => post(key(c.main), n, '/fast/items') },
  { name: 'slow GET token', weight: 14, build: (c, n) => get(bearer(c), `/slow/report?id=${n % 100}`) },
  { name: 'slow POST token', weight: 4, build: (c, n) => post(bearer(c), n, '/slow/report') },
  { name: 'flaky GET key', weight: 12, build: (c, n) => get(key(c.main), `/flaky/data/${n % 300}`) },
  { name: 'flaky POST token', weight: 3, build: (c, n) => post(bearer(c), n, '/flaky/data') },
  { name: 'flap GET key', weight: 8, build: (c, n) => get(key(c.main), `/flap/status/${n % 50}`) },
  { name: 'flap GET token', weight: 4, build: (c, n) => get(bearer(c), `/flap/status/${n % 50}`) },
  { name: 'fast GET limited', weight: 8, build: (c, n) => get(key(c.limited), `/fast/items/${n % 500}`) },
  { name: 'slow GET forbidden', weight: 2, build: (c, n) => get(key(c.fastOnly), `/slow/report?id=${n % 100}`) },
  { name: 'bad key', weight: 2, build: (_c, n) => get({ 'x-api-key': n % 2 === 0 ? WRONG_KEY : 'gb_' + randomBytes(32).toString('base64url') }, '/fast/items/1') },
  { name: 'no credentials', weight: 1, build: () => get({}, '/fast/items/1') },
  { name: 'unknown route', weight: 1, build: (c) => get(key(c.main), '/tidak-ada/apa-apa') },
  { name: '/readyz', weight: 3, build: () => get({}, '/readyz') },
  { name: '/healthz', weight: 3, build: () => get({}, '/healthz') }
]
const TOTAL_WEIGHT = KINDS.reduce((a, k) => a + k.weight, 0)

function pickKind (): Kind {
  let r = Math.random() * TOTAL_WEIGHT
  for (const kind of KINDS) {
    r -= kind.weight
    if (r < 0) return kind
  }
  return KINDS[0] as Kind
}

/** Sends RATE requests a second, open loop: a slow answer does not slow the sending. */
class Generator {
  readonly #pool: Pool
  readonly #creds: () => Credentials
  readonly #onAnswer: (kind: Kind, status: number | undefined, code: string | undefined, ms: number) => void
  #timer: NodeJS.Timeout | undefined
  #t0 = 0
  #scheduled = 0
  inFlight = 0
  sent = 0
  dropped = 0

  constructor (
    pool: Pool, creds: () => Credentials,
    onAnswer: (kind: Kind, status: number | undefined, code: string | undefined, ms: number) => void
  ) {
    this.#pool = pool
    this.#creds = creds
    this.#onAnswer = onAnswer
  }

  start (): void {
    this.#t0 = performance.now()
    this.#timer = setInterval(() => { this.#tick() }, 10)
  }

  #tick (): void {
    const due = Math.floor((performance.now() - this.#t0) / 1000 * RATE) - this.#scheduled
    for (let i = 0; i < due; i++) {
      this.#scheduled++
      if (this.inFlight >= MAX_IN_FLIGHT) {
        this.dropped++
        continue
      }
      this.#fire(pickKind(), this.#scheduled)
    }
  }

  #fire (kind: Kind, n: number): void {
    const spec = kind.build(this.#creds(), n)
    this.inFlight++
    this.sent++
    const t0 = performance.now()
    this.#pool.request({ method: spec.method, path: spec.path, headers: spec.headers, body: spec.body ?? null })
      .then(async (res) => {
        const text = await res.body.text()
        this.#onAnswer(kind, res.statusCode, res.statusCode >= 400 ? answerCode(text) : undefined,
          performance.now() - t0)
      })
      .catch((err: unknown) => { this.#onAnswer(kind, undefined, errorName(err), performance.now() - t0) })
      .finally(() => { this.inFlight-- })
  }

  /** Stops sending; waits (at most 10 s) for the answers still due. */
  async stop (): Promise<void> {
    clearInterval(this.#timer)
    const deadline = Date.now() + 10_000
    while (this.inFlight > 0 && Date.now() < deadline) await sleep(50)
  }
}

// ---------------------------------------------------------------------------
// Requests of the soak's own: admin, tokens, /metrics, probes

interface Answer { status: number, body: string, headers: Record<string, string | string[] | undefined> }

/** The soak's own requests to the gateway (everything but the load): each one that reached it has an access line. */
const own = { sent: 0, answered: 0 }

async function request (pool: Pool, method: 'GET' | 'POST', path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  own.sent++
  const res = await pool.request({
    method, path, headers, body: body ?? null, headersTimeout: 10_000, bodyTimeout: 10_000
  })
  const text = await res.body.text()
  own.answered++
  return { status: res.statusCode, body: text, headers: res.headers }
}

/** Status counts of the soak's own requests, by what they were for. */
class ControlCounts {
  readonly counts: Record<string, Record<string, number>> = {}

  add (what: string, outcome: string | number): void {
    const row = this.counts[what] ?? {}
    row[String(outcome)] = (row[String(outcome)] ?? 0) + 1
    this.counts[what] = row
  }
}

async function fetchToken (pool: Pool, oauth: Key, control: ControlCounts): Promise<string | undefined> {
  try {
    const form = new URLSearchParams({ client_id: oauth.id, client_secret: oauth.key }).toString()
    const res = await request(pool, 'POST', '/oauth2/v1/accesstoken?grant_type=client_credentials',
      { 'content-type': 'application/x-www-form-urlencoded' }, form)
    control.add('oauth2 token', res.status === 200 ? 200 : `${res.status} ${answerCode(res.body) ?? ''}`.trim())
    if (res.status !== 200) return undefined
    return (JSON.parse(res.body) as { access_token?: string }).access_token
  } catch (err) {
    control.add('oauth2 token', `error ${errorName(err)}`)
    return undefined
  }
}

/** An admin signed in, reading the dashboard and the clients list every few seconds. */
class AdminPoller {
  readonly #pool: Pool
  readonly #control: ControlCounts
  #cookie: string | undefined
  /** The session's CSRF token: every admin API request carries it, reads too. */
  #csrf = ''
  /** False while the admin user does not exist (Redis emptied): a failed login would count toward the lockout. */
  userExists = true
  /** performance.now() until which a login (scrypt: ~128 MiB for a quarter second) may show in the RSS. */
  loginUntil = 0
  logins = 0
  #ticks = 0

  constructor (pool: Pool, control: ControlCounts) {
    this.#pool = pool
    this.#control = control
  }

  async #login (): Promise<void> {
    this.loginUntil = Number.POSITIVE_INFINITY
    try {
      const res = await request(this.#pool, 'POST', '/admin/api/session', { 'content-type': 'application/json' },
        JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }))
      this.#control.add('admin login', res.status === 200 ? 200 : `${res.status} ${answerCode(res.body) ?? ''}`.trim())
      if (res.status !== 200) return
      const setCookie = res.headers['set-cookie']
      const cookies = Array.isArray(setCookie) ? setCookie : [setCookie ?? '']
      const value = cookies.map((c) => new RegExp(`^${SESSION_COOKIE}=([^;]+)`).exec(c)?.[1]).find((v) => v !== undefined)
      if (value !== undefined) {
        this.#cookie = `${SESSION_COOKIE}=${value}`
        this.#csrf = (JSON.parse(res.body) as { csrfToken?: string }).csrfToken ?? ''
        this.logins++
      }
    } catch (err) {
      this.#control.add('admin login', `error ${errorName(err)}`)
    } finally {
      this.loginUntil = performance.now() + 2000
    }
  }

  async tick (): Promise<void> {
    if (this.#cookie === undefined) {
      if (!this.userExists) return
      await this.#login()
      if (this.#cookie === undefined) return
    }
    this.#ticks++
    const paths = ['/admin/api/dashboard?range=1h', '/admin/api/clients?limit=50']
    // The day's dashboard once a minute: its summary is shared for a minute.
    if (this.#ticks % 12 === 1) paths.push('/admin/api/dashboard?range=24h')
    for (const path of paths) {
      const what = `GET ${path.split('?')[0] ?? path}${path.includes('24h') ? ' 24h' : ''}`
      try {
        const res = await request(this.#pool, 'GET', path, { cookie: this.#cookie ?? '', 'x-csrf-token': this.#csrf })
        this.#control.add(what, res.status === 200 ? 200 : `${res.status} ${answerCode(res.body) ?? ''}`.trim())
        if (res.status === 401) {
          this.#cookie = undefined
          return
        }
      } catch (err) {
        this.#control.add(what, `error ${errorName(err)}`)
      }
    }
  }
}

function parseMetrics (text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    out.set(line.slice(0, space), Number(line.slice(space + 1)))
  }
  return out
}

// ---------------------------------------------------------------------------
// Samples

interface Sample {
  t: number
  rssMb: number | null
  heapUsedMb: number | null
  heapTotalMb: number | null
  externalMb: number | null
  lagP99Ms: number | null
  lagMaxMs: number | null
  handles: number | null
  /** Major (mark-compact) collections so far, from /metrics: heap growth that outlives them is kept, not garbage. */
  majorGcs: number | null
  /** Share of one core, since the last sample. */
  gatewayCpuPct: number | null
  loadgenCpuPct: number
  inFlight: number
  /** Breakers not closed, from /metrics: `flap:open`. */
  breakers: string[]
  storeUp: number | null
  /** An admin login (scrypt) was running at or shortly before this sample: its RSS is not counted. */
  duringLogin: boolean
  counts: Counts
}

const mb = (bytes: number | undefined): number | null =>
  bytes === undefined || Number.isNaN(bytes) ? null : Math.round(bytes / 1048576 * 10) / 10
const ms = (seconds: number | undefined): number | null =>
  seconds === undefined || Number.isNaN(seconds) ? null : Math.round(seconds * 10000) / 10
const clock = (s: number): string => `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(Math.round(s % 60)).padStart(2, '0')}`

// ---------------------------------------------------------------------------

async function waitReady (pool: Pool, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    try {
      if ((await request(pool, 'GET', '/readyz')).status === 200) return true
    } catch { /* not yet */ }
    await sleep(200)
  }
  return false
}

let workDir: string | undefined
let keepWorkDir = KEEP_LOGS
onExit(() => {
  if (workDir !== undefined && !keepWorkDir) rmSync(workDir, { recursive: true, force: true })
})

function say (line: string): void {
  process.stdout.write(`soak: ${line}\n`)
}

async function main (): Promise<number> {
  if (DURATION_S < 60) throw new Error('SOAK_MINUTES must be at least 1')
  workDir = mkdtempSync(join(tmpdir(), 'gerbang-soak-'))
  const dir = workDir
  const info = machine(undefined)
  say(`node ${process.version}, ${String(info.cpus)} CPUs (${String(info.cpuModel)}), load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  say(`${clock(DURATION_S)} of traffic at ${RATE} req/s (warm-up ${WARMUP_S} s), samples every ${SAMPLE_S} s; ` +
    `flap upstream down ${FLAP_DOWN_S} s every ${FLAP_EVERY_S} s from ${FLAP_FIRST_S} s; Redis killed at ${REDIS_DOWN_AT_S} s for ${REDIS_DOWN_S} s; ` +
    `work dir ${dir}${KEEP_LOGS ? ' (kept)' : ' (removed at the end unless the run fails; SOAK_KEEP_LOGS=1 keeps it)'}`)

  let t0 = performance.now()
  const now = (): number => (performance.now() - t0) / 1000
  const events: Array<{ t: number, what: string }> = []
  const event = (what: string): void => {
    events.push({ t: Math.round(now() * 10) / 10, what })
    say(`${clock(now())} ${what}`)
  }
  const failures: string[] = []
  const notes: string[] = []

  let redis: BenchRedis | undefined
  let upstreams: Upstreams | undefined
  let gateway: Gateway | undefined
  let load: Pool | undefined
  let controlPool: Pool | undefined
  const timers: NodeJS.Timeout[] = []
  const tasks: Array<Promise<void>> = []
  const log = new GatewayLog(join(dir, 'gateway-warn.log'), now)
  try {
    redis = await startRedis(dir)
    const redisPort = redis.port
    const redisUrl = redis.url
    upstreams = await startUpstreams()
    const routesFile = writeRoutes(join(dir, 'routes.yaml'), upstreams.ports)
    gateway = await startSoakGateway(routesFile, redisUrl, log)
    const gw = gateway
    say(`redis-server ${redis.version} on ${redisUrl}; upstreams on ${JSON.stringify(upstreams.ports)}; gateway pid ${gw.pid} on 127.0.0.1:${gw.port}`)
    const origin = `http://127.0.0.1:${gw.port}`
    load = new Pool(origin, { connections: CONNECTIONS, pipelining: 1, headersTimeout: 15_000, bodyTimeout: 15_000 })
    controlPool = new Pool(origin, { connections: 4, pipelining: 1 })
    const control = controlPool
    if (!await waitReady(control, READY_TIMEOUT_MS)) throw new Error('the gateway was not ready (GET /readyz) in time')

    const controlCounts = new ControlCounts()
    let creds = await createCredentials(redisUrl, 1)
    const admin = new AdminPoller(control, controlCounts)
    const adminUser = await ensureAdminUser(redisUrl)
    notes.push(adminUser === 'existed'
      ? 'the gateway created the first admin from GERBANG_ADMIN_EMAIL/PASSWORD at start'
      : 'the gateway did not create the first admin at start (its store was not connected yet); the soak created it with gerbang users create')
    creds.token = await fetchToken(control, creds.oauth, controlCounts)
    if (creds.token === undefined) throw new Error('could not get an OAuth2 token')
    await admin.tick()
    if (admin.logins === 0) throw new Error(`could not sign in to the admin API: ${JSON.stringify(controlCounts.counts)}`)
    say('4 clients with keys, an OAuth2 token and an admin session: starting the traffic')

    // --- counting
    let window = new Counts()
    const byKind = new Map<string, Counts>()
    const onAnswer = (kind: Kind, status: number | undefined, code: string | undefined, took: number): void => {
      let k = byKind.get(kind.name)
      if (k === undefined) {
        k = new Counts()
        byKind.set(kind.name, k)
      }
      for (const c of [window, k]) {
        if (status === undefined) c.error(code ?? 'unknown')
        else c.add(status, code, took)
      }
    }
    const generator = new Generator(load, () => creds, onAnswer)

    // --- sampling
    const samples: Sample[] = []
    let lastGatewayCpu = cpuUs(gw.pid)
    let lastSelfCpu = process.cpuUsage()
    let lastSampleAt = performance.now()
    let metricsMissing = false
    const run = { stopped: false, gatewayDied: false }
    const sample = async (): Promise<void> => {
      const t = Math.round(now())
      const rss = rssMb(gw.pid)
      const at = performance.now()
      const gatewayCpu = cpuUs(gw.pid)
      const selfCpu = process.cpuUsage()
      const wallUs = (at - lastSampleAt) * 1000
      const counts = window
      counts.dropped = generator.dropped - samples.reduce((a, s) => a + s.counts.dropped, 0)
      window = new Counts()
      const s: Sample = {
        t,
        rssMb: rss,
        heapUsedMb: null,
        heapTotalMb: null,
        externalMb: null,
        lagP99Ms: null,
        lagMaxMs: null,
        handles: null,
        majorGcs: null,
        gatewayCpuPct: gatewayCpu === null || lastGatewayCpu === null
          ? null
          : Math.round((gatewayCpu - lastGatewayCpu) / wallUs * 100),
        loadgenCpuPct: Math.round((selfCpu.user - lastSelfCpu.user +
          selfCpu.system - lastSelfCpu.system) / wallUs * 100),
        inFlight: generator.inFlight,
        breakers: [],
        storeUp: null,
        duringLogin: at < admin.loginUntil,
        counts
      }
      lastGatewayCpu = gatewayCpu
      lastSelfCpu = selfCpu
      lastSampleAt = at
      samples.push(s)
      if (hasExited(gw)) {
        if (!run.gatewayDied) event(`the gateway exited (code ${String(gw.child.exitCode)}, signal ${String(gw.child.signalCode)})`)
        run.gatewayDied = true
        return
      }
      if (metricsMissing) return
      try {
        const res = await request(control, 'GET', '/metrics', { authorization: `Bearer ${METRICS_TOKEN}` })
        controlCounts.add('GET /metrics', res.status)
        if (res.status === 404) {
          metricsMissing = true
          notes.push('GET /metrics answered 404: no heap, event-loop lag or breaker figures')
          return
        }
        if (res.status !== 200) return
        const m = parseMetrics(res.body)
        s.heapUsedMb = mb(m.get('nodejs_heap_size_used_bytes'))
        s.heapTotalMb = mb(m.get('nodejs_heap_size_total_bytes'))
        s.externalMb = mb(m.get('nodejs_external_memory_bytes'))
        s.lagP99Ms = ms(m.get('nodejs_eventloop_lag_p99_seconds'))
        s.lagMaxMs = ms(m.get('nodejs_eventloop_lag_max_seconds'))
        s.handles = m.get('nodejs_active_handles_total') ?? null
        s.majorGcs = m.get('nodejs_gc_duration_seconds_count{kind="major"}') ?? null
        s.storeUp = m.get('gerbang_store_up') ?? null
        for (const [name, value] of m) {
          const match = /^gerbang_circuit_breaker_state\{integration="([^"]+)",state="([^"]+)"\}$/.exec(name)
          if (match !== null && value === 1 && match[2] !== 'closed') s.breakers.push(`${match[1] ?? ''}:${match[2] ?? ''}`)
        }
      } catch (err) {
        controlCounts.add('GET /metrics', `error ${errorName(err)}`)
      }
    }

    const printRow = (end: number): void => {
      const row = rowFor(samples, events, end - ROW_S, end)
      if (row !== undefined) say(`${clock(end)} ${row.progress}`)
    }

    // --- the run
    t0 = performance.now()
    event(`traffic starts (${RATE} req/s)`)
    await sample()
    generator.start()
    let nextSample = SAMPLE_S
    const samplerLoop = (async () => {
      while (!run.stopped) {
        await sleep(Math.max(0, nextSample * 1000 - (performance.now() - t0)))
        if (run.stopped) break
        await sample()
        if (nextSample % ROW_S === 0) printRow(nextSample)
        if (nextSample === WARMUP_S) event(`warm-up over: RSS ${fmt(samples[samples.length - 1]?.rssMb, 1)} MiB`)
        nextSample += SAMPLE_S
        if (run.gatewayDied) break
      }
    })()

    let adminBusy = false
    timers.push(setInterval(() => {
      if (adminBusy) return
      adminBusy = true
      admin.tick().finally(() => { adminBusy = false })
    }, 5000))
    let tokenBusy = false
    let tokenAt = performance.now()
    timers.push(setInterval(() => {
      if (tokenBusy || performance.now() - tokenAt < 60_000) return
      tokenBusy = true
      const c = creds
      fetchToken(control, c.oauth, controlCounts).then((token) => {
        if (token !== undefined && creds === c) {
          c.token = token
          tokenAt = performance.now()
        }
      }).finally(() => { tokenBusy = false })
    }, 5000))

    const at = (seconds: number, what: string, task: () => Promise<void>): void => {
      let settle: () => void = () => {}
      tasks.push(new Promise<void>((resolve) => { settle = resolve }))
      timers.push(setTimeout(() => {
        task().catch((err: unknown) => {
          failures.push(`${what}: ${(err as Error).message}`)
          event(`${what} failed: ${(err as Error).message}`)
        }).finally(settle)
      }, seconds * 1000))
    }

    const ups = upstreams
    for (let s = FLAP_FIRST_S; s + FLAP_DOWN_S <= DURATION_S - 5; s += FLAP_EVERY_S) {
      at(s, 'taking the flap upstream down', async () => {
        const down = ups.next('down')
        ups.send('down flap')
        await down
        event(`flap upstream down for ${FLAP_DOWN_S} s`)
        await sleep(FLAP_DOWN_S * 1000)
        const up = ups.next('up')
        ups.send('up flap')
        await up
        event('flap upstream back')
      })
    }

    at(REDIS_DOWN_AT_S, 'restarting Redis', async () => {
      const old = redis as BenchRedis
      admin.userExists = false
      old.child.kill('SIGKILL')
      await old.exited
      event(`redis-server killed (kill -9); starting it again in ${REDIS_DOWN_S} s`)
      await sleep(REDIS_DOWN_S * 1000)
      redis = await restartRedis(dir, redisPort, old.version)
      const upAt = now()
      event('redis-server started again on the same port, empty')
      if (!await waitReady(control, 30_000)) throw new Error('the gateway was not ready again within 30 s of Redis coming back')
      event(`gateway ready again (/readyz 200) ${(now() - upAt).toFixed(1)} s after Redis came back`)
      // The clients are gone with Redis' data: old keys keep working only as long as the gateway's cache trusts them.
      const deadline = performance.now() + 75_000
      let refused: string | undefined
      const seen: Record<string, number> = {}
      while (refused === undefined && performance.now() < deadline) {
        try {
          const res = await request(control, 'GET', '/fast/probe', key(creds.main))
          const label = `${res.status} ${answerCode(res.body) ?? ''}`.trim()
          seen[label] = (seen[label] ?? 0) + 1
          if (res.status === 401) refused = label
        } catch (err) {
          seen[`error ${errorName(err)}`] = (seen[`error ${errorName(err)}`] ?? 0) + 1
        }
        if (refused === undefined) await sleep(500)
      }
      event(refused === undefined
        ? `the old API key was not refused within 75 s of Redis coming back empty (probes: ${JSON.stringify(seen)})`
        : `the old API key refused (${refused}) ${(now() - upAt).toFixed(1)} s after Redis came back empty (probes: ${JSON.stringify(seen)})`)
      const fresh = await createCredentials(redisUrl, creds.generation + 1)
      await ensureAdminUser(redisUrl)
      fresh.token = await fetchToken(control, fresh.oauth, controlCounts)
      tokenAt = performance.now()
      creds = fresh
      admin.userExists = true
      event('clients, keys, token and admin user made again; traffic uses them')
    })

    // Until the end, or until the gateway dies.
    while (now() < DURATION_S && !run.gatewayDied) await sleep(250)
    await generator.stop()
    for (const timer of timers) clearTimeout(timer)
    event(`traffic stopped: ${generator.sent} requests sent, ${generator.dropped} dropped (generator at its in-flight cap)`)
    run.stopped = true
    await samplerLoop
    // Scheduled tasks that started are finished (or failed); those that never started are settled by clearing their
    // timers.
    await Promise.race([Promise.all(tasks), sleep(2000)])

    // Windows still open.
    const finalSample = async (): Promise<Sample | undefined> => {
      if (samples[samples.length - 1]?.t !== DURATION_S && !run.gatewayDied) {
        await sample()
      }
      return samples[samples.length - 1]
    }
    await finalSample()

    // --- the end: alive, /healthz, then a clean stop
    const alive = !hasExited(gw)
    let healthz: number | string = 'no answer'
    try {
      healthz = (await request(control, 'GET', '/healthz')).status
    } catch (err) {
      healthz = `error ${errorName(err)}`
    }
    const idleRssMb = rssMb(gw.pid)
    const statsLine = ups.next('stats').catch(() => undefined)
    ups.send('stats')
    const upstreamStats = (await statsLine)?.stats as UpstreamStats | undefined
    await load.close()
    await control.close()
    load = undefined
    controlPool = undefined
    const stopAt = performance.now()
    await stop(gw)
    const stopMs = Math.round(performance.now() - stopAt)
    await Promise.race([gw.stdoutDone, sleep(2000)])
    await log.close()
    const shutdown = { exitCode: gw.child.exitCode, signal: gw.child.signalCode, ms: stopMs }
    await stopEach([upstreams, redis])

    return report({
      samples,
      events,
      byKind,
      controlCounts,
      log,
      alive,
      healthz,
      idleRssMb,
      shutdown,
      upstreamStats,
      generator: { sent: generator.sent, dropped: generator.dropped },
      own: { ...own },
      failures,
      notes,
      redisVersion: redis?.version,
      dir
    })
  } catch (err) {
    keepWorkDir = true
    throw err
  } finally {
    for (const timer of timers) clearTimeout(timer)
    await load?.destroy()
    await controlPool?.destroy()
    await stopEach([gateway, upstreams, redis])
  }
}

// ---------------------------------------------------------------------------
// The report

interface Row {
  cells: string[]
  progress: string
}

function rowFor (
  samples: Sample[], events: Array<{ t: number, what: string }>, from: number, to: number
): Row | undefined {
  const mine = samples.filter((s) => s.t > from && s.t <= to)
  const last = mine[mine.length - 1]
  if (last === undefined) return undefined
  const c = new Counts()
  for (const s of mine) c.merge(s.counts)
  const seconds = Math.max(1, last.t - from)
  const lagP99 = Math.max(...mine.map((s) => s.lagP99Ms ?? Number.NaN).filter((v) => !Number.isNaN(v)))
  const before = samples.filter((s) => s.t <= from && s.majorGcs !== null).pop()
  const gcs = last.majorGcs === null || before?.majorGcs == null ? null : last.majorGcs - before.majorGcs
  const heapLow = Math.min(...mine.map((s) => s.heapUsedMb ?? Number.NaN).filter((v) => !Number.isNaN(v)))
  const breakers = [...new Set(mine.flatMap((s) => s.breakers.map((b) => b.split(':')[0] ?? '')))].join(',')
  const happened = events.filter((e) => e.t > from && e.t <= to).length
  const warm = last.t <= WARMUP_S ? '*' : ''
  const rss = `${fmt(last.rssMb, 1)}${last.duringLogin ? '!' : ''}${warm}`
  const reqPerS = c.responses / seconds
  const cells = [
    clock(last.t), rss, fmt(last.heapUsedMb, 1), fmt(Number.isFinite(heapLow) ? heapLow : null, 1), fmt(gcs),
    fmt(Number.isFinite(lagP99) ? lagP99 : null, 1), fmt(last.handles),
    fmt(reqPerS), fmt(percentile(c.latencies, 0.99), 0), String(c.s2xx), String(c.s4xx), String(c.s429), String(c.s5xx),
    String(c.circuitOpen), String(c.storeUnavailable), String(c.errors), String(c.dropped), fmt(last.gatewayCpuPct),
    breakers === '' ? '-' : breakers, happened === 0 ? '' : `${happened} below`
  ]
  const progress = `RSS ${rss} MiB, heap ${fmt(last.heapUsedMb, 1)} MiB, ${fmt(reqPerS)} req/s, ` +
    `2xx ${c.s2xx} 4xx ${c.s4xx} 429 ${c.s429} 5xx ${c.s5xx} (circuit open ${c.circuitOpen}, store ${c.storeUnavailable}), broken ${c.errors}` +
    (c.dropped > 0 ? `, dropped ${c.dropped}` : '') + `, gateway cpu ${fmt(last.gatewayCpuPct)}%, load generator cpu ${last.loadgenCpuPct}%`
  return { cells, progress }
}

interface Trend { slopeMbPerMin: number, firstMinuteMb: number, lastMinuteMb: number }

function rssTrend (samples: Sample[]): Trend | undefined {
  const points = samples.filter((s) => s.rssMb !== null).map((s) => [s.t / 60, s.rssMb as number] as const)
  if (points.length < 3) return undefined
  const n = points.length
  const mx = points.reduce((a, [x]) => a + x, 0) / n
  const my = points.reduce((a, [, y]) => a + y, 0) / n
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0)
  const sxy = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0)
  const first = points[0]?.[0] ?? 0
  const last = points[n - 1]?.[0] ?? 0
  const mean = (list: Array<readonly [number, number]>): number =>
    list.reduce((a, [, y]) => a + y, 0) / Math.max(1, list.length)
  return {
    slopeMbPerMin: sxx === 0 ? 0 : Math.round(sxy / sxx * 100) / 100,
    firstMinuteMb: Math.round(mean(points.filter(([x]) => x <= first + 1)) * 10) / 10,
    lastMinuteMb: Math.round(mean(points.filter(([x]) => x >= last - 1)) * 10) / 10
  }
}

interface Results {
  samples: Sample[]
  events: Array<{ t: number, what: string }>
  byKind: Map<string, Counts>
  controlCounts: ControlCounts
  log: GatewayLog
  alive: boolean
  healthz: number | string
  idleRssMb: number | null
  shutdown: { exitCode: number | null, signal: string | null, ms: number }
  upstreamStats: UpstreamStats | undefined
  generator: { sent: number, dropped: number }
  own: { sent: number, answered: number }
  failures: string[]
  notes: string[]
  redisVersion: string | undefined
  dir: string
}

/** Like output.ts's table, with the columns in `left` (and the first) left-aligned. */
function grid (header: string[], rows: string[][], left: number[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => i === 0 || left.includes(i) ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)).join('  ').trimEnd()
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

function topCodes (codes: Record<string, number>, count: number): string {
  return Object.entries(codes).filter(([code]) => !code.startsWith('2')).sort((a, b) => b[1] - a[1]).slice(0, count)
    .map(([code, n]) => `${code} ×${n}`).join(', ')
}

function report (r: Results): number {
  const out: string[] = ['']
  const rows: Row[] = []
  for (let end = ROW_S; end < DURATION_S + ROW_S; end += ROW_S) {
    const row = rowFor(r.samples, r.events, end - ROW_S, Math.min(end, DURATION_S))
    if (row !== undefined) rows.push(row)
  }
  out.push(`every ${ROW_S} s: RSS and heap used at the end of the window (* warm-up; ! an admin login was running, not counted); ` +
    'heap low: the lowest heap used of the window\'s samples; major GC: mark-compact collections in the window; ' +
    'lag: event-loop delay p99, ms, worst 5 s of the window; handles: active handles; req/s answered; p99: latency of every answer, ms; ' +
    'answers by status (4xx¬429: 4xx but 429; circuit 503: UPSTREAM_CIRCUIT_OPEN; store 503: STORE_UNAVAILABLE); ' +
    'broken: connections closed without a whole answer; dropped: not sent, the generator at its cap; cpu: gateway, % of one core; ' +
    'breakers not closed at some sample:')
  out.push(grid(['time', 'RSS MiB', 'heap MiB', 'heap low', 'major GC', 'lag', 'handles', 'req/s', 'p99', '2xx', '4xx¬429', '429', '5xx', 'circuit 503',
    'store 503', 'broken', 'dropped', 'cpu %', 'breakers', 'events'], rows.map((row) => row.cells), [18, 19]))
  out.push('', 'events (mm:ss from the start of the traffic):', ...r.events.map((e) => `  ${clock(e.t)}  ${e.what}`))

  // --- RSS
  const counted = r.samples.filter((s) => s.rssMb !== null && !s.duringLogin)
  const atWarmup = counted.filter((s) => s.t >= WARMUP_S)[0]
  const after = counted.filter((s) => atWarmup !== undefined && s.t > atWarmup.t && s.t <= DURATION_S)
  const maxAfter = after.reduce<Sample | undefined>((a, s) =>
    a === undefined || (s.rssMb ?? 0) > (a.rssMb ?? 0) ? s : a, undefined)
  const end = [...r.samples].reverse().find((s) => s.rssMb !== null && s.t <= DURATION_S)
  // RSS swings with the old generation between major collections (here
  // ~107 to ~130 MiB over two minutes), so one sample is no baseline: the
  // verdict compares the peak of the first window after the warm-up with
  // the peak of the last one, each at least one collection cycle long.
  const windowS = Math.max(120, DURATION_S / 5)
  const peak = (from: number, to: number): number | null => {
    const inside = after.filter((s) => s.t >= from && s.t <= to).map((s) => s.rssMb as number)
    return inside.length === 0 ? null : Math.max(...inside)
  }
  const base = atWarmup === undefined ? null : peak(atWarmup.t, atWarmup.t + windowS)
  const lastPeak = peak(DURATION_S - windowS, DURATION_S)
  const growth = base === null || lastPeak === null ? null : (lastPeak - base) / base
  const endGrowth = base === null || end?.rssMb == null ? null : (end.rssMb - base) / base
  const skippedLogin = r.samples.filter((s) => s.duringLogin && s.t > WARMUP_S)
  const rawMax = Math.max(...r.samples.filter((s) => s.t > WARMUP_S && s.rssMb !== null).map((s) => s.rssMb as number))
  const heap = (s: Sample | undefined): string => fmt(s?.heapUsedMb, 1)
  // Not a verdict: whether RSS keeps climbing (a leak) or moves around a level (GC, allocator).
  const trend = rssTrend(after)
  out.push('', `RSS: peak ${fmt(base, 1)} MiB in the first ${windowS} s after the warm-up (${clock(atWarmup?.t ?? 0)}), ` +
    `peak ${fmt(lastPeak, 1)} MiB in the last ${windowS} s, max after the warm-up ${fmt(maxAfter?.rssMb, 1)} MiB ` +
    `(${clock(maxAfter?.t ?? 0)}), ${fmt(end?.rssMb, 1)} MiB at the end (${clock(end?.t ?? 0)}), ${fmt(r.idleRssMb, 1)} MiB idle after the traffic; ` +
    `growth ${growth === null ? '-' : (growth * 100).toFixed(1) + ' %'} (peak to peak), ${endGrowth === null ? '-' : (endGrowth * 100).toFixed(1) + ' %'} (end vs first peak)`)
  out.push(`heap used: ${heap(atWarmup)} MiB at the end of the warm-up, ${heap(end)} MiB at the end` +
    (skippedLogin.length > 0 ? `; ${skippedLogin.length} sample(s) during an admin login left out of the max (with them: ${fmt(rawMax, 1)} MiB)` : ''))
  // RSS right after each major GC (the first sample that counts one more) and just before it: a leak raises the
  // first series; V8 letting garbage pile up in the old generation between collections only moves the second.
  const afterGc: Array<{ t: number, rssMb: number, heapUsedMb: number | null, beforeRssMb: number | null }> = []
  for (let i = 1; i < r.samples.length; i++) {
    const s = r.samples[i] as Sample
    const prev = r.samples[i - 1] as Sample
    if (s.t > WARMUP_S && s.t <= DURATION_S && s.rssMb !== null && s.majorGcs !== null && prev.majorGcs !== null &&
      s.majorGcs > prev.majorGcs) {
      afterGc.push({ t: s.t, rssMb: s.rssMb, heapUsedMb: s.heapUsedMb, beforeRssMb: prev.rssMb })
    }
  }
  if (afterGc.length > 0) {
    const first = afterGc[0] as typeof afterGc[number]
    const floorMax = Math.max(...afterGc.map((g) => g.rssMb))
    out.push('RSS / heap used right after each major GC after the warm-up (not a verdict): ' +
      afterGc.map((g) => `${clock(g.t)} ${fmt(g.rssMb, 1)}/${fmt(g.heapUsedMb, 1)}`).join(', ') +
      ` MiB; highest ${fmt(floorMax, 1)} MiB, ${((floorMax - first.rssMb) / first.rssMb * 100).toFixed(1)} % over the first; ` +
      `RSS just before them up to ${fmt(Math.max(...afterGc.map((g) => g.beforeRssMb ?? 0)), 1)} MiB`)
  }
  if (trend !== undefined) {
    out.push(`RSS trend after the warm-up: ${trend.slopeMbPerMin >= 0 ? '+' : ''}${trend.slopeMbPerMin.toFixed(2)} MiB/min (least squares over ${after.length} samples); ` +
      `mean ${trend.firstMinuteMb.toFixed(1)} MiB in its first minute, ${trend.lastMinuteMb.toFixed(1)} MiB in the last`)
  }

  // --- traffic
  const total = new Counts()
  for (const c of r.byKind.values()) total.merge(c)
  out.push('', `traffic: ${r.generator.sent} requests sent, ${total.responses} answered, ${total.errors} broken connections, ${r.generator.dropped} dropped by the generator:`)
  out.push(grid(['request', 'answers', '2xx', '4xx¬429', '429', '5xx', 'broken', 'p50 ms', 'p99 ms', 'other than 2xx, most first'],
    [...r.byKind.entries()].map(([name, c]) =>
      [name, String(c.responses), String(c.s2xx), String(c.s4xx), String(c.s429), String(c.s5xx),
        String(c.errors), fmt(percentile(c.latencies, 0.5), 1), fmt(percentile(c.latencies, 0.99), 0),
        topCodes(c.codes, 4)]), [9]))
  out.push('', 'the soak\'s own requests, by answer:')
  for (const [what, counts] of Object.entries(r.controlCounts.counts)) out.push(`  ${what}: ${JSON.stringify(counts)}`)
  if (r.upstreamStats !== undefined) {
    out.push(`upstreams served: ${JSON.stringify(r.upstreamStats.requests)}; flaky's failures: ${JSON.stringify(r.upstreamStats.flaky)}`)
  }

  // --- log
  const accessExpected = total.responses + r.own.answered
  out.push('', `gateway log: ${r.log.lines} lines, ${JSON.stringify(r.log.byLevel)}; ` +
    `${r.log.accessLines} access lines (+ ${r.log.failedAccessLines} 'request failed' or 'cut off') for ${accessExpected} answers ` +
    `(${total.responses} to the load, ${r.own.answered} to the soak's own requests) and ${total.errors} broken connections` +
    (r.log.nonJson > 0 ? `; ${r.log.nonJson} lines not JSON, e.g. ${JSON.stringify(r.log.nonJsonSamples[0])}` : ''))
  const logged = r.log.accessLines + r.log.failedAccessLines
  if (logged !== accessExpected) {
    r.notes.push(`${logged} access lines for ${accessExpected} answers and ${total.errors} broken connections: ` +
      (logged < accessExpected ? `${accessExpected - logged} answers have no access line` : `${logged - accessExpected} broken connections have one`))
  } else if (total.errors > 0) {
    r.notes.push(`every answer has its access line, the ${total.errors} broken connections (answers cut off after their headers) none`)
  }
  out.push(grid(['level', 'message', 'lines'], [...r.log.byMessage.entries()].sort((a, b) => (LEVEL_VALUES[b[0].split(' ')[0] ?? ''] ?? 0) -
    (LEVEL_VALUES[a[0].split(' ')[0] ?? ''] ?? 0) || b[1] - a[1]).map(([k, n]) => {
    const space = k.indexOf(' ')
    return [k.slice(0, space), k.slice(space + 1), String(n)]
  }), [1]))
  out.push(`gateway stderr: ${r.log.stderrLines} lines, ${r.log.stderrUnexpectedCount} not known`)
  out.push(`gateway stop (SIGTERM): exit code ${String(r.shutdown.exitCode)}${r.shutdown.signal !== null ? `, signal ${r.shutdown.signal}` : ''} after ${r.shutdown.ms} ms`)

  // --- verdicts
  const rssPass = growth !== null && growth <= MAX_RSS_GROWTH
  const errorProblems: string[] = []
  if (r.log.unexpectedCount > 0) errorProblems.push(`${r.log.unexpectedCount} error/fatal log lines not expected`)
  if (r.log.fatal > 0) errorProblems.push(`${r.log.fatal} fatal log lines`)
  if (r.log.stderrUnexpectedCount > 0) errorProblems.push(`${r.log.stderrUnexpectedCount} unknown lines on stderr`)
  if (!r.alive) errorProblems.push('the gateway was not running at the end')
  if (r.healthz !== 200) errorProblems.push(`/healthz answered ${String(r.healthz)} at the end`)
  const errorsPass = errorProblems.length === 0
  const failures = [...r.failures]
  if (!rssPass) failures.push(`RSS grew ${growth === null ? '(unknown)' : (growth * 100).toFixed(1) + ' %'} after the warm-up (limit ${MAX_RSS_GROWTH * 100} %)`)
  failures.push(...errorProblems)

  if (r.log.unexpected.length > 0) {
    out.push('', 'unexpected error/fatal log lines (first 20; t in s):')
    for (const u of r.log.unexpected) out.push(`  ${u.t.toFixed(1)} ${u.line}`)
  }
  if (r.log.stderrUnexpected.length > 0) {
    out.push('', 'unknown stderr lines (first 20):')
    for (const u of r.log.stderrUnexpected) out.push(`  ${u.t.toFixed(1)} ${u.line}`)
  }
  if (r.notes.length > 0) out.push('', ...r.notes.map((n) => `note: ${n}`))
  if (r.generator.dropped > 0) out.push(`note: the generator dropped ${r.generator.dropped} requests at its cap of ${MAX_IN_FLIGHT} in flight`)

  const passed = failures.length === 0
  if (!passed) keepWorkDir = true
  mkdirSync(dirname(RESULTS_FILE), { recursive: true })
  writeFileSync(RESULTS_FILE, JSON.stringify({
    ...machine(r.redisVersion),
    loadavg: loadavg(),
    settings: {
      durationS: DURATION_S,
      warmupS: WARMUP_S,
      sampleS: SAMPLE_S,
      rate: RATE,
      connections: CONNECTIONS,
      maxInFlight: MAX_IN_FLIGHT,
      redisDownAtS: REDIS_DOWN_AT_S,
      redisDownS: REDIS_DOWN_S,
      flap: { firstS: FLAP_FIRST_S, everyS: FLAP_EVERY_S, downS: FLAP_DOWN_S },
      maxRssGrowth: MAX_RSS_GROWTH,
      mix: KINDS.map((k) => ({ name: k.name, weight: k.weight })),
      expectedErrors: EXPECTED_ERRORS,
      knownStderr: KNOWN_STDERR.map(String)
    },
    rss: {
      warmupEndMb: base,
      warmupEndAtS: atWarmup?.t,
      maxAfterWarmupMb: maxAfter?.rssMb,
      maxAfterWarmupAtS: maxAfter?.t,
      endMb: end?.rssMb,
      idleAfterMb: r.idleRssMb,
      growth,
      endGrowth,
      samplesLeftOutDuringLogin: skippedLogin.map((s) => s.t),
      trend,
      afterMajorGc: afterGc
    },
    verdicts: {
      rss: rssPass ? 'PASS' : 'FAIL',
      unhandledErrors: errorsPass ? 'PASS' : 'FAIL',
      problems: errorProblems
    },
    events: r.events,
    rows: rows.map((row) => row.cells),
    samples: r.samples.map((s) => ({ ...s, counts: s.counts.summary() })),
    byKind: Object.fromEntries([...r.byKind.entries()].map(([k, c]) => [k, c.summary()])),
    total: total.summary(),
    control: r.controlCounts.counts,
    upstreams: r.upstreamStats,
    log: {
      lines: r.log.lines,
      byLevel: r.log.byLevel,
      accessLines: r.log.accessLines,
      failedAccessLines: r.log.failedAccessLines,
      byMessage: Object.fromEntries(r.log.byMessage),
      expectedErrors: Object.fromEntries(r.log.expected),
      unexpected: r.log.unexpected,
      unexpectedCount: r.log.unexpectedCount,
      fatal: r.log.fatal,
      nonJson: r.log.nonJson,
      nonJsonSamples: r.log.nonJsonSamples,
      stderrLines: r.log.stderrLines,
      stderrUnexpected: r.log.stderrUnexpected
    },
    gateway: { aliveAtEnd: r.alive, healthzAtEnd: r.healthz, shutdown: r.shutdown },
    notes: r.notes,
    failures
  }, null, 2) + '\n')
  out.push('', `results written to ${RESULTS_FILE}` + (keepWorkDir ? `; gateway warn/error lines and routes file kept in ${r.dir}` : ''))
  if (failures.length > 0) out.push('', 'FAILED:', ...failures.map((f) => '  ' + f))
  out.push('',
    `${rssPass ? 'PASS' : 'FAIL'}: RSS growth after warm-up ${growth === null ? '-' : (growth * 100).toFixed(1) + ' %'} (limit ${MAX_RSS_GROWTH * 100} %): ` +
      `${fmt(base, 1)} → max ${fmt(maxAfter?.rssMb, 1)}, end ${fmt(end?.rssMb, 1)} MiB`,
    `${errorsPass ? 'PASS' : 'FAIL'}: unhandled errors: ${r.log.unexpectedCount} unexpected error lines, ${r.log.fatal} fatal, ` +
      `${r.log.stderrUnexpectedCount} unknown stderr lines, gateway ${r.alive ? 'alive' : 'gone'}, /healthz ${String(r.healthz)}`)
  process.stdout.write(out.join('\n') + '\n')
  return passed ? 0 : 1
}

if (process.argv[2] === '--upstreams') upstreamsMain()
else runMain(main)
