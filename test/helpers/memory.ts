import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { sleep } from './time.js'

// A gateway process's memory, read from /proc as the memory tests bound it
// (streaming bodies, WebSocket frames): what the operating system sees, not
// what V8 reports.

/** The resident set size of a process, in bytes. */
export function rssOf (pid: number): number {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  assert.ok(match !== null, `no VmRSS for ${pid}`)
  return Number(match[1]) * 1024
}

/** The idle RSS: the lowest of ten samples 20 ms apart. */
export async function idleRss (pid: number): Promise<number> {
  let low = rssOf(pid)
  for (let i = 0; i < 10; i++) {
    await sleep(20)
    low = Math.min(low, rssOf(pid))
  }
  return low
}

/** Samples a process's RSS every 20 ms until stopped; returns the peak. */
export function sampleRss (pid: number): () => number {
  let peak = rssOf(pid)
  const timer = setInterval(() => { peak = Math.max(peak, rssOf(pid)) }, 20)
  return () => {
    clearInterval(timer)
    return Math.max(peak, rssOf(pid))
  }
}
