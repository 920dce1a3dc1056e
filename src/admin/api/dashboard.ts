import { Type } from '@sinclair/typebox'
import {
  summarizeTraffic, type ClientTraffic, type IntegrationTraffic, type StatusClasses as Classes, type TrafficRange,
  type TrafficSummary
} from '../../analytics/traffic-report.js'
import { legacyProgress, type LegacyProgress } from '../../auth/legacy.js'
import type { AdminApi, AdminDeps } from './deps.js'
import { answers, DashboardQuery, Latency, StatusClasses } from './schemas.js'
import { targetStates, type TargetState } from '../../proxy/balancer.js'

const Totals = Type.Object({ requests: Type.Integer(), errors: Type.Integer({ description: '5xx answers' }) })
const Dashboard = Type.Object({
  range: Type.String(),
  generatedAt: Type.String(),
  stepSeconds: Type.Integer(),
  totals: Totals,
  classes: StatusClasses,
  integrations: Type.Array(Type.Object({
    name: Type.String(),
    description: Type.String(),
    totals: Type.Object({ requests: Type.Integer(), errors: Type.Integer(), errorRate: Type.Number() }),
    classes: StatusClasses,
    latency: Latency,
    breaker: Type.String({ description: 'the circuit breaker now: closed, open, half-open, or off' }),
    health: Type.Object({ status: Type.String({ description: 'ok, degraded, down or idle, from the last 5 minutes' }), requests: Type.Integer(), errors: Type.Integer() }),
    targets: Type.Array(Type.Object({
      target: Type.String(),
      weight: Type.Integer(),
      state: Type.String({ description: 'up or down, now' }),
      reason: Type.Optional(Type.String({ description: 'health check, or connection failures' }))
    }), { description: 'the upstream targets and whether each takes requests now (docs/contract.md section 14)' }),
    points: Type.Array(Type.Object({ t: Type.String(), requests: Type.Number(), errors: Type.Number(), rejected: Type.Number({ description: '4xx per minute' }) }))
  })),
  topClients: Type.Array(Type.Object({
    id: Type.String(), name: Type.String(), requests: Type.Integer(), classes: StatusClasses, latency: Latency
  })),
  legacy: Type.Object({
    clients: Type.Integer({ description: 'clients imported from the old API manager' }),
    callingThisWeek: Type.Integer({ description: 'of them, how many called with their old key in the last 7 days (UTC days)' })
  }, { description: 'the switch-over from the old API manager' })
})

// Summarising a day reads ~1,500 counter buckets and every client's hourly
// counts (~150 ms of CPU with 2,000 active clients, bench/admin.ts); admins
// with the dashboard open (it refreshes every 30 s) share one such summary a
// minute, so the proxy's event loop is not held up. An hour is cheap.
const FRESH_MS: Record<TrafficRange, number> = { '1h': 0, '24h': 60_000, '7d': 5 * 60_000 }

/** The traffic summary with the routes file's descriptions, the client names and the switch-over's progress. */
interface Summary extends Omit<TrafficSummary, 'integrations' | 'topClients'> {
  legacy: LegacyProgress
  generatedAt: string
  integrations: Array<IntegrationTraffic & { description: string }>
  topClients: Array<ClientTraffic & { name: string }>
}

/** A summary with its integrations' targets and breakers as they are now. */
interface DashboardAnswer extends Omit<Summary, 'integrations'> {
  integrations: Array<Summary['integrations'][number] & { targets: TargetState[], breaker: string }>
}

interface Cached {
  at: number
  table: unknown
  answer: Promise<Summary>
}

/** Traffic per integration and top clients, for any signed-in admin. */
export async function dashboardRoutes (app: AdminApi, { store, holder }: AdminDeps): Promise<void> {
  const cache = new Map<TrafficRange, Cached>()

  async function summarize (range: TrafficRange): Promise<Summary> {
    const integrations = holder.table.config.integrations
    const [summary, legacy] = await Promise.all([summarizeTraffic(store, integrations.map((i) => i.name), range),
      legacyProgress(store)])
    const names = await Promise.all(summary.topClients.map(async ({ id }) => (await store.getClient(id))?.name ?? id))
    return {
      ...summary,
      legacy,
      generatedAt: new Date().toISOString(),
      integrations: summary.integrations.map((traffic, i) => ({ ...traffic, description: integrations[i]?.description ?? '' })),
      topClients: summary.topClients.map((c, i) => ({ ...c, name: names[i] ?? c.id }))
    }
  }

  async function current (range: TrafficRange): Promise<DashboardAnswer> {
    const cached = cache.get(range)
    // A reloaded routes file (a new table) makes the summary stale at once.
    let answer: Cached['answer']
    if (cached !== undefined && cached.table === holder.table && Date.now() - cached.at < FRESH_MS[range]) {
      answer = cached.answer
    } else {
      const fresh: Cached = { at: Date.now(), table: holder.table, answer: summarize(range) }
      cache.set(range, fresh)
      fresh.answer.catch(() => { if (cache.get(range) === fresh) cache.delete(range) })
      answer = fresh.answer
    }
    // The targets' and breakers' states are now's, whatever the age of the traffic summary.
    return withTargets(await answer, targetStates(holder), breakerStates(holder))
  }

  app.get('/dashboard.csv', {
    config: { access: 'session' },
    schema: {
      summary: 'The dashboard\'s traffic as CSV: one line per integration and point in time, then one per top client',
      querystring: DashboardQuery,
      produces: ['text/csv'],
      response: answers(200, Type.String({ description: 'text/csv' }), 400)
    }
  }, async (request, reply) => {
    const { range } = request.query
    const data = await current(range)
    reply.header('content-disposition', `attachment; filename="gerbang-traffic-${range}-${data.generatedAt.slice(0, 16).replace(/[^0-9T]/g, '')}.csv"`)
    return await reply.type('text/csv; charset=utf-8').send(toCsv(data))
  })

  app.get('/dashboard', {
    config: { access: 'session' },
    schema: {
      summary: 'Requests per minute and error rate per integration over the last hour or day, top clients, upstream health',
      querystring: DashboardQuery,
      response: answers(200, Dashboard, 400)
    }
  }, async (request) => {
    const { range } = request.query
    return await current(range)
  })
}

function breakerStates (holder: AdminDeps['holder']): Record<string, string> {
  const states: Record<string, string> = {}
  for (const route of holder.table.routes) states[route.integration.name] = route.breaker.enabled ? route.breaker.state : 'off'
  return states
}

function withTargets (
  summary: Summary, targets: Record<string, TargetState[]>, breakers: Record<string, string>
): DashboardAnswer {
  return { ...summary, integrations: summary.integrations.map((i) => ({ ...i, targets: targets[i.name] ?? [], breaker: breakers[i.name] ?? 'off' })) }
}

interface CsvSource {
  range: string
  generatedAt: string
  integrations: Array<{
    name: string
    points: Array<{ t: string, requests: number, errors: number, rejected: number }>
    classes: Classes
    latency: { p50: number | null, p95: number | null }
  }>
  topClients: Array<{
    id: string, name: string, requests: number, classes: Classes, latency: { p50: number | null, p95: number | null }
  }>
}

/**
 * A CSV cell: quoted when it holds a comma, quote or line break; a leading =, +, - or @ is defused for spreadsheets.
 */
function cell (value: string | number | null): string {
  if (value === null) return ''
  let text = String(value)
  if (typeof value === 'string' && /^[=+\-@]/.test(text)) text = `'${text}`
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

function toCsv (data: CsvSource): string {
  const lines = [['kind', 'name', 'time', 'requests_per_min', 'errors_5xx_per_min', 'rejected_4xx_per_min', 'requests', 'ok', 'client_errors_4xx',
    'unauthorized_401', 'forbidden_403', 'rate_limited_429', 'server_errors_5xx', 'p50_ms', 'p95_ms']]
  const totals = (
    c: Classes, requests: number, latency: { p50: number | null, p95: number | null }
  ): Array<string | number | null> =>
    [requests, c.ok, c.clientErrors, c.unauthorized, c.forbidden, c.rateLimited, c.serverErrors,
      latency.p50, latency.p95]
  for (const i of data.integrations) {
    const requests = i.classes.ok + i.classes.clientErrors + i.classes.serverErrors
    lines.push(['integration', i.name, '', '', '', '', ...totals(i.classes, requests, i.latency)].map(cell))
    for (const p of i.points) lines.push(['point', i.name, p.t, p.requests, p.errors, p.rejected, '', '', '', '', '', '', '', '', ''].map(cell))
  }
  for (const c of data.topClients) lines.push(['client', c.name, '', '', '', '', ...totals(c.classes, c.requests, c.latency)].map(cell))
  return lines.map((l) => l.join(',')).join('\r\n') + '\r\n'
}
