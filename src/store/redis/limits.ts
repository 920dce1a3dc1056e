import type { Lease, LimitStore, WindowCounter } from '../limits.js'
import { runCommand as run } from './connection.js'
import { RedisPart } from './part.js'

/** RedisStore's LimitStore: windows `<p>rl:{<group>}:<key>` and the live processes `<p>{procs}`, through scripts. */
export class RedisLimits extends RedisPart implements LimitStore {
  async lease (group: string, counters: readonly WindowCounter[], liveProcesses: number, cap: number): Promise<Lease> {
    const args: Array<string | number> = [counters.length]
    for (const c of counters) args.push(this.keys.window(group, c.key))
    args.push(Math.max(1, liveProcesses), cap)
    for (const c of counters) args.push(c.limit, c.windowMs)
    const flat = await run(async () => await this.redis.gerbangLease(...args))
    const remaining: number[] = []
    const resetMs: number[] = []
    for (let i = 1; i < flat.length; i += 2) {
      remaining.push(flat[i] as number)
      resetMs.push(flat[i + 1] as number)
    }
    return { granted: flat[0] as number, remaining, resetMs }
  }

  async release (group: string, keys: readonly string[], tokens: number): Promise<void> {
    if (keys.length === 0 || tokens <= 0) return
    await run(async () => await this.redis.gerbangRelease(keys.length, ...keys.map((k) => this.keys.window(group, k)),
      tokens))
  }

  async heartbeat (processId: string, ttlMs: number): Promise<number> {
    return await run(async () => await this.redis.gerbangHeartbeat(this.keys.processes(), processId, ttlMs))
  }
}
