import type { Store } from '../store/types.js'
import {
  dayClientsBucket, ERRORS_SUFFIX, HOUR_MS, hourClientsBucket, MINUTE_MS, minuteBucket, minuteClientsBucket
} from './traffic-recorder.js'

// Reads the traffic counters back for the dashboard: series per integration,
// top clients, a health verdict from the last minutes, requests today.

export type TrafficRange = '1h' | '24h'

const RANGES: Record<TrafficRange, { minutes: number, stepMinutes: number }> = {
  '1h': { minutes: 60, stepMinutes: 1 },
  // 96 points of 15 minutes: enough to read a day's shape, light to draw.
  '24h': { minutes: 24 * 60, stepMinutes: 15 }
}

/** Minutes over which the upstream health verdict is formed. */
const HEALTH_MINUTES = 5

export interface TrafficPoint {
  t: string
  /** Average per minute over the point's step. */
  requests: number
  errors: number
}

export type HealthStatus = 'ok' | 'degraded' | 'down' | 'idle'

export interface IntegrationTraffic {
  name: string
  points: TrafficPoint[]
  totals: { requests: number, errors: number, errorRate: number }
  health: { status: HealthStatus, requests: number, errors: number }
}

export interface TrafficSummary {
  range: TrafficRange
  stepSeconds: number
  totals: { requests: number, errors: number }
  integrations: IntegrationTraffic[]
  topClients: Array<{ id: string, requests: number }>
}

const rate = (errors: number, requests: number): number => requests === 0 ? 0 : Math.round(errors / requests * 10_000) / 10_000

export function healthOf (requests: number, errors: number): HealthStatus {
  if (requests === 0) return 'idle'
  if (errors === 0) return 'ok'
  return errors * 2 >= requests ? 'down' : 'degraded'
}

/** The dashboard's numbers for the integrations named, over the range ending now. */
export async function summarizeTraffic (store: Store, integrations: readonly string[], range: TrafficRange,
  now = Date.now(), topClients = 10): Promise<TrafficSummary> {
  const { minutes, stepMinutes } = RANGES[range]
  const last = Math.floor(now / MINUTE_MS)
  const first = last - minutes + 1
  const minuteList = Array.from({ length: minutes }, (_v, i) => first + i)
  // Top clients: minute counters for the last hour, hourly ones for a day
  // (the hour buckets that overlap it).
  const clientBuckets = range === '1h'
    ? minuteList.map(minuteClientsBucket)
    : Array.from({ length: 25 }, (_v, i) => hourClientsBucket(Math.floor(now / HOUR_MS) - 24 + i))
  const [perMinute, perClientBucket] = await Promise.all([
    store.readCounts(minuteList.map(minuteBucket)),
    store.readCounts(clientBuckets)
  ])

  const summary: TrafficSummary = {
    range,
    stepSeconds: stepMinutes * 60,
    totals: { requests: 0, errors: 0 },
    integrations: [],
    topClients: []
  }
  for (const name of integrations) {
    const points: TrafficPoint[] = []
    let requests = 0
    let errors = 0
    let recentRequests = 0
    let recentErrors = 0
    for (let start = 0; start < minutes; start += stepMinutes) {
      let stepRequests = 0
      let stepErrors = 0
      for (let i = start; i < start + stepMinutes; i++) {
        const counts = perMinute[i]
        const r = counts?.get(name) ?? 0
        const e = counts?.get(name + ERRORS_SUFFIX) ?? 0
        stepRequests += r
        stepErrors += e
        if (i >= minutes - HEALTH_MINUTES) {
          recentRequests += r
          recentErrors += e
        }
      }
      requests += stepRequests
      errors += stepErrors
      points.push({
        t: new Date((first + start) * MINUTE_MS).toISOString(),
        requests: Math.round(stepRequests / stepMinutes * 100) / 100,
        errors: Math.round(stepErrors / stepMinutes * 100) / 100
      })
    }
    summary.totals.requests += requests
    summary.totals.errors += errors
    summary.integrations.push({
      name,
      points,
      totals: { requests, errors, errorRate: rate(errors, requests) },
      health: { status: healthOf(recentRequests, recentErrors), requests: recentRequests, errors: recentErrors }
    })
  }

  const byClient = new Map<string, number>()
  for (const counts of perClientBucket) {
    for (const [id, n] of counts) byClient.set(id, (byClient.get(id) ?? 0) + n)
  }
  summary.topClients = [...byClient]
    .sort((a, b) => b[1] - a[1])
    .slice(0, topClients)
    .map(([id, requests]) => ({ id, requests }))
  return summary
}

/** Requests each client made today (Asia/Jakarta), in the order given. */
export async function requestsToday (store: Store, clientIds: readonly string[], now = Date.now()): Promise<number[]> {
  if (clientIds.length === 0) return []
  return await store.readCountFields(dayClientsBucket(now), clientIds)
}
