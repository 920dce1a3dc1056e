// Time in tests, defined once: a sleep, and polling that always has a deadline
// and says what it was waiting for when it gives up.
//
// Prefer waitUntil/waitFor to a fixed sleep: they return as soon as the thing
// happened, so a fast machine does not wait for nothing and a slow one is
// given until the deadline. A sleep is for when time itself must pass (a
// window, an expiry) or to show that something does NOT happen meanwhile.
// Unit tests of a component's own timing use an injected clock or
// `t.mock.timers` instead (the `*.unit.test.ts` files).
import assert from 'node:assert/strict'
import { setTimeout as timeout } from 'node:timers/promises'

/** How long waitUntil/waitFor poll when not told: generous, since a shared CI machine can be slow. */
export const DEFAULT_WAIT_MS = 5000

/**
 * How much later than expected something timed end to end may happen and
 * still pass. A shared CI machine stalls processes for hundreds of
 * milliseconds, so a tight ceiling fails sooner or later; what a deadline
 * test must catch (firing early, or waiting for the wrong, much longer
 * deadline) is caught by the lower bound and this ceiling.
 */
export const LATE_MS = 1000

/** Resolves after `ms` milliseconds of real time. */
export async function sleep (ms: number): Promise<void> {
  await timeout(ms)
}

/** Resolves once Date.now() has reached `epochMs` (at once if it already has). */
export async function sleepUntil (epochMs: number): Promise<void> {
  // Timers run on a monotonic clock and may fire a millisecond before Date.now() gets there.
  for (let left = epochMs - Date.now(); left > 0; left = epochMs - Date.now()) await timeout(left)
}

export interface WaitOptions {
  /** Give up after this long; DEFAULT_WAIT_MS unless told. */
  timeoutMs?: number
  /** Pause between two checks; 20 ms unless told. */
  intervalMs?: number
  /** Extra text for the failure message (the state found, the last log lines). */
  detail?: () => string
}

function settings (options: WaitOptions | number): WaitOptions {
  return typeof options === 'number' ? { timeoutMs: options } : options
}

/**
 * Polls `get` until it returns something other than undefined, and returns
 * that. Fails with "timed out after N ms waiting for <what>" past the deadline.
 */
export async function waitFor<T> (
  what: string, get: () => T | undefined | Promise<T | undefined>, options: WaitOptions | number = {}
): Promise<T> {
  const { timeoutMs = DEFAULT_WAIT_MS, intervalMs = 20, detail } = settings(options)
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const value = await get()
    if (value !== undefined) return value
    if (performance.now() >= deadline) {
      const more = detail === undefined ? '' : `\n${detail()}`
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${more}`)
    }
    await timeout(intervalMs)
  }
}

/** Polls `check` until it holds; fails with "timed out after N ms waiting for <what>" past the deadline. */
export async function waitUntil (
  what: string, check: () => boolean | Promise<boolean>, options: WaitOptions | number = {}
): Promise<void> {
  await waitFor(what, async () => (await check()) ? true : undefined, options)
}

/**
 * Asserts that `ms`, timed end to end, is at least `min` (exact: a deadline
 * must not fire early) and less than `expected` + LATE_MS.
 */
export function assertElapsed (ms: number, min: number, expected: number, what = 'answered'): void {
  assert.ok(ms >= min, `${what} after ${Math.round(ms)} ms, sooner than ${min} ms`)
  assert.ok(ms < expected + LATE_MS, `${what} after ${Math.round(ms)} ms, more than ${LATE_MS} ms later than the ${expected} ms expected`)
}
