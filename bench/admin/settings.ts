// bench/admin.ts's settings: the environment's knobs (bench/README.md), the
// budget, the admin user and the integrations of one run.
import { randomBytes } from 'node:crypto'
import { resolve } from 'node:path'
import { positiveInt } from '../env.js'
import { REPO_ROOT } from '../processes.js'

export const RESULTS_FILE = resolve(REPO_ROOT, 'bench/results/admin.json')

export const CLIENTS = positiveInt('BENCH_CLIENTS', 10_000)
export const WARMUP = positiveInt('BENCH_WARMUP', 50)
export const RUNS = positiveInt('BENCH_RUNS', 200)
export const CONCURRENCY = positiveInt('BENCH_CONCURRENCY', 10)
/** In-process store timings (the breakdown), per call. */
export const STORE_RUNS = 100
export const STORE_WARMUP = 20
export const IN_FLIGHT = 100
export const PAGE_SIZE = 50
/** The acceptance point: p99 at or under this, for the gated cases, sequential and concurrent. */
export const BUDGET_MS = 300
export const GATEWAY_LOG_LEVEL = process.env.BENCH_GATEWAY_LOG_LEVEL ?? 'info'
export const KEEP_LOGS = process.env.BENCH_KEEP_LOGS === '1'
export const KEY_PEPPER = randomBytes(24).toString('base64url')
export const ADMIN_EMAIL = 'bench-admin@bantenprov.go.id'
export const ADMIN_PASSWORD = randomBytes(18).toString('base64url')
export const INTEGRATIONS = [
  { name: 'yankes', description: 'Layanan kesehatan: dokter, faskes, ketersediaan kamar' },
  { name: 'dukcapil', description: 'Kependudukan dan pencatatan sipil' },
  { name: 'samsat', description: 'Pajak kendaraan bermotor' }
]
