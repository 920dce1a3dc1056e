// The embedded store on disk with 100,000 clients (issue 17, acceptance 4):
// the gateway's start-up, a cache-miss key check, `keys list --search`, and
// the size of the database. Reports; fails (exit 1) past the budgets.
//   npm run build && node dist/bench/disk-store.js      (BENCH_CLIENTS=100000)
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { randomUUID } from 'node:crypto'
import { Authenticator } from '../src/auth/authenticator.js'
import { generateKey, SecretHasher } from '../src/auth/secrets.js'
import { parseRoutes } from '../src/config/routes-loader.js'
import { DiskStore } from '../src/store/disk-store.js'
import { positiveInt } from './env.js'
import { GERBANG_BIN } from './processes.js'

const CLIENTS = positiveInt('BENCH_CLIENTS', 100_000)
const STARTS = 3
const MISSES = 5000
const SEARCHES = 5
const BUDGET = { startMs: 2000, missP99Ms: 2, searchMs: 200 }

const quantile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN
const ms = (n: number): string => n.toFixed(n < 10 ? 2 : 0)

/** Runs a command to its end; how long it took from spawn to exit, and its output. */
async function timed (
  args: string[], env: NodeJS.ProcessEnv
): Promise<{ ms: number, code: number | null, stdout: string }> {
  const started = performance.now()
  const child = spawn(GERBANG_BIN, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  let stdout = ''
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  return { ms: performance.now() - started, code, stdout }
}

/** Starts `gerbang start`, and stops it once it said it is ready: spawn to "gerbang is ready". */
async function startUp (routes: string, env: NodeJS.ProcessEnv): Promise<number> {
  const started = performance.now()
  const child = spawn(GERBANG_BIN, ['start', '--routes', routes, '--port', '0', '--host', '127.0.0.1'],
    { env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  let buffered = ''
  const readyMs = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      buffered += c.toString()
      if (buffered.includes('"msg":"gerbang is ready"')) resolve(performance.now() - started)
    })
    child.on('exit', (code) => { reject(new Error(`gerbang start exited with ${String(code)}`)) })
  })
  child.kill('SIGTERM')
  await new Promise((resolve) => child.on('exit', resolve))
  return readyMs
}

async function main (): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'gerbang-bench-disk-'))
  try {
    const data = join(dir, 'data')
    // Seeding only: no fsync per client (the gateway and the commands always run with full sync).
    const seed = new DiskStore({ dir: data, synchronous: 'off' })
    const hasher = new SecretHasher(seed.keyPepper(undefined))
    const keys: string[] = []
    const seeded = performance.now()
    for (let i = 0; i < CLIENTS; i++) {
      const key = generateKey()
      keys.push(key)
      await seed.createClient({
        id: randomUUID(),
        name: `${i % 10 === 0 ? 'Puskesmas' : 'Dinas'} ${String(i).padStart(6, '0')}`,
        description: 'bench/disk-store.ts',
        integrations: ['echo'],
        createdAt: new Date().toISOString()
      }, hasher.hash(key))
    }
    await seed.close()
    const seedS = (performance.now() - seeded) / 1000
    const size = statSync(join(data, 'gerbang.db')).size
    process.stdout.write(`seeded ${CLIENTS} clients in ${seedS.toFixed(1)} s; gerbang.db is ${(size / 2 ** 20).toFixed(1)} MiB\n`)

    // Start-up: the gateway, on this store, from spawn to "gerbang is ready".
    const routes = join(dir, 'routes.yaml')
    writeFileSync(routes, 'integrations:\n  echo:\n    upstream: http://127.0.0.1:9\n')
    const env = { REDIS_URL: '', GERBANG_KEY_PEPPER: '', GERBANG_DATA_DIR: data }
    const starts: number[] = []
    for (let i = 0; i < STARTS; i++) starts.push(await startUp(routes, env))
    starts.sort((a, b) => a - b)

    // Cache misses: the authenticator with keys it has never seen, against the full store, with full sync.
    const store = new DiskStore({ dir: data })
    const auth = new Authenticator(store, hasher)
    const integration = parseRoutes('integrations:\n  echo:\n    upstream: http://127.0.0.1:9\n', {})
    if (!integration.ok) throw new Error('routes')
    const echo = integration.config.integrations[0]
    if (echo === undefined) throw new Error('no integration')
    const misses: number[] = []
    for (let i = 0; i < MISSES; i++) {
      const key = keys[Math.floor(Math.random() * keys.length)] as string
      const t0 = performance.now()
      const answer = await auth.authenticate({ 'x-api-key': key }, '', echo, '127.0.0.1')
      misses.push(performance.now() - t0)
      if ('code' in answer) throw new Error(`a seeded key was refused: ${String(answer.code)}`)
    }
    misses.sort((a, b) => a - b)

    // keys list --search: in the store, and the whole command (a Node process start included).
    const searchIn: number[] = []
    for (let i = 0; i < SEARCHES; i++) {
      const t0 = performance.now()
      const found = await store.listClients({ search: 'puskesmas 0999', limit: 101 })
      searchIn.push(performance.now() - t0)
      if (found.length === 0) throw new Error('the search found nothing')
    }
    const searchNone: number[] = []
    for (let i = 0; i < SEARCHES; i++) {
      const t0 = performance.now()
      await store.listClients({ search: 'xyzzy', limit: 101 })
      searchNone.push(performance.now() - t0)
    }
    await auth.close()
    await store.close()
    const cli: number[] = []
    for (let i = 0; i < SEARCHES; i++) {
      const run = await timed(['keys', 'list', '--search', 'puskesmas 0999'], env)
      if (run.code !== 0) throw new Error(`keys list exited with ${String(run.code)}`)
      cli.push(run.ms)
    }
    const version = await timed(['--help'], env)
    for (const list of [searchIn, searchNone, cli]) list.sort((a, b) => a - b)

    const median = (list: number[]): number => quantile(list, 0.5)
    const lines = [
      `start-up (spawn to "gerbang is ready", ${STARTS} runs): median ${ms(median(starts))} ms, max ${ms(starts.at(-1) ?? NaN)} ms`,
      `cache-miss key check (${MISSES} keys never seen, Authenticator + store): p50 ${ms(quantile(misses, 0.5))} ms, ` +
        `p99 ${ms(quantile(misses, 0.99))} ms, max ${ms(misses.at(-1) ?? NaN)} ms (the synchronous part, which holds the event loop, is less)`,
      `keys list --search in the store (100 of 10,000 matches): median ${ms(median(searchIn))} ms; a fragment nobody has (full scan): median ${ms(median(searchNone))} ms`,
      `gerbang keys list --search, the whole command: median ${ms(median(cli))} ms (gerbang --help alone: ${ms(version.ms)} ms)`,
      `database: ${(size / 2 ** 20).toFixed(1)} MiB for ${CLIENTS} clients (${Math.round(size / CLIENTS)} bytes each)`
    ]
    process.stdout.write(lines.join('\n') + '\n')
    const failures = [
      median(starts) > BUDGET.startMs ? 'start-up' : '',
      quantile(misses, 0.99) > BUDGET.missP99Ms ? 'cache-miss p99' : '',
      Math.max(median(searchIn), median(searchNone)) > BUDGET.searchMs ? 'search' : ''
    ].filter((f) => f !== '')
    if (failures.length > 0) process.stdout.write(`OVER BUDGET: ${failures.join(', ')}\n`)
    return failures.length > 0 ? 1 : 0
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

main().then((code) => { process.exitCode = code }, (err: unknown) => {
  process.stderr.write(`bench/disk-store: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exitCode = 1
})
