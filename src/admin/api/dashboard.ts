import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { summarizeTraffic, type TrafficRange } from '../../analytics/traffic-report.js'
import { legacyProgress } from '../../auth/legacy.js'
import type { AdminDeps } from '../index.js'
import { answers, DashboardQuery, type DashboardQueryT } from './schemas.js'
import { targetStates } from '../../proxy/balancer.js'

const Totals = Type.Object({ requests: Type.Integer(), errors: Type.Integer() })
const Dashboard = Type.Object({
  range: Type.String(),
  generatedAt: Type.String(),
  stepSeconds: Type.Integer(),
  totals: Totals,
  integrations: Type.Array(Type.Object({
    name: Type.String(),
    description: Type.String(),
    totals: Type.Object({ requests: Type.Integer(), errors: Type.Integer(), errorRate: Type.Number() }),
    health: Type.Object({ status: Type.String({ description: 'ok, degraded, down or idle, from the last 5 minutes' }), requests: Type.Integer(), errors: Type.Integer() }),
    targets: Type.Array(Type.Object({
      target: Type.String(),
      weight: Type.Integer(),
      state: Type.String({ description: 'up or down, now' }),
      reason: Type.Optional(Type.String({ description: 'health check, or connection failures' }))
    }), { description: 'the upstream targets and whether each takes requests now (CONTRACT.md section 14)' }),
    points: Type.Array(Type.Object({ t: Type.String(), requests: Type.Number(), errors: Type.Number() }))
  })),
  topClients: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), requests: Type.Integer() })),
  legacy: Type.Object({
    clients: Type.Integer({ description: 'clients imported from the old API manager' }),
    callingThisWeek: Type.Integer({ description: 'of them, how many called with their old key in the last 7 days (UTC days)' })
  }, { description: 'the switch-over from the old API manager' })
})

// Summarising a day reads ~1,500 counter buckets and every client's hourly
// counts (~150 ms of CPU with 2,000 active clients, bench/admin.ts); admins
// with the dashboard open (it refreshes every 30 s) share one such summary a
// minute, so the proxy's event loop is not held up. An hour is cheap.
const FRESH_MS: Record<TrafficRange, number> = { '1h': 0, '24h': 60_000 }

interface Cached {
  at: number
  table: unknown
  answer: Promise<Record<string, unknown>>
}

/** Traffic per integration and top clients, for any signed-in admin. */
export async function dashboardRoutes (app: FastifyInstance, { store, holder }: AdminDeps): Promise<void> {
  const cache = new Map<TrafficRange, Cached>()

  async function summarize (range: TrafficRange): Promise<Record<string, unknown>> {
    const integrations = holder.table.config.integrations
    const [summary, legacy] = await Promise.all([summarizeTraffic(store, integrations.map((i) => i.name), range), legacyProgress(store)])
    const names = await Promise.all(summary.topClients.map(async ({ id }) => (await store.getClient(id))?.name ?? id))
    return {
      ...summary,
      legacy,
      generatedAt: new Date().toISOString(),
      integrations: summary.integrations.map((traffic, i) => ({ ...traffic, description: integrations[i]?.description ?? '' })),
      topClients: summary.topClients.map((c, i) => ({ ...c, name: names[i] ?? c.id }))
    }
  }

  app.get('/dashboard', {
    config: { access: 'session' },
    schema: {
      summary: 'Requests per minute and error rate per integration over the last hour or day, top clients, upstream health',
      querystring: DashboardQuery,
      response: answers(200, Dashboard, 400)
    }
  }, async (request) => {
    const { range } = request.query as DashboardQueryT
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
    // The targets' states are now's, whatever the age of the traffic summary.
    return withTargets(await answer, targetStates(holder))
  })
}

function withTargets (summary: Record<string, unknown>, targets: ReturnType<typeof targetStates>): Record<string, unknown> {
  const integrations = summary.integrations as Array<{ name: string }>
  return { ...summary, integrations: integrations.map((i) => ({ ...i, targets: targets[i.name] ?? [] })) }
}
