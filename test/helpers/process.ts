import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { join, resolve } from 'node:path'
import type { TestContext } from 'node:test'

/** The repository root; tests run compiled, from dist/test/helpers. */
export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..')
export const GERBANG_BIN = resolve(REPO_ROOT, 'bin/gerbang.js')

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/**
 * A GERBANG_DATA_DIR of its own for a process the test did not give one, so
 * no test writes the embedded store into the repository's ./data; `cleanup`
 * deletes it. Tests that share a store between processes pass GERBANG_DATA_DIR.
 */
function ownDataDir (env: NodeJS.ProcessEnv): { env: NodeJS.ProcessEnv, cleanup: () => void } {
  if (env.GERBANG_DATA_DIR !== undefined) return { env, cleanup: () => {} }
  const dir = mkdtempSync(join(tmpdir(), 'gerbang-data-'))
  return { env: { ...env, GERBANG_DATA_DIR: dir }, cleanup: () => { rmSync(dir, { recursive: true, force: true }) } }
}

/** Runs `gerbang <args>` to completion. */
export async function runGerbang (args: string[], givenEnv: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  const { env, cleanup } = ownDataDir(givenEnv)
  const child = spawn(GERBANG_BIN, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  // 'close', not 'exit': the output may still be in the pipes when the process has exited.
  const [code, signal] = await once(child, 'close') as [number | null, NodeJS.Signals | null]
  cleanup()
  return { code, signal, stdout, stderr }
}

export interface GatewayProcess {
  child: ChildProcess
  url: string
  /** The "gerbang is ready" log line. */
  readyLine: Record<string, unknown>
  /** Log lines parsed so far. */
  logs: Array<Record<string, unknown>>
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

/**
 * Starts `gerbang start` as a child process on a free port and waits for its
 * "gerbang is ready" line. The process is killed when the test ends if it is
 * still running.
 */
export async function startGatewayProcess (
  t: TestContext, routesFile: string, givenEnv: NodeJS.ProcessEnv = {}, extraArgs: string[] = []
): Promise<GatewayProcess> {
  const { env, cleanup } = ownDataDir(givenEnv)
  // (Deleting it under a process that is still being killed is harmless on Linux.)
  t.after(cleanup)
  // Run as an executable, as users do, so the node flags in its shebang apply.
  const child = spawn(GERBANG_BIN, ['start', '--routes', routesFile, '--port', '0', '--host', '127.0.0.1', ...extraArgs], {
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }))
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  const logs: Array<Record<string, unknown>> = []
  let stderr = ''
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  let buffered = ''
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      buffered += c.toString()
      let nl: number
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        try {
          const entry = JSON.parse(line) as Record<string, unknown>
          logs.push(entry)
          if (entry.msg === 'gerbang is ready') resolve(entry)
        } catch { /* not a log line */ }
      }
    })
    exited.then(({ code }) => { reject(new Error(`gerbang exited with ${String(code)} before it was ready:\n${stderr}`)) }, reject)
  })
  const readyLine = await ready
  return { child, url: readyLine.address as string, readyLine, logs, exited }
}
