// bench/run.ts's settings: the environment's knobs (bench/README.md) and
// what follows from them, read once when the bench starts.
import { randomBytes } from 'node:crypto'
import { cpus } from 'node:os'
import { resolve } from 'node:path'
import { logsAccessLines } from '../gateway.js'
import { REPO_ROOT } from '../processes.js'

export const RESULTS_FILE = resolve(REPO_ROOT, 'bench/results/latest.json')

/** What PATH becomes at the origin (`yankes` → /api/v1): the priming load asks it directly. */
export const ORIGIN_PATH = '/api/v1/kamar?rs=1'
export const PROFILE = process.env.BENCH_PROFILE === '1'
/**
 * BENCH_PIN=1: the target (all its threads) gets the last CPU to itself; this
 * process (autocannon), the origin and Redis share the others, so the
 * target's core is the limit and req/s measures the target, not how the
 * scheduler shared two cores among four processes. On 2 cores that takes
 * most runs of one target from ±10–20 % apart to about ±5 %; see bench/README.md.
 */
export const PIN = process.env.BENCH_PIN === '1'
export const CPU_COUNT = cpus().length
export const TARGET_CPU = String(CPU_COUNT - 1)
export const OTHER_CPUS = CPU_COUNT > 2 ? `0-${CPU_COUNT - 2}` : '0'
// info is what production runs; another level is only for telling the cost of logging apart.
export const GATEWAY_LOG_LEVEL = process.env.BENCH_GATEWAY_LOG_LEVEL ?? 'info'
export const LOGS_INFO = logsAccessLines(GATEWAY_LOG_LEVEL)
// A profile is useless if the work dir holding it is removed.
export const KEEP_LOGS = process.env.BENCH_KEEP_LOGS === '1' || PROFILE
// The keyed gateway's pepper: any 16+ bytes do, as long as the client is created with the same.
export const KEY_PEPPER = randomBytes(24).toString('base64url')
