// The load of the two proxy benches, bench/run.ts and bench/clients.ts: the
// same knobs (bench/README.md) with the same defaults, recorded alike in
// their results files.
import { positiveInt } from './env.js'
import { PATH } from './gateway.js'

export const DURATION_S = positiveInt('BENCH_DURATION', 10)
export const CONNECTIONS = positiveInt('BENCH_CONNECTIONS', 50)
/** Runs of each target (bench/run.ts) or of each side (bench/clients.ts); the best of each is compared. */
export const ROUNDS = positiveInt('BENCH_ROUNDS', 2)
export const WARMUP_S = 3
export const PIPELINING = 1

/** The load as a results file's settings record it. */
export function loadSettings (): Record<string, unknown> {
  return {
    path: PATH,
    connections: CONNECTIONS,
    pipelining: PIPELINING,
    durationS: DURATION_S,
    warmupS: WARMUP_S,
    rounds: ROUNDS
  }
}
