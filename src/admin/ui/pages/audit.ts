// /admin/audit: who did what, newest first, paged by offset.
import { api, query } from '../api.js'
import { h, mount } from '../dom.js'
import { t } from '../i18n.js'
import type { AuditEntry, Page, PageContext } from '../types.js'
import { dataTable, loadMoreButton, pageHeader, timeEl, type Column } from '../widgets.js'

const PAGE_SIZE = 50

function detailValue (value: unknown): string {
  if (Array.isArray(value)) return value.map(String).join(', ')
  if (typeof value === 'object' && value !== null) return JSON.stringify(value)
  return String(value)
}

function details (entry: AuditEntry): HTMLElement | null {
  const pairs = Object.entries(entry.details ?? {})
  if (pairs.length === 0) return null
  return h('dl', { class: 'details' }, pairs.map(([key, value]) => h('div', null, h('dt', null, key), h('dd', null, detailValue(value)))))
}

export async function auditPage (ctx: PageContext): Promise<void> {
  const { signal } = ctx
  let offset = 0
  const columns: Array<Column<AuditEntry>> = [
    { label: t('audit.at'), cell: (e) => timeEl(e.at), class: 'nowrap' },
    { label: t('audit.actor'), cell: (e) => e.actor },
    { label: t('audit.action'), cell: (e) => h('code', null, e.action) },
    {
      label: t('audit.target'),
      cell: (e) => h('div', null, h('span', { class: 'tag' }, e.targetType), ' ',
        h('span', { title: e.targetId }, e.targetName === '' ? e.targetId : e.targetName))
    },
    { label: t('audit.details'), cell: details }
  ]
  const table = dataTable(t('audit.title'), columns, [], () => ({ 'data-testid': 'audit-row' }))
  const summary = h('p', { class: 'muted small', role: 'status' })
  const more = loadMoreButton(async () => { await load() })

  async function load (): Promise<void> {
    const data = await api.get<Page<AuditEntry>>(`/audit${query({ offset, limit: PAGE_SIZE })}`, { signal })
    if (signal.aborted) return
    table.addRows(data.items)
    offset += data.items.length
    summary.textContent = t('common.shown', { shown: offset })
    more.hidden = !data.hasMore
  }

  await load()
  if (signal.aborted) return
  mount(ctx.root, pageHeader(t('audit.title')), summary, table.wrap, h('div', { class: 'more' }, more))
}
