// What bench/run.ts measures: its targets (BENCH_TARGETS), the pairs whose
// ratio has a limit, each variant's configuration, and the order of a round.

const ALL_TARGETS = ['bare', 'gateway', 'gateway+headers', 'gateway+origin', 'gateway+cors', 'gateway+2targets', 'gateway+key', 'gateway+legacykey', 'gateway+diskkey'] as const
export type TargetName = typeof ALL_TARGETS[number]
export const LABEL: Record<TargetName, string> = {
  bare: 'bare proxy',
  gateway: 'gateway',
  'gateway+headers': 'gateway+headers',
  'gateway+origin': 'gateway+origin',
  'gateway+cors': 'gateway+cors',
  'gateway+2targets': 'gateway+2targets',
  'gateway+key': 'gateway+key',
  'gateway+legacykey': 'gateway+legacykey',
  'gateway+diskkey': 'gateway+diskkey'
}
/** For file and directory names. */
export const SLUG: Record<TargetName, string> = {
  bare: 'bare',
  gateway: 'gateway',
  'gateway+headers': 'gateway-headers',
  'gateway+origin': 'gateway-origin',
  'gateway+cors': 'gateway-cors',
  'gateway+2targets': 'gateway-2targets',
  'gateway+key': 'gateway-key',
  'gateway+legacykey': 'gateway-legacykey',
  'gateway+diskkey': 'gateway-diskkey'
}
/**
 * Each variant and the target it is measured against, run back to back:
 * gateway+headers against gateway; gateway+cors against gateway+origin, the
 * plain gateway under the very same load (every request with an Origin), so
 * the difference is what `cors:` does and not what one more request header costs.
 */
export const PAIRS: ReadonlyArray<readonly [variant: TargetName, base: TargetName]> = [
  ['gateway+headers', 'gateway'], ['gateway+cors', 'gateway+origin'], ['gateway+2targets', 'gateway'], ['gateway+legacykey', 'gateway+key'],
  ['gateway+diskkey', 'gateway+key']
]

/**
 * gateway+legacykey: gateway+key's file and Redis, every request with a key
 * of the old API manager (40 hex) imported by `gerbang import legacy`'s code
 * instead of a gb_ key; issue 15: at most 3 % of req/s against gateway+key.
 */
export const LEGACY_COST_LIMIT_PCT = 3

/**
 * gateway+diskkey: gateway+key's file and load on the embedded store on disk
 * (GERBANG_DATA_DIR, no REDIS_URL) instead of Redis; issue 17: within 3 % of
 * gateway+key's req/s, same run.
 */
export const DISK_COST_LIMIT_PCT = 3

/** gateway+2targets: `yankes` with two upstream targets (the origin's two ports); issue 14: at most 3 % of req/s. */
export const TARGETS_COST_LIMIT_PCT = 3

/** BENCH_TARGETS=gateway,gateway+headers runs those only (in the usual order); unset or empty, all of them. */
function selectTargets (text: string | undefined): readonly TargetName[] {
  if (text === undefined || text.trim() === '') return ALL_TARGETS
  const wanted = new Set(text.split(',').map((t) => t.trim()).filter((t) => t !== ''))
  const unknown = [...wanted].filter((t) => !(ALL_TARGETS as readonly string[]).includes(t))
  if (unknown.length > 0) throw new Error(`BENCH_TARGETS: unknown ${unknown.join(', ')}; the targets are ${ALL_TARGETS.join(', ')}`)
  return ALL_TARGETS.filter((t) => wanted.has(t))
}
export const TARGETS = selectTargets(process.env.BENCH_TARGETS)

/**
 * The plugin of gateway+headers, as the issue writes it: two headers set, one
 * removed. Its integration is otherwise the plain gateway's, byte for byte.
 */
export const STATIC_HEADERS_PLUGIN = 'static-headers: { set: { x-instansi: dinkes-banten, x-api-version: "2" }, remove: [x-debug] }'
export const HEADERS_SET: Readonly<Record<string, string>> = { 'x-instansi': 'dinkes-banten', 'x-api-version': '2' }
export const HEADER_REMOVED = 'x-debug'
/** The acceptance: gateway+headers may lose at most this share of gateway's req/s. */
export const HEADERS_COST_LIMIT_PCT = 5

/**
 * gateway+cors: `yankes` with the contract's own example of `cors:` (an exact
 * origin and a subdomain pattern), otherwise the plain gateway's file, and
 * every request of the load from the exact origin, as a browser app's: each
 * is checked against the origins and its answer carries the CORS headers
 * (issue 13, acceptance 5: at most 3 % of req/s). gateway+origin: the plain
 * gateway under that same load (the Origin ignored, passed on).
 */
export const CORS_ENTRY = '{ origins: ["https://dashboard.bantenprov.go.id", "https://*.bantenprov.go.id"] }'
export const CORS_ORIGIN = 'https://dashboard.bantenprov.go.id'
export const CORS_COST_LIMIT_PCT = 3

/**
 * The targets of one round, in order. The two of a pair (PAIRS), whose ratio
 * has a limit, run back to back and swap places every other round, the
 * variant first in odd rounds: the first of a pair, and the first gateway of
 * a bench most of all, often came out slower (see bench/README.md), and in
 * round 1 that should count against the variant, not for it.
 */
export function roundOrder (round: number): TargetName[] {
  const order: TargetName[] = []
  for (const target of TARGETS) {
    if (order.includes(target)) continue
    const pair = PAIRS.find(([v, b]) => (v === target || b === target) && TARGETS.includes(v) && TARGETS.includes(b))
    if (pair === undefined) order.push(target)
    // A base shared by two pairs (gateway) runs once.
    else for (const t of round % 2 === 1 ? pair : [pair[1], pair[0]]) if (!order.includes(t)) order.push(t)
  }
  return order
}

/** The target a variant is measured against: its pair's, or gateway when that did not run. */
export function baseOf (variant: TargetName): TargetName {
  const base = PAIRS.find(([v]) => v === variant)?.[1] ?? 'gateway'
  return TARGETS.includes(base) ? base : 'gateway'
}
