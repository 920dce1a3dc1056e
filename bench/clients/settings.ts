// bench/clients.ts's settings: the environment's knobs (bench/README.md) and
// the bench's fixed sizes and budget.
import { randomBytes } from 'node:crypto'
import { resolve } from 'node:path'
import { positiveInt } from '../env.js'
import { REPO_ROOT } from '../processes.js'

export const RESULTS_FILE = resolve(REPO_ROOT, 'bench/results/clients.json')

export const GENERATED = positiveInt('BENCH_CLIENTS', 100_000)
export const IN_FLIGHT = 500
export const REAL_CLIENTS = 10
export const GATEWAY_LOG_LEVEL = process.env.BENCH_GATEWAY_LOG_LEVEL ?? 'info'
export const KEEP_LOGS = process.env.BENCH_KEEP_LOGS === '1'
export const SEARCH_RUNS = 5
export const CLI_RUNS = 3
export const RESOLVE_RUNS = 2000
export const RESOLVE_WARMUP = 200
/** `keys list` shows this many without --limit. */
export const LIST_LIMIT = 100
/** The bench fails when the in-process search median of any fragment is above this. */
export const SEARCH_BUDGET_MS = 200
export const KEY_PEPPER = randomBytes(24).toString('base64url')
