import type { CounterStore } from '../store/types.js'
import {
  dayClientsBucket, ERRORS_SUFFIX, HOUR_MS, hourBucket, hourClientsBucket, LATENCY_BOUNDS_MS, MINUTE_MS, minuteBucket,
  minuteClientsBucket, SLOT_SUFFIXES
} from './traffic-recorder.js'

// Reads the traffic counters back for the dashboard: series per integration,
// top clients, a health verdict from the last minutes, requests today.

export type TrafficRange = '1h' | '24h' | '7d'

const RANGES: Record<TrafficRange, { minutes: number, stepMinutes: number, unitMinutes: number }> = {
  '1h': { minutes: 60, stepMinutes: 1, unitMinutes: 1 },
  // 96 points of 15 minutes: enough to read a day's shape, light to draw.
  '24h': { minutes: 24 * 60, stepMinutes: 15, unitMinutes: 1 },
  // 168 points of an hour, from the hourly buckets.
  '7d': { minutes: 7 * 24 * 60, stepMinutes: 60, unitMinutes: 60 }
}

/** Minutes over which the upstream health verdict is formed. */
const HEALTH_MINUTES = 5

export interface TrafficPoint {
  t: string
  /** Average per minute over the point's step. */
  requests: number
  /** 5xx per minute. */
  errors: number
  /** 4xx per minute (refused credentials, permissions, limits…). */
  rejected: number
}

export type HealthStatus = 'ok' | 'degraded' | 'down' | 'idle'

/** Answers by status class: 5xx are errors; 4xx are the callers' own, with 401, 403 and 429 apart. */
export interface StatusClasses {
  /** Below 400 (2xx, and the rare 1xx/3xx). */
  ok: number
  clientErrors: number
  serverErrors: number
  unauthorized: number
  forbidden: number
  rateLimited: number
}

/**
 * Percentiles read from the latency histogram: the upper bound of the bucket they fall in, in ms (null: no requests, or
 * beyond the last bound).
 */
export interface Latency {
  p50: number | null
  p95: number | null
}

export interface IntegrationTraffic {
  name: string
  points: TrafficPoint[]
  totals: { requests: number, errors: number, errorRate: number }
  classes: StatusClasses
  latency: Latency
  health: { status: HealthStatus, requests: number, errors: number }
}

export interface ClientTraffic {
  id: string
  requests: number
  classes: StatusClasses
  latency: Latency
}

export interface TrafficSummary {
  range: TrafficRange
  stepSeconds: number
  totals: { requests: number, errors: number }
  classes: StatusClasses
  integrations: IntegrationTraffic[]
  topClients: ClientTraffic[]
}

const rate = (errors: number, requests: number): number =>
  requests === 0 ? 0 : Math.round(errors / requests * 10_000) / 10_000

export function healthOf (requests: number, errors: number): HealthStatus {
  if (requests === 0) return 'idle'
  if (errors === 0) return 'ok'
  return errors * 2 >= requests ? 'down' : 'degraded'
}

/** Adds every counter of `name` (requests, classes, histogram) in `counts` into `into` (indexed like SLOT_SUFFIXES). */
function addSlots (into: number[], counts: Map<string, number> | undefined, name: string): void {
  if (counts === undefined) return
  for (let i = 0; i < SLOT_SUFFIXES.length; i++) into[i] = (into[i] ?? 0) + (counts.get(name + SLOT_SUFFIXES[i]) ?? 0)
}

const emptySlots = (): number[] => new Array<number>(SLOT_SUFFIXES.length).fill(0)

/** Status classes from summed slots. */
export function classesOf (slots: readonly number[]): StatusClasses {
  const [requests = 0, serverErrors = 0, clientErrors = 0, unauthorized = 0, forbidden = 0, rateLimited = 0] = slots
  return {
    ok: Math.max(0, requests - serverErrors - clientErrors),
    clientErrors,
    serverErrors,
    unauthorized,
    forbidden,
    rateLimited
  }
}

/** p50 and p95 from the histogram part of summed slots. */
export function latencyOf (slots: readonly number[]): Latency {
  const histogram = slots.slice(SLOT_SUFFIXES.length - LATENCY_BOUNDS_MS.length)
  const total = histogram.reduce((a, b) => a + b, 0)
  const at = (q: number): number | null => {
    if (total === 0) return null
    let seen = 0
    for (let i = 0; i < histogram.length; i++) {
      seen += histogram[i] ?? 0
      if (seen >= q * total) {
        const bound = LATENCY_BOUNDS_MS[i] as number
        return Number.isFinite(bound) ? bound : null
      }
    }
    return null
  }
  return { p50: at(0.5), p95: at(0.95) }
}

const addClasses = (a: StatusClasses, b: StatusClasses): void => {
  for (const k of Object.keys(a) as Array<keyof StatusClasses>) a[k] += b[k]
}

/** The dashboard's numbers for the integrations named, over the range ending now. */
export async function summarizeTraffic (store: CounterStore, integrations: readonly string[], range: TrafficRange,
  now = Date.now(), topClients = 10): Promise<TrafficSummary> {
  const { minutes, stepMinutes, unitMinutes } = RANGES[range]
  const units = minutes / unitMinutes
  const unitMs = unitMinutes * MINUTE_MS
  const last = Math.floor(now / unitMs)
  const first = last - units + 1
  const unitList = Array.from({ length: units }, (_v, i) => first + i)
  const stepUnits = stepMinutes / unitMinutes
  // Top clients: minute counters for the last hour, hourly ones for longer
  // ranges (the hour buckets that overlap it).
  const hours = range === '24h' ? 25 : 7 * 24 + 1
  const clientBuckets = range === '1h'
    ? unitList.map(minuteClientsBucket)
    : Array.from({ length: hours }, (_v, i) => hourClientsBucket(Math.floor(now / HOUR_MS) - hours + 1 + i))
  const [perUnit, perClientBucket] = await Promise.all([
    store.readCounts(unitList.map(unitMinutes === 1 ? minuteBucket : hourBucket)),
    store.readCounts(clientBuckets)
  ])

  const summary: TrafficSummary = {
    range,
    stepSeconds: stepMinutes * 60,
    totals: { requests: 0, errors: 0 },
    classes: classesOf(emptySlots()),
    integrations: [],
    topClients: []
  }
  // The health verdict reads the last minutes; with hourly buckets, the last hour's.
  const healthUnits = Math.max(1, Math.ceil(HEALTH_MINUTES / unitMinutes))
  for (const name of integrations) {
    const points: TrafficPoint[] = []
    const slots = emptySlots()
    let recentRequests = 0
    let recentErrors = 0
    for (let start = 0; start < units; start += stepUnits) {
      const step = emptySlots()
      for (let i = start; i < start + stepUnits; i++) {
        const counts = perUnit[i]
        const r = counts?.get(name) ?? 0
        const e = counts?.get(name + ERRORS_SUFFIX) ?? 0
        addSlots(step, counts, name)
        if (i >= units - healthUnits) {
          recentRequests += r
          recentErrors += e
        }
      }
      for (let k = 0; k < slots.length; k++) slots[k] = (slots[k] ?? 0) + (step[k] ?? 0)
      points.push({
        t: new Date((first + start) * unitMs).toISOString(),
        requests: Math.round((step[0] ?? 0) / stepMinutes * 100) / 100,
        errors: Math.round((step[1] ?? 0) / stepMinutes * 100) / 100,
        rejected: Math.round((step[2] ?? 0) / stepMinutes * 100) / 100
      })
    }
    const requests = slots[0] ?? 0
    const errors = slots[1] ?? 0
    const classes = classesOf(slots)
    summary.totals.requests += requests
    summary.totals.errors += errors
    addClasses(summary.classes, classes)
    summary.integrations.push({
      name,
      points,
      totals: { requests, errors, errorRate: rate(errors, requests) },
      classes,
      latency: latencyOf(slots),
      health: { status: healthOf(recentRequests, recentErrors), requests: recentRequests, errors: recentErrors }
    })
  }

  const byClient = new Map<string, number>()
  for (const counts of perClientBucket) {
    for (const [id, n] of counts) if (!id.includes('|')) byClient.set(id, (byClient.get(id) ?? 0) + n)
  }
  summary.topClients = [...byClient]
    .sort((a, b) => b[1] - a[1])
    .slice(0, topClients)
    .map(([id, requests]) => {
      const slots = emptySlots()
      for (const counts of perClientBucket) addSlots(slots, counts, id)
      return { id, requests, classes: classesOf(slots), latency: latencyOf(slots) }
    })
  return summary
}

/** One client's traffic over the last 24 hours (its hourly buckets): per hour and in all. */
export async function clientTraffic (store: CounterStore, clientId: string, now = Date.now()): Promise<{
  requests: number
  classes: StatusClasses
  latency: Latency
  points: Array<{ t: string, requests: number, clientErrors: number, serverErrors: number }>
}> {
  const hour = Math.floor(now / HOUR_MS)
  const hours = Array.from({ length: 24 }, (_v, i) => hour - 23 + i)
  const fields = SLOT_SUFFIXES.map((suffix) => clientId + suffix)
  const perHour = await Promise.all(hours.map(async (h) => await store.readCountFields(hourClientsBucket(h), fields)))
  const slots = emptySlots()
  for (const counts of perHour) for (let k = 0; k < slots.length; k++) slots[k] = (slots[k] ?? 0) + (counts[k] ?? 0)
  return {
    requests: slots[0] ?? 0,
    classes: classesOf(slots),
    latency: latencyOf(slots),
    points: perHour.map((counts, i) => ({
      t: new Date((hours[i] ?? 0) * HOUR_MS).toISOString(),
      requests: counts[0] ?? 0,
      serverErrors: counts[1] ?? 0,
      clientErrors: counts[2] ?? 0
    }))
  }
}

/** Requests each client made today (Asia/Jakarta), in the order given. */
export async function requestsToday (
  store: CounterStore, clientIds: readonly string[], now = Date.now()
): Promise<number[]> {
  if (clientIds.length === 0) return []
  return await store.readCountFields(dayClientsBucket(now), clientIds)
}
