// /admin: traffic per integration over 1 h or 24 h, upstream health, top
// clients. Refreshes itself every 30 s while the page is open.
import { api, isAbort, messageOf } from '../api.js'
import { chartBox } from '../chart.js'
import { h, mount } from '../dom.js'
import { formatDateTime, formatMs, formatNumber, formatPercent, t, tMaybe } from '../i18n.js'
import type { Dashboard, DashboardIntegration, HealthStatus, PageContext } from '../types.js'
import { badge, dataTable, errorBox, pageHeader, toast, type BadgeKind } from '../widgets.js'

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

const BREAKER: Record<string, BadgeKind> = { closed: 'ok', open: 'bad', 'half-open': 'warn', off: 'muted' }

function latencyText (latency: { p50: number | null, p95: number | null }): string {
  const ms = (v: number | null): string => v === null ? t('common.none') : formatMs(v)
  return latency.p50 === null ? t('common.none') : t('dash.latencyValue', { p50: ms(latency.p50), p95: ms(latency.p95) })
}

function integrationCard (integration: DashboardIntegration): HTMLElement {
  const { totals, classes } = integration
  const item = (label: string, value: string, id: string): HTMLElement =>
    h('div', null, h('dt', null, label), h('dd', { 'data-testid': `${id}-${integration.name}` }, value))
  return h('section', { class: 'card integration', 'aria-labelledby': `int-${integration.name}` },
    h('div', { class: 'card-head' },
      h('h3', { id: `int-${integration.name}` }, integration.name),
      h('div', { class: 'card-badges' },
        badge(`${t('dash.breaker')}: ${tMaybe(`breaker.${integration.breaker}`) ?? integration.breaker}`, BREAKER[integration.breaker] ?? 'muted',
          { 'data-testid': `breaker-${integration.name}`, 'data-state': integration.breaker }),
        healthBadge(integration))),
    integration.description === '' ? null : h('p', { class: 'muted small' }, integration.description),
    h('dl', { class: 'mini-stats' },
      item(t('dash.requests'), formatNumber(totals.requests), 'requests'),
      item(t('dash.serverErrors'), formatNumber(totals.errors), 'errors'),
      item(t('dash.errorRate'), formatPercent(totals.errorRate), 'rate'),
      item(t('dash.clientErrors'), formatNumber(classes.clientErrors), '4xx'),
      item(t('dash.unauthorized'), formatNumber(classes.unauthorized), '401'),
      item(t('dash.forbidden'), formatNumber(classes.forbidden), '403'),
      item(t('dash.rateLimited'), formatNumber(classes.rateLimited), '429'),
      item(t('dash.latency'), latencyText(integration.latency), 'latency')),
    targetList(integration),
    chartBox(integration.points, { name: integration.name }),
    h('ul', { class: 'legend', 'aria-hidden': 'true' },
      h('li', null, h('span', { class: 'swatch swatch-requests' }), t('chart.requests')),
      h('li', null, h('span', { class: 'swatch swatch-errors' }), t('chart.errorRate'))),
    h('p', { class: 'muted small' }, t('chart.hint')))
}

function renderDashboard (data: Dashboard, ctx: PageContext): HTMLElement {
  const topClients = dataTable(t('dash.topClients'), [
    {
      label: t('clients.col.name'),
      cell: (c) => ctx.can('clients:read') ? h('a', { href: `/admin/clients/${encodeURIComponent(c.id)}` }, c.name) : c.name
    },
    { label: t('dash.requests'), cell: (c) => formatNumber(c.requests), class: 'num' },
    { label: t('dash.clientErrors'), cell: (c) => formatNumber(c.classes?.clientErrors ?? 0), class: 'num' },
    { label: t('dash.rateLimited'), cell: (c) => formatNumber(c.classes?.rateLimited ?? 0), class: 'num' },
    { label: t('dash.serverErrors'), cell: (c) => formatNumber(c.classes?.serverErrors ?? 0), class: 'num' },
    { label: t('dash.latency'), cell: (c) => c.latency === undefined ? t('common.none') : latencyText(c.latency), class: 'num' }
  ], data.topClients, () => ({ 'data-testid': 'top-client-row' }))
  return h('div', { class: 'dashboard' },
    h('div', { class: 'stats' },
      stat(t('dash.totalRequests'), formatNumber(data.totals.requests), 'total-requests'),
      stat(t('dash.serverErrors'), formatNumber(data.totals.errors), 'total-errors'),
      stat(t('dash.errorRate'), formatPercent(ratio(data.totals.errors, data.totals.requests)), 'total-error-rate'),
      stat(t('dash.clientErrors'), formatNumber(data.classes?.clientErrors ?? 0), 'total-4xx'),
      stat(t('dash.unauthorized'), formatNumber(data.classes?.unauthorized ?? 0), 'total-401'),
      stat(t('dash.forbidden'), formatNumber(data.classes?.forbidden ?? 0), 'total-403'),
      stat(t('dash.rateLimited'), formatNumber(data.classes?.rateLimited ?? 0), 'total-429')),
    h('p', { class: 'muted small' }, t('dash.classesHint')),
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
  const asked = new URLSearchParams(location.search).get('range')
  let range: Range = asked === '24h' || asked === '7d' ? asked : '1h'
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
      history.replaceState(null, '', value === '1h' ? '/admin' : `/admin?range=${value}`)
      refresh()
    }
  }, label)
  const group = h('div', { class: 'segmented', role: 'group', 'aria-label': t('dash.range') },
    rangeButton('1h', t('dash.range.1h')), rangeButton('24h', t('dash.range.24h')), rangeButton('7d', t('dash.range.7d')))
  // The CSV comes through the API (it needs the CSRF header), then leaves as a file.
  const exportCsv = h('button', {
    type: 'button',
    class: 'btn',
    'data-testid': 'export-csv',
    onclick: () => {
      api.get<string>(`/dashboard.csv?range=${range}`, { text: true }).then((text) => {
        const url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }))
        const link = h('a', { href: url, download: `gerbang-traffic-${range}.csv`, hidden: true })
        document.body.append(link)
        link.click()
        link.remove()
        setTimeout(() => URL.revokeObjectURL(url), 10_000)
        toast(t('dash.exported'))
      }, (err: unknown) => { toast(messageOf(err), 'error') })
    }
  }, t('dash.export'))

  await load()
  if (signal.aborted) return
  mount(ctx.root, pageHeader(t('dash.title'), group, exportCsv), status, problem, body)
  const timer = setInterval(refresh, REFRESH_MS)
  signal.addEventListener('abort', () => clearInterval(timer), { once: true })
}
