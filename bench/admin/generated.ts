// The store as the admin UI reads it with CLIENTS clients: their names, the
// clients themselves, and a day of traffic counters as the gateway writes them.
import { randomBytes, randomUUID } from 'node:crypto'
import { dayClientsBucket, ERRORS_SUFFIX, hourClientsBucket, minuteBucket } from '../../src/analytics/traffic-recorder.js'
import type { SecretHasher } from '../../src/auth/secrets.js'
import type { RedisStore } from '../../src/store/redis-store.js'
import type { Client, CounterBucket } from '../../src/store/types.js'
import { eachInFlight } from '../in-flight.js'
import { CLIENTS, IN_FLIGHT, INTEGRATIONS } from './settings.js'

// Names: "<agency> <place> <4 digits>", shares picked so that the searches
// (FRAGMENTS) match many, a few and none. 'rsud', 'labkesda' and 'xyzzy'
// appear in no place name.

const REGIONS = ['Kab. Serang', 'Kota Serang', 'Kab. Tangerang', 'Kota Tangerang', 'Kota Tangerang Selatan',
  'Kota Cilegon', 'Kab. Lebak', 'Kab. Pandeglang']
const KECAMATAN = ['Cipocok Jaya', 'Curug', 'Kasemen', 'Taktakan', 'Walantaka', 'Ciruas', 'Kramatwatu', 'Anyer',
  'Cinangka', 'Pabuaran', 'Balaraja', 'Cikupa', 'Ciputat', 'Pamulang', 'Serpong', 'Ciledug', 'Karawaci', 'Rangkasbitung',
  'Malingping', 'Bayah', 'Labuan', 'Menes', 'Carita', 'Cibaliung', 'Merak', 'Grogol', 'Jombang', 'Pulomerak']
const DINAS = ['Dinas Kesehatan', 'Dinas Pendidikan', 'Dinas Perhubungan', 'Dinas Sosial', 'Disdukcapil', 'Bapenda',
  'BPBD', 'Bappeda']
const RARE_EVERY = 1000
/** Clients with traffic in each of the last 25 hours (the dashboard's top clients read them all). */
export const TOP_CLIENTS_PER_HOUR = 2000
export const FRAGMENTS = [
  { label: 'search many', text: 'rsud' },
  { label: 'search few', text: 'labkesda' },
  { label: 'search none', text: 'xyzzy' }
] as const

function pick<T> (list: readonly T[], i: number): T {
  return list[i % list.length] as T
}

function generatedName (i: number): string {
  const n = String(i + 1).padStart(4, '0')
  const spread = Math.floor(i / 100)
  if (i % RARE_EVERY === RARE_EVERY - 1) return `Labkesda ${pick(REGIONS, spread)} ${n}`
  const share = i % 100
  if (share < 22) return `RSUD ${pick(REGIONS, spread + share)} ${n}`
  if (share < 52) return `Puskesmas ${pick(KECAMATAN, spread + share)} ${n}`
  if (share < 67) return `Kecamatan ${pick(KECAMATAN, spread + share)} ${n}`
  if (share < 72) return `Kelurahan ${pick(KECAMATAN, spread + share)} ${n}`
  if (share < 87) return `${pick(DINAS, share)} ${pick(REGIONS, spread)} ${n}`
  if (share < 94) return `Klinik Pratama ${pick(KECAMATAN, spread + share)} ${n}`
  return `SMAN ${(i % 17) + 1} ${pick(KECAMATAN, spread + share)} ${n}`
}

export interface Named { id: string, name: string }

export async function createClients (store: RedisStore, hasher: SecretHasher): Promise<{ all: Named[], ms: number }> {
  const all: Named[] = []
  const now = Date.now()
  const t0 = performance.now()
  await eachInFlight(CLIENTS, IN_FLIGHT, async (i) => {
    const client: Client = {
      id: randomUUID(),
      name: generatedName(i),
      description: `Aplikasi ${generatedName(i)} (bench/admin.ts)`,
      integrations: i % 7 === 0 ? '*' : [pick(INTEGRATIONS, i).name],
      createdAt: new Date(now - (CLIENTS - i) * 60_000).toISOString(),
      ...(i % 50 === 0 ? { revokedAt: new Date(now - 3_600_000).toISOString() } : {}),
      ...(i % 31 === 0 ? { expiresAt: new Date(now + (i % 2 === 0 ? 1 : -1) * 86_400_000).toISOString() } : {}),
      ...(i % 9 === 0 ? { rateLimit: '100/1m' } : {})
    }
    // A key hash as ClientService makes it; the key itself is never needed.
    await store.createClient(client, hasher.hash(randomBytes(32).toString('base64url')))
    all.push({ id: client.id, name: client.name })
  })
  return { all, ms: performance.now() - t0 }
}

/**
 * Traffic as the gateway's TrafficRecorder writes it: requests today for
 * 30 % of the clients, per-minute counts per integration for 24 h, per-hour
 * counts for 2,000 clients (the dashboard's top clients). Plus last use.
 */
export async function writeTraffic (store: RedisStore, all: Named[]): Promise<number> {
  const t0 = performance.now()
  const now = Date.now()
  const HOUR = 3_600_000
  const buckets: CounterBucket[] = []
  const today = new Map<string, number>()
  all.forEach((c, i) => { if (i % 10 < 3) today.set(c.id, 1 + (i * 7919) % 5000) })
  buckets.push({ bucket: dayClientsBucket(now), ttlMs: 40 * 24 * HOUR, counts: today })
  const minute = Math.floor(now / 60_000)
  for (let m = minute - 24 * 60 + 1; m <= minute; m++) {
    const counts = new Map<string, number>()
    INTEGRATIONS.forEach(({ name }, k) => {
      counts.set(name, 50 + ((m * (k + 3)) % 400))
      if (m % (k + 5) === 0) counts.set(name + ERRORS_SUFFIX, 1 + (m % 4))
    })
    buckets.push({ bucket: minuteBucket(m), ttlMs: 25 * HOUR, counts })
  }
  const hour = Math.floor(now / HOUR)
  const busy = all.slice(0, TOP_CLIENTS_PER_HOUR)
  for (let h = hour - 24; h <= hour; h++) {
    buckets.push({
      bucket: hourClientsBucket(h),
      ttlMs: 8 * 24 * HOUR,
      counts: new Map(busy.map((c, i) => [c.id, 1 + ((i + h) * 31) % 900]))
    })
  }
  // At most ~500 increments per call: each is its own command, and a command
  // times out after 500 ms (COMMAND_TIMEOUT_MS) on a busy machine.
  let batch: CounterBucket[] = []
  let fields = 0
  const send = async (): Promise<void> => {
    if (batch.length > 0) await store.addCounts(batch)
    batch = []
    fields = 0
  }
  for (const { bucket, ttlMs, counts } of buckets) {
    const entries = [...counts]
    for (let i = 0; i < entries.length; i += 500) {
      const part = entries.slice(i, i + 500)
      if (fields + part.length > 500) await send()
      batch.push({ bucket, ttlMs, counts: new Map(part) })
      fields += part.length
    }
  }
  await send()
  const lastUsed = new Map<string, string>()
  all.forEach((c, i) => { if (i % 3 === 0) lastUsed.set(c.id, new Date(now - (i % 1440) * 60_000).toISOString()) })
  const used = [...lastUsed]
  for (let i = 0; i < used.length; i += 1000) await store.touchClients(new Map(used.slice(i, i + 1000)))
  return performance.now() - t0
}
