// /admin/audit: who did what, newest first, paged by offset.
import { api, query } from '../api.js'
import { h, mount } from '../dom.js'
import { formatDuration, t, tMaybe } from '../i18n.js'
import type { AuditEntry, Page, PageContext } from '../types.js'
import { dataTable, loadMoreButton, pageHeader, timeEl, type Column } from '../widgets.js'

const PAGE_SIZE = 50

function detailValue (key: string, value: unknown): string {
  if (key === 'graceMs' && typeof value === 'number') return value === 0 ? t('clients.grace.now') : formatDuration(value / 1000)
  if (key === 'seconds' && typeof value === 'number') return formatDuration(value)
  if (key === 'permissions' && Array.isArray(value)) return value.map((p) => tMaybe(`perm.${String(p)}`) ?? String(p)).join(', ')
  if (Array.isArray(value)) return value.map(String).join(', ')
  if (typeof value === 'object' && value !== null) return JSON.stringify(value)
  return String(value)
}

/** A person's words for an audit action (`client.create` → "Membuat klien"); the code itself in the title. */
export function auditActionLabel (action: string): string {
  return tMaybe(`audit.action.${action}`) ?? action
}

export function auditDetails (entry: AuditEntry): HTMLElement | null {
  const pairs = Object.entries(entry.details ?? {})
  if (pairs.length === 0) return null
  return h('dl', { class: 'details' }, pairs.map(([key, value]) =>
    h('div', null, h('dt', null, tMaybe(`audit.detail.${key}`) ?? key), h('dd', null, detailValue(key, value)))))
}

export async function auditPage (ctx: PageContext): Promise<void> {
  const { signal } = ctx
  let offset = 0
  const columns: Array<Column<AuditEntry>> = [
    { label: t('audit.at'), cell: (e) => timeEl(e.at), class: 'nowrap' },
    { label: t('audit.actor'), cell: (e) => e.actor },
    { label: t('audit.action'), cell: (e) => h('span', { title: e.action, 'data-action': e.action }, auditActionLabel(e.action)) },
    {
      label: t('audit.target'),
      cell: (e) => h('div', null, h('span', { class: 'tag' }, tMaybe(`audit.target.${e.targetType}`) ?? e.targetType), ' ',
        h('span', { title: e.targetId }, e.targetName === '' ? e.targetId : e.targetName))
    },
    { label: t('audit.details'), cell: auditDetails }
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
