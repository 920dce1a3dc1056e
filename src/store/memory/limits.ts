import type { Lease, LimitStore, WindowCounter } from '../limits.js'
import type { MemorySweeper } from './sweeper.js'

/** MemoryStore's LimitStore: this process's own windows (it is the only process that sees them). */
export class MemoryLimits implements LimitStore {
  /** By `<group>:<key>`. */
  readonly #windows = new Map<string, { count: number, resetAt: number }>()
  readonly #sweeper: MemorySweeper

  constructor (sweeper: MemorySweeper) {
    this.#sweeper = sweeper
  }

  async lease (group: string, counters: readonly WindowCounter[], liveProcesses: number, cap: number): Promise<Lease> {
    const now = Date.now()
    const windows = counters.map(({ key, windowMs }) => {
      const name = `${group}:${key}`
      let window = this.#windows.get(name)
      if (window === undefined || window.resetAt <= now) {
        window = { count: 0, resetAt: now + windowMs }
        this.#windows.set(name, window)
      }
      return window
    })
    const room = Math.max(0, Math.min(...counters.map((c, i) => c.limit - (windows[i] as { count: number }).count)))
    const granted = Math.min(room, Math.max(1, Math.min(cap, Math.floor(room / (4 * liveProcesses)))))
    for (const window of windows) window.count += granted
    return {
      granted,
      remaining: counters.map((c, i) => c.limit - (windows[i] as { count: number }).count),
      resetMs: windows.map((w) => w.resetAt - now)
    }
  }

  async release (group: string, keys: readonly string[], tokens: number): Promise<void> {
    for (const key of keys) {
      const window = this.#windows.get(`${group}:${key}`)
      if (window !== undefined) window.count = Math.max(0, window.count - tokens)
    }
  }

  async heartbeat (): Promise<number> {
    // Expired windows would otherwise pile up, one per client and integration.
    const now = Date.now()
    for (const [name, window] of this.#windows) if (window.resetAt <= now) this.#windows.delete(name)
    this.#sweeper.sweepIfDue()
    // The embedded store is one process's own.
    return 1
  }
}
