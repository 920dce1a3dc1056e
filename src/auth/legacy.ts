import type { CounterStore, CredentialStore } from '../store/types.js'

// Keys of the province's old API manager (CodeIgniter REST Server), brought
// in by `gerbang import legacy` (src/cli/import-legacy.ts, docs/contract.md
// section 10). They are stored like Gerbang keys, only as their HMAC, and
// accepted only when they resolve to a client the import marked as legacy.

/** The old manager's keys: sha1 hex, 40 characters. */
export const OLD_MANAGER_KEY = /^[0-9a-f]{40}$/i
/** Any key an import accepts: printable ASCII without spaces, 20 to 128 characters. */
export const LEGACY_KEY = /^[\x21-\x7e]{20,128}$/
export const LEGACY_KEY_MIN = 20
export const LEGACY_KEY_MAX = 128

/**
 * Whether a key that is not shaped like a Gerbang key may be an imported
 * one: printable, 20 to 128 characters, and as long as some imported key
 * (`lengths`, from Store.legacySummary). Everything else is refused
 * without a store lookup, as before any import.
 */
export function mayBeLegacyKey (text: string, lengths: ReadonlySet<number>): boolean {
  return lengths.has(text.length) && LEGACY_KEY.test(text)
}

// Calls made with a legacy key, per client and day (UTC), kept 8 days in the
// store's counters: the dashboard counts the clients that called in the last 7.
const BUCKET_PREFIX = 'legacy-calls:'
export const LEGACY_CALLS_TTL_MS = 8 * 24 * 3600_000
const DAY_MS = 24 * 3600_000
export const LEGACY_WEEK_DAYS = 7

/** The counter bucket of one UTC day's legacy-key calls. */
export function legacyCallsBucket (at: number): string {
  return BUCKET_PREFIX + new Date(at).toISOString().slice(0, 10)
}

/** The switch-over's progress: clients imported, and how many called with their old key in the last 7 days. */
export interface LegacyProgress {
  clients: number
  callingThisWeek: number
}

export async function legacyProgress (
  store: CredentialStore & CounterStore, now = Date.now()
): Promise<LegacyProgress> {
  const buckets: string[] = []
  for (let day = 0; day < LEGACY_WEEK_DAYS; day++) buckets.push(legacyCallsBucket(now - day * DAY_MS))
  const [summary, days] = await Promise.all([store.legacySummary(), store.readCounts(buckets)])
  const calling = new Set<string>()
  for (const counts of days) for (const [clientId, count] of counts) if (count > 0) calling.add(clientId)
  return { clients: summary.clients, callingThisWeek: calling.size }
}
