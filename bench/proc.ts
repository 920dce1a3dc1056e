// What a process costs, read from /proc: CPU time and resident memory. Every
// process under test is a child of its own, so that its figures are its own.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

export function rssMb (pid: number): number | null {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match === null ? null : Math.round(Number(match[1]) / 1024 * 10) / 10
  } catch {
    return null // not Linux, or the process is gone
  }
}

const CLOCK_TICKS_PER_S = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

/** User + system CPU time a process (all its threads) has used so far, in microseconds, from /proc. */
export function cpuUs (pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name may hold spaces and parentheses; fields are counted after its closing ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S * 1e6
  } catch {
    return null
  }
}

/** CPU per completed request between two cpuUs() readings, 0.1 µs steps. */
export function perRequest (before: number | null, after: number | null, completed: number): number | null {
  return before === null || after === null ? null : Math.round((after - before) / Math.max(completed, 1) * 10) / 10
}
