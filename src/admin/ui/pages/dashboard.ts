// /admin: traffic per integration over 1 h or 24 h, upstream health, top
// clients. Refreshes itself every 30 s while the page is open.
import { api, isAbort } from '../api.js'
import { lineChart } from '../chart.js'
import { h, mount } from '../dom.js'
import { formatDateTime, formatNumber, formatPercent, t, tMaybe } from '../i18n.js'
import type { Dashboard, DashboardIntegration, HealthStatus, PageContext } from '../types.js'
import { badge, dataTable, errorBox, pageHeader, type BadgeKind } from '../widgets.js'

const REFRESH_MS = 30_000
type Range = Dashboard['range']

const HEALTH: Record<HealthStatus, BadgeKind> = { ok: 'ok', degraded: 'warn', down: 'bad', idle: 'muted' }

function healthBadge (integration: DashboardIntegration): HTMLElement {
  const status = integration.health.status
  const kind = HEALTH[status] ?? 'muted'
  return badge(tMaybe(`health.${status}`) ?? status, kind, {
    'data-testid': `health-${integration.name}`,
    'data-status': status,
    title: `${t('dash.health')}: ${status}`
  })
}

/** One line per upstream target with its state; nothing for an integration with one target that is up. */
function targetList (integration: DashboardIntegration): HTMLElement | null {
  const { targets } = integration
  if (targets.length < 2 && targets.every((x) => x.state === 'up')) return null
  return h('ul', { class: 'targets small', 'aria-label': t('dash.targets') }, targets.map((x) =>
    h('li', { 'data-testid': `target-${integration.name}`, 'data-state': x.state },
      badge(t(x.state === 'up' ? 'target.up' : 'target.down'), x.state === 'up' ? 'ok' : 'bad',
        x.reason === undefined ? {} : { title: x.reason }),
      ' ', h('code', null, x.target), targets.length > 1 ? ` ×${x.weight}` : '')))
}

function stat (label: string, value: string, testId: string): HTMLElement {
  return h('div', { class: 'stat' }, h('p', { class: 'stat-label' }, label), h('p', { class: 'stat-value', 'data-testid': testId }, value))
}

const ratio = (errors: number, requests: number): number => requests > 0 ? errors / requests : 0

/** The switch-over's progress bar: imported clients still calling with their old key this week. */
function legacyProgress (legacy: NonNullable<Dashboard['legacy']>): HTMLElement {
  return h('section', { class: 'card legacy-progress', 'aria-labelledby': 'legacy-progress' },
    h('h3', { id: 'legacy-progress' }, t('dash.legacy')),
    h('p', { class: 'stat-value', 'data-testid': 'legacy-calling' }, t('dash.legacyOf', { calling: formatNumber(legacy.callingThisWeek), clients: formatNumber(legacy.clients) })),
    h('progress', { max: String(legacy.clients), value: String(legacy.callingThisWeek), 'aria-labelledby': 'legacy-progress', 'data-testid': 'legacy-bar' }),
    h('p', { class: 'muted small' }, t('dash.legacyHint')))
}

function integrationCard (integration: DashboardIntegration): HTMLElement {
  const { totals } = integration
  return h('section', { class: 'card integration', 'aria-labelledby': `int-${integration.name}` },
    h('div', { class: 'card-head' },
      h('h3', { id: `int-${integration.name}` }, integration.name),
      healthBadge(integration)),
    integration.description === '' ? null : h('p', { class: 'muted small' }, integration.description),
    h('dl', { class: 'mini-stats' },
      h('div', null, h('dt', null, t('dash.requests')), h('dd', null, formatNumber(totals.requests))),
      h('div', null, h('dt', null, t('dash.errors')), h('dd', null, formatNumber(totals.errors))),
      h('div', null, h('dt', null, t('dash.errorRate')), h('dd', null, formatPercent(totals.errorRate)))),
    targetList(integration),
    lineChart(integration.points, { name: integration.name }),
    h('ul', { class: 'legend', 'aria-hidden': 'true' },
      h('li', null, h('span', { class: 'swatch swatch-requests' }), t('chart.requests')),
      h('li', null, h('span', { class: 'swatch swatch-errors' }), t('chart.errorRate'))))
}

function renderDashboard (data: Dashboard, ctx: PageContext): HTMLElement {
  const topClients = dataTable(t('dash.topClients'), [
    {
      label: t('clients.col.name'),
      cell: (c) => ctx.can('clients:read') ? h('a', { href: `/admin/clients?search=${encodeURIComponent(c.name)}` }, c.name) : c.name
    },
    { label: t('dash.requests'), cell: (c) => formatNumber(c.requests), class: 'num' }
  ], data.topClients, () => ({ 'data-testid': 'top-client-row' }))
  return h('div', { class: 'dashboard' },
    h('div', { class: 'stats' },
      stat(t('dash.totalRequests'), formatNumber(data.totals.requests), 'total-requests'),
      stat(t('dash.totalErrors'), formatNumber(data.totals.errors), 'total-errors'),
      stat(t('dash.errorRate'), formatPercent(ratio(data.totals.errors, data.totals.requests)), 'total-error-rate')),
    data.legacy === undefined || data.legacy.clients === 0 ? null : legacyProgress(data.legacy),
    h('h2', null, t('dash.integrations')),
    data.integrations.length === 0
      ? h('p', { class: 'muted' }, t('dash.noIntegrations'))
      : h('div', { class: 'integrations' }, data.integrations.map(integrationCard)),
    h('h2', null, t('dash.topClients')),
    data.topClients.length === 0 ? h('p', { class: 'muted' }, t('dash.noClients')) : topClients.wrap)
}

export async function dashboardPage (ctx: PageContext): Promise<void> {
  const { signal } = ctx
  let range: Range = new URLSearchParams(location.search).get('range') === '24h' ? '24h' : '1h'
  const status = h('p', { class: 'muted small', 'data-testid': 'dashboard-updated' })
  const problem = h('div')
  const body = h('div')
  let loadController: AbortController | undefined

  const load = async (): Promise<void> => {
    loadController?.abort()
    const controller = new AbortController()
    loadController = controller
    signal.addEventListener('abort', () => controller.abort(), { once: true })
    const data = await api.get<Dashboard>(`/dashboard?range=${range}`, { signal: controller.signal })
    if (controller.signal.aborted) return
    problem.replaceChildren()
    mount(body, renderDashboard(data, ctx))
    status.textContent = t('dash.updated', { time: formatDateTime(data.generatedAt) })
  }
  const refresh = (): void => {
    load().catch((err: unknown) => {
      if (signal.aborted || isAbort(err)) return
      mount(problem, errorBox(err, refresh))
    })
  }

  const rangeButton = (value: Range, label: string): HTMLButtonElement => h('button', {
    type: 'button',
    class: 'btn seg',
    'aria-pressed': String(value === range),
    'data-testid': `range-${value}`,
    onclick: () => {
      if (range === value) return
      range = value
      for (const b of group.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.testid === `range-${value}`))
      history.replaceState(null, '', value === '1h' ? '/admin' : '/admin?range=24h')
      refresh()
    }
  }, label)
  const group = h('div', { class: 'segmented', role: 'group', 'aria-label': t('dash.range') },
    rangeButton('1h', t('dash.range.1h')), rangeButton('24h', t('dash.range.24h')))

  await load()
  if (signal.aborted) return
  mount(ctx.root, pageHeader(t('dash.title'), group), status, problem, body)
  const timer = setInterval(refresh, REFRESH_MS)
  signal.addEventListener('abort', () => clearInterval(timer), { once: true })
}
