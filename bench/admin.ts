// The admin UI with 10,000 clients: do the Clients page, its list and its
// search answer in under 300 ms? See bench/README.md ("The admin UI").
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { Pool } from 'undici'
import { summarizeTraffic, requestsToday } from '../src/analytics/traffic-report.js'
import { dayClientsBucket, ERRORS_SUFFIX, hourClientsBucket, minuteBucket } from '../src/analytics/traffic-recorder.js'
import { SESSION_COOKIE, SessionManager } from '../src/admin/sessions.js'
import { hashPassword } from '../src/auth/passwords.js'
import { SecretHasher } from '../src/auth/secrets.js'
import type { RedisStore } from '../src/store/redis-store.js'
import type { Client, CounterBucket } from '../src/store/types.js'
import { positiveInt } from './env.js'
import { startGateway, type StartedGateway } from './gateway.js'
import { fmt, machine, table } from './output.js'
import { cpuUs, rssMb } from './proc.js'
import { freePort, onExit, REPO_ROOT, runMain, stopEach } from './processes.js'
import { closeStore, openStore, startRedis, type BenchRedis } from './redis.js'

const RESULTS_FILE = resolve(REPO_ROOT, 'bench/results/admin.json')

const CLIENTS = positiveInt('BENCH_CLIENTS', 10_000)
const WARMUP = positiveInt('BENCH_WARMUP', 50)
const RUNS = positiveInt('BENCH_RUNS', 200)
const CONCURRENCY = positiveInt('BENCH_CONCURRENCY', 10)
/** In-process store timings (the breakdown), per call. */
const STORE_RUNS = 100
const STORE_WARMUP = 20
const IN_FLIGHT = 100
const PAGE_SIZE = 50
/** The acceptance point: p99 at or under this, for the gated cases, sequential and concurrent. */
const BUDGET_MS = 300
const GATEWAY_LOG_LEVEL = process.env.BENCH_GATEWAY_LOG_LEVEL ?? 'info'
const KEEP_LOGS = process.env.BENCH_KEEP_LOGS === '1'
const KEY_PEPPER = randomBytes(24).toString('base64url')
const ADMIN_EMAIL = 'bench-admin@bantenprov.go.id'
const ADMIN_PASSWORD = randomBytes(18).toString('base64url')
const INTEGRATIONS = [
  { name: 'yankes', description: 'Layanan kesehatan: dokter, faskes, ketersediaan kamar' },
  { name: 'dukcapil', description: 'Kependudukan dan pencatatan sipil' },
  { name: 'samsat', description: 'Pajak kendaraan bermotor' }
]

// ---------------------------------------------------------------------------
// Names: "<agency> <place> <4 digits>", shares picked so that the searches
// below match many, a few and none. 'rsud', 'labkesda' and 'xyzzy' appear in
// no place name.

const REGIONS = ['Kab. Serang', 'Kota Serang', 'Kab. Tangerang', 'Kota Tangerang', 'Kota Tangerang Selatan',
  'Kota Cilegon', 'Kab. Lebak', 'Kab. Pandeglang']
const KECAMATAN = ['Cipocok Jaya', 'Curug', 'Kasemen', 'Taktakan', 'Walantaka', 'Ciruas', 'Kramatwatu', 'Anyer',
  'Cinangka', 'Pabuaran', 'Balaraja', 'Cikupa', 'Ciputat', 'Pamulang', 'Serpong', 'Ciledug', 'Karawaci', 'Rangkasbitung',
  'Malingping', 'Bayah', 'Labuan', 'Menes', 'Carita', 'Cibaliung', 'Merak', 'Grogol', 'Jombang', 'Pulomerak']
const DINAS = ['Dinas Kesehatan', 'Dinas Pendidikan', 'Dinas Perhubungan', 'Dinas Sosial', 'Disdukcapil', 'Bapenda',
  'BPBD', 'Bappeda']
const RARE_EVERY = 1000
/** Clients with traffic in each of the last 25 hours (the dashboard's top clients read them all). */
const TOP_CLIENTS_PER_HOUR = 2000
const FRAGMENTS = [
  { label: 'search many', text: 'rsud' },
  { label: 'search few', text: 'labkesda' },
  { label: 'search none', text: 'xyzzy' }
] as const

function pick<T> (list: readonly T[], i: number): T {
  return list[i % list.length] as T
}

function generatedName (i: number): string {
  const n = String(i + 1).padStart(4, '0')
  const spread = Math.floor(i / 100)
  if (i % RARE_EVERY === RARE_EVERY - 1) return `Labkesda ${pick(REGIONS, spread)} ${n}`
  const share = i % 100
  if (share < 22) return `RSUD ${pick(REGIONS, spread + share)} ${n}`
  if (share < 52) return `Puskesmas ${pick(KECAMATAN, spread + share)} ${n}`
  if (share < 67) return `Kecamatan ${pick(KECAMATAN, spread + share)} ${n}`
  if (share < 72) return `Kelurahan ${pick(KECAMATAN, spread + share)} ${n}`
  if (share < 87) return `${pick(DINAS, share)} ${pick(REGIONS, spread)} ${n}`
  if (share < 94) return `Klinik Pratama ${pick(KECAMATAN, spread + share)} ${n}`
  return `SMAN ${(i % 17) + 1} ${pick(KECAMATAN, spread + share)} ${n}`
}

let workDir: string | undefined
onExit(() => {
  if (workDir !== undefined && !KEEP_LOGS) rmSync(workDir, { recursive: true, force: true })
})

function say (line: string): void {
  process.stdout.write(`bench: ${line}\n`)
}

const round1 = (v: number): number => Math.round(v * 10) / 10

interface Stats { n: number, mean: number, p50: number, p95: number, p99: number, max: number }

/** Nearest-rank percentiles, ms to 0.1. */
function stats (values: number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (q: number): number => round1(sorted[Math.min(sorted.length - 1,
    Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN)
  return {
    n: sorted.length,
    mean: round1(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length)),
    p50: at(0.5),
    p95: at(0.95),
    p99: at(0.99),
    max: round1(sorted[sorted.length - 1] ?? Number.NaN)
  }
}

// ---------------------------------------------------------------------------
// Filling the store

interface Named { id: string, name: string }

async function createClients (store: RedisStore, hasher: SecretHasher): Promise<{ all: Named[], ms: number }> {
  const all: Named[] = []
  const now = Date.now()
  let next = 0
  const t0 = performance.now()
  const worker = async (): Promise<void> => {
    while (next < CLIENTS) {
      const i = next++
      const client: Client = {
        id: randomUUID(),
        name: generatedName(i),
        description: `Aplikasi ${generatedName(i)} (bench/admin.ts)`,
        integrations: i % 7 === 0 ? '*' : [pick(INTEGRATIONS, i).name],
        createdAt: new Date(now - (CLIENTS - i) * 60_000).toISOString(),
        ...(i % 50 === 0 ? { revokedAt: new Date(now - 3_600_000).toISOString() } : {}),
        ...(i % 31 === 0 ? { expiresAt: new Date(now + (i % 2 === 0 ? 1 : -1) * 86_400_000).toISOString() } : {}),
        ...(i % 9 === 0 ? { rateLimit: '100/1m' } : {})
      }
      // A key hash as ClientService makes it; the key itself is never needed.
      await store.createClient(client, hasher.hash(randomBytes(32).toString('base64url')))
      all.push({ id: client.id, name: client.name })
    }
  }
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, CLIENTS) }, worker))
  return { all, ms: performance.now() - t0 }
}

/**
 * Traffic as the gateway's TrafficRecorder writes it: requests today for
 * 30 % of the clients, per-minute counts per integration for 24 h, per-hour
 * counts for 2,000 clients (the dashboard's top clients). Plus last use.
 */
async function writeTraffic (store: RedisStore, all: Named[]): Promise<number> {
  const t0 = performance.now()
  const now = Date.now()
  const HOUR = 3_600_000
  const buckets: CounterBucket[] = []
  const today = new Map<string, number>()
  all.forEach((c, i) => { if (i % 10 < 3) today.set(c.id, 1 + (i * 7919) % 5000) })
  buckets.push({ bucket: dayClientsBucket(now), ttlMs: 40 * 24 * HOUR, counts: today })
  const minute = Math.floor(now / 60_000)
  for (let m = minute - 24 * 60 + 1; m <= minute; m++) {
    const counts = new Map<string, number>()
    INTEGRATIONS.forEach(({ name }, k) => {
      counts.set(name, 50 + ((m * (k + 3)) % 400))
      if (m % (k + 5) === 0) counts.set(name + ERRORS_SUFFIX, 1 + (m % 4))
    })
    buckets.push({ bucket: minuteBucket(m), ttlMs: 25 * HOUR, counts })
  }
  const hour = Math.floor(now / HOUR)
  const busy = all.slice(0, TOP_CLIENTS_PER_HOUR)
  for (let h = hour - 24; h <= hour; h++) {
    buckets.push({
      bucket: hourClientsBucket(h),
      ttlMs: 8 * 24 * HOUR,
      counts: new Map(busy.map((c, i) => [c.id, 1 + ((i + h) * 31) % 900]))
    })
  }
  // At most ~500 increments per call: each is its own command, and a command
  // times out after 500 ms (COMMAND_TIMEOUT_MS) on a busy machine.
  let batch: CounterBucket[] = []
  let fields = 0
  const send = async (): Promise<void> => {
    if (batch.length > 0) await store.addCounts(batch)
    batch = []
    fields = 0
  }
  for (const { bucket, ttlMs, counts } of buckets) {
    const entries = [...counts]
    for (let i = 0; i < entries.length; i += 500) {
      const part = entries.slice(i, i + 500)
      if (fields + part.length > 500) await send()
      batch.push({ bucket, ttlMs, counts: new Map(part) })
      fields += part.length
    }
  }
  await send()
  const lastUsed = new Map<string, string>()
  all.forEach((c, i) => { if (i % 3 === 0) lastUsed.set(c.id, new Date(now - (i % 1440) * 60_000).toISOString()) })
  const used = [...lastUsed]
  for (let i = 0; i < used.length; i += 1000) await store.touchClients(new Map(used.slice(i, i + 1000)))
  return performance.now() - t0
}

// ---------------------------------------------------------------------------
// The gateway and the admin session

function writeRoutes (file: string, port: number): string {
  writeFileSync(file, [
    'defaults:',
    '  rateLimit: 1000000000/1s',
    'integrations:',
    ...INTEGRATIONS.flatMap(({ name, description }) => [
      `  ${name}:`,
      `    description: ${JSON.stringify(description)}`,
      // Nothing listens there: the bench never calls an integration.
      `    upstream: http://127.0.0.1:${port}/${name}/api/v1`
    ]),
    ''
  ].join('\n'))
  return file
}

const ADMIN_ENV = { GERBANG_ADMIN_EMAIL: ADMIN_EMAIL, GERBANG_ADMIN_PASSWORD: ADMIN_PASSWORD }

async function startAdminGateway (dir: string, redis: BenchRedis): Promise<StartedGateway> {
  // startGateway passes the bench's environment on: the admin's email and password go that way.
  Object.assign(process.env, ADMIN_ENV)
  try {
    return await startGateway({
      routesFile: writeRoutes(join(dir, 'routes.yaml'), await freePort()),
      logFile: join(dir, 'gateway.log'),
      logLevel: GATEWAY_LOG_LEVEL,
      redisUrl: redis.url,
      keyPepper: KEY_PEPPER,
      waitForStore: true
    })
  } finally {
    for (const name of Object.keys(ADMIN_ENV)) Reflect.deleteProperty(process.env, name)
  }
}

const BROWSER_HEADERS = {
  accept: '*/*',
  'accept-encoding': 'gzip, deflate, br',
  'user-agent': 'gerbang-bench-admin'
}

/** Signs in: the session cookie, and the CSRF token every admin API request carries. */
async function login (pool: Pool): Promise<{ cookie: string, csrf: string }> {
  const res = await pool.request({
    path: '/admin/api/session',
    method: 'POST',
    headers: { ...BROWSER_HEADERS, 'content-type': 'application/json' },
    body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD })
  })
  const text = await res.body.text()
  if (res.statusCode !== 200) throw new Error(`POST /admin/api/session answered ${res.statusCode}: ${text.slice(0, 300)}`)
  const setCookie = res.headers['set-cookie']
  const cookies = Array.isArray(setCookie) ? setCookie : [setCookie ?? '']
  const value = cookies.map((c) => new RegExp(`^${SESSION_COOKIE}=([^;]+)`).exec(c)?.[1]).find((v) => v !== undefined)
  if (value === undefined) throw new Error(`POST /admin/api/session set no ${SESSION_COOKIE} cookie: ${JSON.stringify(setCookie)}`)
  return { cookie: `${SESSION_COOKIE}=${value}`, csrf: (JSON.parse(text) as { csrfToken: string }).csrfToken }
}

// ---------------------------------------------------------------------------
// Measuring over HTTP

interface Case {
  label: string
  path: string
  /** Counts toward PASS/FAIL. */
  gated: boolean
  /** Checks one answer's body; a problem, or undefined. */
  check?: (body: string) => string | undefined
  note?: string
  /** Fewer repetitions for a slow reference case. */
  warmup?: number
  runs?: number
}

interface Answer { status: number, ms: number, bytes: number, body: string }

async function get (pool: Pool, path: string, cookie: string, csrf: string): Promise<Answer> {
  const t0 = performance.now()
  const res = await pool.request({ path, method: 'GET', headers: { ...BROWSER_HEADERS, cookie, 'x-csrf-token': csrf } })
  const body = await res.body.text()
  return { status: res.statusCode, ms: performance.now() - t0, bytes: Buffer.byteLength(body), body }
}

/**
 * What Redis did per request during a run, from INFO commandstats (reset
 * before the run), by command, most time first. A script's time includes the
 * commands it calls, which are also counted under their own names: do not add
 * the rows up.
 */
type RedisWork = Array<{ command: string, callsPerReq: number, usPerReq: number }>

interface RunRecord {
  stats: Stats
  non200: number
  statusCodes: Record<string, number>
  /** The body of the first answer that was not 200, cut short. */
  firstError?: string
  gatewayCpuUsPerReq: number | null
  redisCpuUsPerReq: number | null
  redis?: RedisWork
}

interface CaseRecord {
  label: string
  path: string
  gated: boolean
  bytes: number
  /** The first answer was wrong (status or body). */
  problem?: string
  note?: string
  sequential: RunRecord
  concurrent: RunRecord
}

async function redisWork (store: RedisStore, requests: number): Promise<RedisWork> {
  const text = await store.redis.info('commandstats')
  const work: RedisWork = []
  for (const match of text.matchAll(/^cmdstat_(\S+?):calls=(\d+),usec=(\d+)/gm)) {
    const [, command = '', calls = '0', usec = '0'] = match
    // The bench's own INFO and CONFIG calls.
    if (command === 'info' || command.startsWith('config')) continue
    work.push({ command, callsPerReq: round1(Number(calls) / requests), usPerReq: Math.round(Number(usec) / requests) })
  }
  return work.sort((a, b) => b.usPerReq - a.usPerReq)
}

/** The first `count` commands of a RedisWork: "evalsha 1×9,600 µs, mget 1×250 µs". */
function topCommands (work: RedisWork | undefined, count: number): string {
  if (work === undefined || work.length === 0) return '-'
  return work.slice(0, count).map((w) => `${w.command} ${w.callsPerReq}×, ${w.usPerReq.toLocaleString('en')} µs`).join('; ')
}

interface Target {
  pool: Pool
  cookie: string
  csrf: string
  store: RedisStore
  pids: { gateway: number, redis: number }
}

async function measure (t: Target, path: string, total: number, parallel: number): Promise<RunRecord> {
  const times: number[] = []
  const statusCodes: Record<string, number> = {}
  let firstError: string | undefined
  let next = 0
  await t.store.redis.config('RESETSTAT')
  const gw0 = cpuUs(t.pids.gateway)
  const r0 = cpuUs(t.pids.redis)
  const worker = async (): Promise<void> => {
    while (next < total) {
      next++
      const answer = await get(t.pool, path, t.cookie, t.csrf)
      times.push(answer.ms)
      statusCodes[answer.status] = (statusCodes[answer.status] ?? 0) + 1
      if (answer.status !== 200) firstError ??= answer.body.slice(0, 300)
    }
  }
  await Promise.all(Array.from({ length: parallel }, worker))
  const gw1 = cpuUs(t.pids.gateway)
  const r1 = cpuUs(t.pids.redis)
  const per = (a: number | null, b: number | null): number | null =>
    a === null || b === null ? null : Math.round((b - a) / total)
  return {
    stats: stats(times),
    non200: total - (statusCodes['200'] ?? 0),
    statusCodes,
    ...(firstError !== undefined ? { firstError } : {}),
    gatewayCpuUsPerReq: per(gw0, gw1),
    redisCpuUsPerReq: per(r0, r1),
    redis: await redisWork(t.store, total)
  }
}

async function runCase (t: Target, c: Case): Promise<CaseRecord> {
  const first = await get(t.pool, c.path, t.cookie, t.csrf)
  const problem = first.status !== 200 ? `answered ${first.status}: ${first.body.slice(0, 300)}` : c.check?.(first.body)
  for (let i = 1; i < (c.warmup ?? WARMUP); i++) await get(t.pool, c.path, t.cookie, t.csrf)
  const sequential = await measure(t, c.path, c.runs ?? RUNS, 1)
  const concurrent = await measure(t, c.path, c.runs ?? RUNS, CONCURRENCY)
  return {
    label: c.label,
    path: c.path,
    gated: c.gated,
    bytes: first.bytes,
    ...(problem !== undefined ? { problem } : {}),
    ...(c.note !== undefined ? { note: c.note } : {}),
    sequential,
    concurrent
  }
}

interface ListBody {
  items: Array<{ name: string, requestsToday: number, status: string }>
  total: number
  hasMore: boolean
}

/** Checks a list answer: the count, total, hasMore, name order, and (with a fragment) that every name matches. */
function listCheck (expectItems: number, expectMore: boolean, fragment?: string): (body: string) => string | undefined {
  return (body) => {
    let parsed: ListBody
    try {
      parsed = JSON.parse(body) as ListBody
    } catch {
      return `not JSON: ${body.slice(0, 200)}`
    }
    const names = parsed.items.map((i) => i.name.toLowerCase())
    if (parsed.items.length !== expectItems) return `${parsed.items.length} items, ${expectItems} expected`
    if (parsed.total !== CLIENTS) return `total ${parsed.total}, ${CLIENTS} expected`
    if (parsed.hasMore !== expectMore) return `hasMore ${String(parsed.hasMore)}, ${String(expectMore)} expected`
    if (!names.every((n, i) => i === 0 || (names[i - 1] ?? '') <= n)) return 'items not sorted by name'
    if (fragment !== undefined && !names.every((n) => n.includes(fragment))) return `an item does not hold '${fragment}'`
    return undefined
  }
}

function cases (all: Named[]): Case[] {
  const matches = (text: string): number => all.filter((c) => c.name.toLowerCase().includes(text)).length
  const lastOffset = Math.max(0, CLIENTS - PAGE_SIZE)
  return [
    { label: 'Clients page (HTML)', path: '/admin/clients', gated: true, check: (b) => b.includes('<html') ? undefined : 'not the HTML shell' },
    { label: 'main.js (asset)', path: '/admin/assets/main.js', gated: false, check: (b) => b.length > 0 ? undefined : 'empty' },
    { label: 'list, first page', path: `/admin/api/clients?limit=${PAGE_SIZE}`, gated: true, check: listCheck(Math.min(PAGE_SIZE, CLIENTS), CLIENTS > PAGE_SIZE) },
    {
      label: 'list, last page',
      path: `/admin/api/clients?limit=${PAGE_SIZE}&offset=${lastOffset}`,
      gated: true,
      check: listCheck(Math.min(PAGE_SIZE, CLIENTS - lastOffset), false)
    },
    ...FRAGMENTS.map(({ label, text }) => {
      const found = matches(text)
      return {
        label: `${label} '${text}'`,
        path: `/admin/api/clients?search=${encodeURIComponent(text)}&limit=${PAGE_SIZE}`,
        gated: true,
        check: listCheck(Math.min(PAGE_SIZE, found), found > PAGE_SIZE, text),
        note: `${found.toLocaleString('en')} matches`
      }
    }),
    // Slow (it reads 1,440 minute buckets and 25 hour buckets): fewer runs.
    { label: 'dashboard 24h (reference)', path: '/admin/api/dashboard?range=24h', gated: false, warmup: 5, runs: 40 }
  ]
}

// ---------------------------------------------------------------------------
// Where the time goes: the store calls behind each answer, in this process

interface StoreRecord { label: string, parallel: number, stats: Stats, errors: number }

/** `runs` calls, `parallel` at a time, after a sequential warm-up; failed calls are counted, not timed. */
async function timeStore (
  label: string, call: () => Promise<unknown>, { runs = STORE_RUNS, warmup = STORE_WARMUP, parallel = 1 } = {}
): Promise<StoreRecord> {
  let errors = 0
  const attempt = async (): Promise<number | undefined> => {
    const t0 = performance.now()
    try {
      await call()
      return performance.now() - t0
    } catch {
      errors++
      return undefined
    }
  }
  for (let i = 0; i < warmup; i++) await attempt()
  errors = 0
  const times: number[] = []
  let next = 0
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < runs) {
      next++
      const ms = await attempt()
      if (ms !== undefined) times.push(ms)
    }
  }))
  return { label, parallel, stats: stats(times), errors }
}

async function storeBreakdown (store: RedisStore, cookie: string, firstIds: string[]): Promise<StoreRecord[]> {
  const sessions = new SessionManager(store)
  // The API asks for one more than a page, to know whether there is another.
  const limit = PAGE_SIZE + 1
  const out: StoreRecord[] = []
  out.push(await timeStore('session check (SessionManager.resolve)', async () => {
    if (await sessions.resolve(cookie) === undefined) throw new Error('the session did not resolve in-process')
  }))
  out.push(await timeStore('countClients (ZCARD)', async () => await store.countClients()))
  out.push(await timeStore(`listClients limit ${limit}`, async () => await store.listClients({ limit })))
  out.push(await timeStore(`listClients limit ${limit} offset ${CLIENTS - PAGE_SIZE}`, async () => await store.listClients({ limit, offset: CLIENTS - PAGE_SIZE })))
  for (const parallel of [1, CONCURRENCY]) {
    for (const { text } of FRAGMENTS) {
      out.push(await timeStore(`listClients search '${text}' limit ${limit}`, async () => await store.listClients({ search: text, limit }), { parallel }))
    }
  }
  out.push(await timeStore(`requestsToday, ${firstIds.length} ids (HMGET)`, async () => await requestsToday(store, firstIds)))
  const few = { runs: 10, warmup: 2 }
  out.push(await timeStore('summarizeTraffic 24h (dashboard)', async () => await summarizeTraffic(store, INTEGRATIONS.map((i) => i.name), '24h'), few))
  // Its two halves: the per-minute series and the top clients.
  const minute = Math.floor(Date.now() / 60_000)
  const minutes = Array.from({ length: 24 * 60 }, (_v, i) => minuteBucket(minute - i))
  out.push(await timeStore('  readCounts, 1,440 minute buckets', async () => await store.readCounts(minutes), few))
  const hour = Math.floor(Date.now() / 3_600_000)
  const hours = Array.from({ length: 25 }, (_v, i) => hourClientsBucket(hour - i))
  out.push(await timeStore(`  readCounts, 25 hour buckets of ${TOP_CLIENTS_PER_HOUR.toLocaleString('en')} clients`, async () => await store.readCounts(hours), few))
  return out
}

// ---------------------------------------------------------------------------

async function main (): Promise<number> {
  workDir = mkdtempSync(join(tmpdir(), 'gerbang-bench-admin-'))
  const info = machine(undefined)
  const loadBefore = loadavg()
  say(`node ${process.version}, ${String(info.cpus)} CPUs (${String(info.cpuModel)}), load ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ` +
    `${CLIENTS.toLocaleString('en')} clients; per case ${WARMUP} warm-up + ${RUNS} sequential + ${RUNS} with ${CONCURRENCY} at once; ` +
    `gateway LOG_LEVEL=${GATEWAY_LOG_LEVEL}`)
  let redis: BenchRedis | undefined
  let gateway: StartedGateway | undefined
  let store: RedisStore | undefined
  let pool: Pool | undefined
  try {
    redis = await startRedis(workDir)
    store = await openStore(redis.url)
    say(`redis-server ${redis.version} on ${redis.url}`)
    const hasher = new SecretHasher(KEY_PEPPER)

    say(`creating ${CLIENTS.toLocaleString('en')} clients, ${IN_FLIGHT} in flight…`)
    const { all, ms: createMs } = await createClients(store, hasher)
    const trafficMs = await writeTraffic(store, all)
    const [memory, keys] = await Promise.all([store.redis.info('memory'), store.redis.dbsize()])
    const usedMb = round1(Number(/used_memory:(\d+)/.exec(memory)?.[1] ?? Number.NaN) / 1024 / 1024)
    say(`  clients in ${fmt(createMs / 1000, 2)} s, traffic counters in ${fmt(trafficMs / 1000, 2)} s; Redis: ${keys.toLocaleString('en')} keys, ${usedMb} MB`)

    gateway = await startAdminGateway(workDir, redis)
    say(`gateway on 127.0.0.1:${gateway.port} (pid ${gateway.pid})`)
    // The gateway makes the first admin at start; it logs a warning instead when its store was not connected yet.
    let adminNote: string | undefined
    if (await store.getUser(ADMIN_EMAIL) === undefined) {
      adminNote = 'the gateway did not create the first admin from GERBANG_ADMIN_EMAIL (see its log); the bench created it in the store'
      say(adminNote)
      await store.createUser({ email: ADMIN_EMAIL, name: ADMIN_EMAIL, role: 'admin', passwordHash: await hashPassword(ADMIN_PASSWORD), createdAt: new Date().toISOString() })
    }

    pool = new Pool(`http://127.0.0.1:${gateway.port}`, { connections: CONCURRENCY, pipelining: 1 })
    const { cookie, csrf } = await login(pool)
    say('signed in')
    const target: Target = { pool, cookie, csrf, store, pids: { gateway: gateway.pid, redis: redis.pid } }
    const records: CaseRecord[] = []
    for (const c of cases(all)) {
      const record = await runCase(target, c)
      records.push(record)
      const non200 = record.sequential.non200 + record.concurrent.non200
      say(`  ${record.label}: p99 ${fmt(record.sequential.stats.p99, 1)} ms sequential, ${fmt(record.concurrent.stats.p99, 1)} ms with ${CONCURRENCY} at once` +
        (non200 > 0 ? `, ${non200} not 200 ${JSON.stringify(sumCodes(record.sequential.statusCodes, record.concurrent.statusCodes))}` : '') +
        (record.problem !== undefined ? ` — ${record.problem}` : ''))
    }
    const gatewayRssMb = rssMb(gateway.pid)

    say('store calls in-process…')
    const firstIds = (await store.listClients({ limit: PAGE_SIZE })).map((c) => c.id)
    const breakdown = await storeBreakdown(store, cookie, firstIds)

    let logLines: number | null = null
    try {
      logLines = readFileSync(join(workDir, 'gateway.log'), 'utf8').split('\n').filter((l) => l !== '').length
    } catch { /* gone */ }

    return report({
      records,
      breakdown,
      createMs,
      trafficMs,
      keys,
      usedMb,
      gatewayRssMb,
      logLines,
      adminNote,
      redisVersion: redis.version,
      loadBefore
    })
  } finally {
    await pool?.close()
    await closeStore(store)
    await stopEach([gateway, redis])
  }
}

interface Results {
  records: CaseRecord[]
  breakdown: StoreRecord[]
  createMs: number
  trafficMs: number
  keys: number
  usedMb: number
  gatewayRssMb: number | null
  logLines: number | null
  adminNote: string | undefined
  redisVersion: string
  loadBefore: number[]
}

function sumCodes (a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a }
  for (const [code, n] of Object.entries(b)) out[code] = (out[code] ?? 0) + n
  return out
}

function report (r: Results): number {
  const out: string[] = ['']
  const runsOf = (c: CaseRecord): Array<[string, RunRecord]> => [['seq', c.sequential], [`×${CONCURRENCY}`, c.concurrent]]
  out.push('latency of GET answers, ms, from request to last body byte as the bench sees it (undici, keep-alive); ' +
    `${RUNS} sequential (seq), then ${RUNS} with ${CONCURRENCY} at once (×${CONCURRENCY}); budget: p99 ≤ ${BUDGET_MS} ms for the gated cases:`)
  out.push(table(['case', 'run', 'n', 'p50', 'p95', 'p99', 'max', 'mean', 'non-200', 'verdict'],
    r.records.flatMap((c) => runsOf(c).map(([run, rec]) => [run === 'seq' ? c.label : '', run, String(rec.stats.n),
      fmt(rec.stats.p50, 1), fmt(rec.stats.p95, 1), fmt(rec.stats.p99, 1), fmt(rec.stats.max, 1),
      fmt(rec.stats.mean, 1), String(rec.non200),
      !c.gated ? '(ref)' : c.problem !== undefined || rec.non200 > 0 ? 'WRONG' : rec.stats.p99 > BUDGET_MS ? 'FAIL' : 'PASS']))))

  out.push('', 'work per request, sequential runs: CPU of the gateway and of redis-server (/proc, 10 ms ticks: ±50 µs here), ' +
    'and the commands that took Redis the most time (INFO commandstats: calls and µs per request; a script\'s time includes the commands it calls):')
  out.push(table(['case', 'gw cpu µs', 'redis cpu µs', 'redis calls', 'most Redis time', 'bytes', 'note'],
    r.records.map((c) => [c.label, fmt(c.sequential.gatewayCpuUsPerReq), fmt(c.sequential.redisCpuUsPerReq),
      fmt(c.sequential.redis?.reduce((a, w) => a + w.callsPerReq, 0), 1), topCommands(c.sequential.redis, 2), String(c.bytes), c.note ?? ''])))

  out.push('', `store calls in-process (this process → the same Redis), ${STORE_RUNS} runs after ${STORE_WARMUP} sequential warm-up (the dashboard: 10 after 2), ms:`)
  out.push(table(['call', 'at once', 'p50', 'p95', 'p99', 'max', 'errors'], r.breakdown.map((b) => [b.label, String(b.parallel),
    fmt(b.stats.p50, 2), fmt(b.stats.p95, 2), fmt(b.stats.p99, 2), fmt(b.stats.max, 2), String(b.errors)])))

  out.push('', `store: ${CLIENTS.toLocaleString('en')} clients through RedisStore.createClient in ${fmt(r.createMs / 1000, 2)} s, ` +
    `traffic counters in ${fmt(r.trafficMs / 1000, 2)} s; Redis ${r.keys.toLocaleString('en')} keys, ${r.usedMb} MB; gateway RSS ${fmt(r.gatewayRssMb, 1)} MB after the runs; ` +
    `load average ${r.loadBefore.map((l) => l.toFixed(2)).join(' ')} before, ${loadavg().map((l) => l.toFixed(2)).join(' ')} after`)
  if (r.adminNote !== undefined) out.push(`note: ${r.adminNote}`)

  const failures: string[] = []
  const warnings: string[] = []
  for (const c of r.records) {
    if (c.problem !== undefined) failures.push(`${c.label}: ${c.problem}`)
    const non200 = c.sequential.non200 + c.concurrent.non200
    if (non200 > 0) {
      const line = `${c.label}: ${non200} answers not 200 ${JSON.stringify(sumCodes(c.sequential.statusCodes, c.concurrent.statusCodes))}, ` +
        `the first: ${c.sequential.firstError ?? c.concurrent.firstError ?? ''}`
      if (c.gated) failures.push(line)
      else warnings.push(line)
    }
    if (!c.gated) continue
    for (const [run, rec] of [['sequential', c.sequential], [`${CONCURRENCY} at once`, c.concurrent]] as const) {
      if (rec.stats.p99 > BUDGET_MS) failures.push(`${c.label} (${run}): p99 ${rec.stats.p99} ms is over ${BUDGET_MS} ms`)
    }
  }
  for (const b of r.breakdown) if (b.errors > 0) warnings.push(`in-process ${b.label} (${b.parallel} at once): ${b.errors} calls failed`)
  const gatedP99 = Math.max(...r.records.filter((c) => c.gated).flatMap((c) =>
    [c.sequential.stats.p99, c.concurrent.stats.p99]))

  mkdirSync(dirname(RESULTS_FILE), { recursive: true })
  writeFileSync(RESULTS_FILE, JSON.stringify({
    ...machine(r.redisVersion),
    loadavg: { before: r.loadBefore, after: loadavg() },
    settings: {
      clients: CLIENTS,
      warmup: WARMUP,
      runs: RUNS,
      concurrency: CONCURRENCY,
      pageSize: PAGE_SIZE,
      budgetMs: BUDGET_MS,
      gatewayLogLevel: GATEWAY_LOG_LEVEL
    },
    store: { createMs: Math.round(r.createMs), trafficMs: Math.round(r.trafficMs), keys: r.keys, usedMb: r.usedMb },
    gatewayRssMb: r.gatewayRssMb,
    gatewayLogLines: r.logLines,
    cases: r.records,
    breakdown: r.breakdown,
    gatedP99Ms: gatedP99,
    failures,
    warnings
  }, null, 2) + '\n')
  out.push('', `results written to ${RESULTS_FILE}`)
  if (warnings.length > 0) out.push('', 'warnings (reference cases, not gated):', ...warnings.map((w) => '  ' + w))
  if (failures.length > 0) out.push('', 'FAILED:', ...failures.map((f) => '  ' + f))
  out.push('', `${failures.length === 0 ? 'PASS' : 'FAIL'}: admin-p99-max: ${fmt(gatedP99, 1)} ms (budget ${BUDGET_MS} ms)`)
  process.stdout.write(out.join('\n') + '\n')
  return failures.length > 0 ? 1 : 0
}

runMain(main)
