// bench/soak.ts's settings: the environment's knobs (SOAK_MINUTES,
// SOAK_RATE, SOAK_KEEP_LOGS), the schedule that follows from the run's
// length, and the secrets of one run.
import { randomBytes } from 'node:crypto'
import { resolve } from 'node:path'
import { positiveInt, positiveNumber } from '../env.js'
import { REPO_ROOT } from '../processes.js'

export const RESULTS_FILE = resolve(REPO_ROOT, 'bench/results/soak.json')

const MINUTES = positiveNumber('SOAK_MINUTES', 10)
export const DURATION_S = Math.round(MINUTES * 60)
/** The first 10 % of the run, at least 30 s, on a sample boundary. */
export const SAMPLE_S = 5
export const WARMUP_S = Math.ceil(Math.max(30, DURATION_S * 0.1) / SAMPLE_S) * SAMPLE_S
export const ROW_S = 30
/** Requests per second the load generator sends, steadily (open loop). */
export const RATE = positiveInt('SOAK_RATE', 300)
export const CONNECTIONS = 64
/** Past this many requests in flight the generator skips a request and counts it as dropped. */
export const MAX_IN_FLIGHT = 256
export const MAX_RSS_GROWTH = 0.10
export const KEEP_LOGS = process.env.SOAK_KEEP_LOGS === '1'

// The schedule, in seconds from the start of the traffic.
export const REDIS_DOWN_AT_S = Math.round(DURATION_S * 0.6)
export const REDIS_DOWN_S = 10
/** The `flap` upstream is closed for FLAP_DOWN_S every FLAP_EVERY_S (shorter for runs under 4 minutes). */
export const FLAP_FIRST_S = Math.min(40, Math.round(DURATION_S * 0.3))
export const FLAP_EVERY_S = Math.min(120, Math.round(DURATION_S / 2))
export const FLAP_DOWN_S = Math.min(20, Math.round(DURATION_S * 0.15))

// The flaky upstream, per request: reset (RST) 2 %, closed without an answer
// 2 %, 500 4 %, no answer for HANG_MS (past its 1 s timeout) 2 %, headers and
// part of the body then RST 2 %; the other 88 % answer 200.
export const HANG_MS = 3000

export const KEY_PEPPER = randomBytes(24).toString('base64url')
export const ADMIN_EMAIL = 'soak-admin@bantenprov.go.id'
export const ADMIN_PASSWORD = randomBytes(18).toString('base64url')
export const METRICS_TOKEN = randomBytes(24).toString('base64url')

/**
 * Error-level log lines (pino level 50) that are an expected part of what
 * this run does to the gateway, by message; every other line at level ≥ 50
 * fails the run, and so does any fatal line. Upstream failures (refused,
 * reset, timed out, 5xx), open breakers, Redis going away, rate limits and
 * refused credentials are logged at info or warn by design: none of them is
 * here, and one of them logged at error would be a finding.
 */
export const EXPECTED_ERRORS: ReadonlyArray<{ msg: string, why: string }> = []

/** Lines on the gateway's stderr that are known and harmless (regular expressions). None so far. */
export const KNOWN_STDERR: readonly RegExp[] = []
