// A bench's temporary directory (logs, routes files, Redis's working
// directory), removed when the bench exits however it exits, unless it is to
// be kept for someone to read (BENCH_KEEP_LOGS=1, a failed soak).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { onExit } from './processes.js'

export interface WorkDir {
  readonly path: string
  /** Whether it is left in place at exit: may be set until then. */
  keep: boolean
}

/** A fresh directory in the system's temp dir, its name `prefix` and random characters. */
export function makeWorkDir (prefix: string, keep: boolean): WorkDir {
  const workDir: WorkDir = { path: mkdtempSync(join(tmpdir(), prefix)), keep }
  onExit(() => {
    if (!workDir.keep) rmSync(workDir.path, { recursive: true, force: true })
  })
  return workDir
}
