// Searching among the clients in-process (store.listClients), checked against
// what a correct search returns; and a key's lookup, a gateway's cache miss.
import type { RedisStore } from '../../src/store/redis-store.js'
import type { Client } from '../../src/store/types.js'
import { round1 } from '../output.js'
import { FRAGMENTS, type Named } from './generated.js'
import { LIST_LIMIT, RESOLVE_RUNS, RESOLVE_WARMUP, SEARCH_RUNS } from './settings.js'

export function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] ?? 0 : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

export interface SearchRecord {
  fragment: string
  kind: string
  /** Every client whose name holds the fragment. */
  matches: number
  returned: number
  runsMs: number[]
  medianMs: number
  maxMs: number
  /** min(limit, matches) clients, sorted by name. */
  countOk: boolean
  /** Exactly the first `limit` matches by name (the store contract's "first matching names in order"). */
  firstByNameOk: boolean
}

/**
 * What a correct search returns: the first LIST_LIMIT matches ordered as the store orders them (lowercased name, then
 * id).
 */
function expectedSearch (all: Named[], fragment: string): { matches: number, firstIds: string[] } {
  const matching = all.map((c) => ({ id: c.id, key: `${c.name.toLowerCase()}\u0000${c.id}` }))
    .filter((c) => c.key.slice(0, c.key.indexOf('\u0000')).includes(fragment))
  matching.sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
  return { matches: matching.length, firstIds: matching.slice(0, LIST_LIMIT).map((c) => c.id) }
}

export async function timeSearches (store: RedisStore, all: Named[]): Promise<SearchRecord[]> {
  const records: SearchRecord[] = []
  for (const { kind, text } of FRAGMENTS) {
    const expected = expectedSearch(all, text)
    const runsMs: number[] = []
    let result: Client[] = []
    for (let run = 0; run < SEARCH_RUNS; run++) {
      const t0 = performance.now()
      result = await store.listClients({ search: text })
      runsMs.push(round1(performance.now() - t0))
    }
    const names = result.map((c) => c.name.toLowerCase())
    const sorted = names.every((n, i) => i === 0 || (names[i - 1] ?? '') <= n)
    records.push({
      fragment: text,
      kind,
      matches: expected.matches,
      returned: result.length,
      runsMs,
      medianMs: round1(median(runsMs)),
      maxMs: Math.max(...runsMs),
      countOk: result.length === Math.min(LIST_LIMIT, expected.matches) && sorted,
      firstByNameOk: result.map((c) => c.id).join() === expected.firstIds.join()
    })
  }
  return records
}

/** store.resolveKey, one at a time: what a gateway pays on a cache miss. */
export async function timeResolve (store: RedisStore, keyHash: string): Promise<{ medianUs: number, p99Us: number }> {
  for (let run = 0; run < RESOLVE_WARMUP; run++) await store.resolveKey(keyHash)
  const us: number[] = []
  for (let run = 0; run < RESOLVE_RUNS; run++) {
    const t0 = performance.now()
    const found = await store.resolveKey(keyHash)
    us.push((performance.now() - t0) * 1000)
    if (found === undefined) throw new Error('the real client\'s key did not resolve')
  }
  us.sort((a, b) => a - b)
  return { medianUs: Math.round(median(us)), p99Us: Math.round(us[Math.floor(us.length * 0.99)] ?? 0) }
}
