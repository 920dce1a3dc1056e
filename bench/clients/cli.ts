// `gerbang keys list --search` end to end, as an operator runs it: node's
// start-up, the CLI's module loading and the search.
import { round1 } from '../output.js'
import { runGerbang, type CliRun } from '../processes.js'
import { median, type SearchRecord } from './search.js'
import { CLI_RUNS, KEY_PEPPER } from './settings.js'

/** A CLI run, its time to 0.1 ms. */
async function runCli (args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  const run = await runGerbang(args, env)
  return { ...run, ms: round1(run.ms) }
}

interface CliRecord {
  fragment: string
  runsMs: number[]
  medianMs: number
  maxMs: number
  returned: number | null
  /** Exit 0 and as many clients as the in-process search returned. */
  ok: boolean
  problem?: string
}

export interface CliResults {
  available: boolean
  note?: string
  /** `gerbang help`: node start-up and the CLI's module loading, no store. */
  startupMs?: { runsMs: number[], medianMs: number }
  searches: CliRecord[]
}

export async function timeCli (redisUrl: string, searches: SearchRecord[]): Promise<CliResults> {
  const env = { REDIS_URL: redisUrl, GERBANG_KEY_PEPPER: KEY_PEPPER }
  const probe = await runCli(['keys', '--help'], env)
  if (probe.code !== 0 || !probe.stdout.includes('keys list')) {
    const why = /unknown command 'keys'/.test(probe.stderr)
      ? '`gerbang keys` is not a known command yet'
      : `\`gerbang keys --help\` exited ${String(probe.code)}: ${(probe.stderr.trim().split('\n')[0] ?? '').slice(0, 200)}`
    return { available: false, note: `${why}; the CLI timings are skipped`, searches: [] }
  }
  const startup: number[] = []
  for (let run = 0; run < CLI_RUNS; run++) startup.push((await runCli(['help'], {})).ms)
  const records: CliRecord[] = []
  for (const search of searches) {
    const runsMs: number[] = []
    let last: CliRun | undefined
    for (let run = 0; run < CLI_RUNS; run++) {
      last = await runCli(['keys', 'list', '--search', search.fragment, '--json'], env)
      runsMs.push(last.ms)
    }
    let returned: number | null = null
    let problem: string | undefined
    if (last === undefined || last.code !== 0) {
      problem = `exited ${String(last?.code)}: ${(last?.stderr.trim() ?? '').slice(0, 300)}`
    } else {
      try {
        returned = (JSON.parse(last.stdout) as unknown[]).length
        if (returned !== search.returned) problem = `printed ${returned} clients, the store returned ${search.returned}`
      } catch {
        problem = `stdout is not a JSON array: ${last.stdout.slice(0, 200)}`
      }
    }
    records.push({
      fragment: search.fragment,
      runsMs,
      medianMs: round1(median(runsMs)),
      maxMs: Math.max(...runsMs),
      returned,
      ok: problem === undefined,
      ...(problem !== undefined ? { problem } : {})
    })
  }
  return { available: true, startupMs: { runsMs: startup, medianMs: round1(median(startup)) }, searches: records }
}
