// /admin/routes: read-only view of the loaded routes.yaml.
import { api } from '../api.js'
import { h, mount } from '../dom.js'
import { formatNumber, t } from '../i18n.js'
import type { PageContext, RouteIntegration, RoutesInfo } from '../types.js'
import { badge, dataTable, pageHeader, timeEl, type Column } from '../widgets.js'

function timeout (ms: number): string {
  return ms % 1000 === 0 ? `${formatNumber(ms / 1000)} s` : `${formatNumber(ms)} ms`
}

export async function routesPage (ctx: PageContext): Promise<void> {
  const data = await api.get<RoutesInfo>('/routes', { signal: ctx.signal })
  if (ctx.signal.aborted) return
  const columns: Array<Column<RouteIntegration>> = [
    {
      label: t('common.name'),
      cell: (i) => h('div', null, h('span', { class: 'cell-main' }, i.name), i.description === '' ? null : h('p', { class: 'small muted' }, i.description))
    },
    { label: t('routes.prefix'), cell: (i) => h('code', null, i.prefix) },
    {
      label: t('routes.upstream'),
      cell: (i) => i.targets.length <= 1
        ? h('code', { class: 'break' }, i.upstream)
        : h('ul', { class: 'targets', 'data-testid': 'route-targets' }, i.targets.map((x) => h('li', { 'data-state': x.state },
          h('code', { class: 'break' }, x.url), ` ×${x.weight} `, x.state === 'up' ? null : badge(t('target.down'), 'bad'))))
    },
    { label: t('routes.methods'), cell: (i) => i.methods === null || i.methods.length === 0 ? t('common.all') : i.methods.map((m) => h('span', { class: 'tag' }, m)) },
    { label: t('routes.auth'), cell: (i) => i.auth },
    { label: t('routes.timeout'), cell: (i) => timeout(i.timeoutMs), class: 'num' },
    { label: t('routes.idleTimeout'), cell: (i) => timeout(i.idleTimeoutMs), class: 'num' },
    { label: t('routes.rateLimit'), cell: (i) => i.rateLimit },
    {
      label: t('routes.cors'),
      cell: (i) => i.cors === null
        ? '—'
        : h('div', { 'data-testid': 'route-cors' }, i.cors.origins.map((o) => h('span', { class: 'tag' }, o)),
          i.cors.credentials ? h('p', { class: 'small muted' }, t('routes.corsCredentials')) : null)
    },
    { label: t('routes.websocket'), cell: (i) => i.websocket ? h('span', { class: 'tag', 'data-testid': 'route-websocket' }, t('routes.websocketYes')) : '—' }
  ]
  const reload = data.lastReload
  mount(ctx.root,
    pageHeader(t('routes.title')),
    h('section', { class: 'card', 'data-testid': 'last-reload' },
      h('dl', { class: 'facts' },
        h('div', null, h('dt', null, t('routes.file')), h('dd', null, h('code', { class: 'break' }, data.file === '' ? '—' : data.file))),
        h('div', null, h('dt', null, t('routes.lastReload')), h('dd', null, timeEl(reload.at), ' ',
          reload.ok ? badge(t('routes.ok'), 'ok') : badge(t('routes.failed'), 'bad'))),
        ...(['added', 'removed', 'changed'] as const).map((what) => {
          const names = reload[what] ?? []
          return names.length === 0 ? null : h('div', null, h('dt', null, t(`routes.${what}`)), h('dd', null, names.map((n) => h('span', { class: 'tag' }, n))))
        })),
      reload.problems.length > 0
        ? h('div', { class: 'alert alert-error', role: 'alert' },
          h('p', null, t('routes.problems')),
          h('ul', { class: 'problems' }, reload.problems.map((p) => h('li', null, h('code', null, p)))))
        : null),
    h('h2', null, t('routes.integrations')),
    dataTable(t('routes.integrations'), columns, data.integrations, () => ({ 'data-testid': 'route-row' })).wrap,
    data.yaml === '' ? null : h('h2', null, t('routes.yaml', { file: data.file.split(/[\\/]/).pop() ?? data.file })),
    data.yaml === '' ? null : h('pre', { class: 'yaml', tabindex: 0, 'data-testid': 'routes-yaml' }, data.yaml))
}
