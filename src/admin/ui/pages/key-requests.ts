// /admin/clients/requests: the queue of self-service key requests from /doc
// (issue 18, item 6). Filter by status; approve with limits (the client is
// created and a one-time link shown once), decline with a reason, or make
// a new link for an approved request whose link was lost or expired.
import { api, ApiError, isAbort, messageOf, query } from '../api.js'
import { h, mount } from '../dom.js'
import { endOfJakartaDay, formatDateTime, jakartaToday, t } from '../i18n.js'
import type { Client, Integration, PageContext } from '../types.js'
import {
  badge, button, confirmDialog, copyButton, dataTable, errorBox, field, formDialog, formValue, loadMoreButton, modal,
  pageHeader, setFieldError, timeEl, toast, type BadgeKind, type Column
} from '../widgets.js'
import { DESCRIPTION_MAX, NAME_MAX } from './clients.js'

export const KEY_REQUESTS_PATH = '/admin/clients/requests'
const STATUSES = ['pending', 'approved', 'declined', 'issued', 'expired'] as const
type Status = typeof STATUSES[number]
const KIND: Record<Status, BadgeKind> = { pending: 'info', approved: 'ok', declined: 'bad', issued: 'muted', expired: 'warn' }
const PAGE_SIZE = 50
const RATE_PATTERN = '[0-9]+/[0-9]+(ms|s|m|h|d)'

interface KeyRequest {
  id: string
  agency: string
  app: string
  email: string
  integrations: string[]
  purpose: string
  address: string
  createdAt: string
  status: Status
  decidedBy?: string
  decidedAt?: string
  reason?: string
  clientId?: string
  linkExpiresAt?: string
  issuedAt?: string
  issuedTo?: string
}
interface Link { url: string, expiresAt: string }
interface KeyRequestPage { items: KeyRequest[], hasMore: boolean, counts: Record<Status, number> }

const statusOf = (value: string | null): Status | undefined => STATUSES.find((s) => s === value)

/** The one-time link, shown this once, with a copy button and a ready e-mail. */
function showLink (r: KeyRequest, link: Link): void {
  const url = new URL(link.url, location.origin).href
  const code = h('code', { class: 'secret', 'data-testid': 'kr-link' }, url)
  const mail = `mailto:${encodeURIComponent(r.email)}?subject=${encodeURIComponent(t('kr.mailSubject', { app: r.app }))}` +
    `&body=${encodeURIComponent(`${t('kr.mailBody', { app: r.app })}\n\n${url}\n`)}`
  const m = modal(t('kr.linkTitle'), [
    h('p', null, t('kr.linkFor', { email: r.email, agency: r.agency })),
    h('p', { class: 'small strong' }, t('kr.link')),
    h('div', { class: 'secret-row' }, code, copyButton(url, t('kr.link'), { 'data-testid': 'copy-kr-link' }, code)),
    h('p', { class: 'small' }, t('kr.linkExpires', { time: formatDateTime(link.expiresAt) })),
    h('p', { class: 'alert alert-warn', role: 'note' }, t('kr.linkOnce')),
    h('div', { class: 'dialog-actions' },
      h('a', { class: 'btn', href: mail }, t('kr.mail')),
      button(t('kr.done'), () => m.close(), { class: 'btn btn-primary', 'data-testid': 'kr-link-done' }))
  ], { 'data-testid': 'kr-link-dialog' })
}

function requesterCell (r: KeyRequest): HTMLElement {
  return h('div', null,
    h('p', { class: 'cell-main' }, r.agency),
    h('p', null, r.app),
    h('p', { class: 'small' }, h('a', { href: `mailto:${r.email}` }, r.email)),
    h('p', { class: 'small muted' }, t('kr.from', { address: r.address })))
}

function statusCell (r: KeyRequest): HTMLElement {
  const notes: Array<string | null> = [
    r.decidedBy === undefined || r.decidedAt === undefined ? null : t('kr.decidedBy', { who: r.decidedBy, time: formatDateTime(r.decidedAt) }),
    r.reason === undefined ? null : t('kr.reason', { reason: r.reason }),
    r.status === 'approved' && r.linkExpiresAt !== undefined ? t('kr.linkUntil', { time: formatDateTime(r.linkExpiresAt) }) : null,
    r.issuedAt === undefined ? null : t('kr.issuedAt', { time: formatDateTime(r.issuedAt), address: r.issuedTo ?? '' })
  ]
  return h('div', null,
    badge(t(`kr.status.${r.status}`), KIND[r.status], { 'data-status': r.status }),
    notes.filter((n) => n !== null).map((n) => h('p', { class: 'small muted' }, n)),
    r.clientId === undefined ? null : h('p', { class: 'small' }, h('a', { href: `/admin/clients/${encodeURIComponent(r.clientId)}` }, t('kr.openClient'))))
}

export async function keyRequestsPage (ctx: PageContext): Promise<void> {
  const { signal } = ctx
  const canWrite = ctx.can('clients:write')
  const status = statusOf(new URLSearchParams(location.search).get('status'))
  let offset = 0

  const columns: Array<Column<KeyRequest>> = [
    { label: t('kr.col.received'), cell: (r) => timeEl(r.createdAt), class: 'nowrap' },
    { label: t('kr.col.requester'), cell: requesterCell },
    { label: t('kr.col.integrations'), cell: (r) => h('div', null, r.integrations.map((name) => h('span', { class: 'tag' }, name))) },
    { label: t('kr.col.purpose'), cell: (r) => r.purpose },
    { label: t('kr.col.status'), cell: statusCell }
  ]
  if (canWrite) columns.push({ label: t('common.actions'), cell: actionsCell, class: 'actions' })
  const table = dataTable<KeyRequest>(t('kr.title'), columns, [], () => ({ 'data-testid': 'kr-row' }))
  const more = loadMoreButton(async () => { await load() })

  const replace = (from: Element, r: KeyRequest): void => { from.closest('tr')?.replaceWith(table.renderRow(r)) }

  function actionsCell (r: KeyRequest): HTMLElement | null {
    if (r.status === 'pending') {
      const approve = button(t('kr.approve'), async () => { await openApprove(r, approve) }, { class: 'btn btn-small btn-primary', 'data-testid': 'kr-approve' })
      const decline = button(t('kr.decline'), () => { openDecline(r, decline) }, { class: 'btn btn-small btn-danger', 'data-testid': 'kr-decline' })
      return h('div', { class: 'row-actions' }, approve, decline)
    }
    if (r.status === 'approved' || r.status === 'expired') {
      const relink = button(t('kr.relink'), async () => {
        if (!await confirmDialog(t('kr.confirmRelink', { app: r.app }), t('kr.relink'))) return
        try {
          const res = await api.post<{ request: KeyRequest, link: Link }>(`/key-requests/${encodeURIComponent(r.id)}/link`)
          replace(relink, res.request)
          showLink(res.request, res.link)
        } catch (err) {
          toast(messageOf(err), 'error')
        }
      }, { class: 'btn btn-small', 'data-testid': 'kr-relink' })
      return h('div', { class: 'row-actions' }, relink)
    }
    return null
  }

  async function openApprove (r: KeyRequest, from: HTMLElement): Promise<void> {
    let integrations: Integration[] = []
    try {
      integrations = (await api.get<{ items: Integration[] }>('/integrations', { signal })).items
    } catch (err) {
      if (!isAbort(err)) toast(messageOf(err), 'error')
      return
    }
    const asked = new Set(r.integrations)
    const all = h('input', { type: 'checkbox', name: 'all', value: '*', 'data-testid': 'integration-all' })
    const boxes = integrations.map((i) => h('input', { type: 'checkbox', name: 'integrations', value: i.name, checked: asked.has(i.name) }))
    all.addEventListener('change', () => { for (const b of boxes) b.disabled = all.checked })
    const name = h('input', { type: 'text', name: 'name', required: true, maxlength: NAME_MAX, autocomplete: 'off', value: `${r.agency} — ${r.app}`.slice(0, NAME_MAX) })
    const description = h('input', { type: 'text', name: 'description', maxlength: DESCRIPTION_MAX, autocomplete: 'off', value: r.purpose.slice(0, DESCRIPTION_MAX) })
    const rateLimit = h('input', { type: 'text', name: 'rateLimit', placeholder: '100/1m', pattern: RATE_PATTERN, autocomplete: 'off', 'data-pattern-message': t('clients.err.rateLimit') })
    const quota = h('input', { type: 'text', name: 'quota', placeholder: '10000/1d', pattern: RATE_PATTERN, autocomplete: 'off', 'data-pattern-message': t('kr.err.quota') })
    const expiresAt = h('input', { type: 'date', name: 'expiresAt', min: jakartaToday() })
    let approved: { request: KeyRequest, client: Client, link: Link } | undefined
    formDialog(t('kr.approveTitle', { app: r.app }), [
      h('p', { class: 'small' }, t('kr.approveIntro')),
      field(t('kr.field.name'), name, t('clients.field.nameHint')),
      field(t('common.description'), description),
      h('fieldset', { class: 'checks' },
        h('legend', null, t('clients.field.integrations')),
        h('label', { class: 'check check-all' }, all, t('clients.field.all')),
        boxes.map((box, i) => h('label', { class: 'check' }, box, h('span', null, integrations[i]?.name ?? '',
          asked.has(integrations[i]?.name ?? '') ? h('span', { class: 'muted small' }, ` (${t('kr.asked')})`) : null)))),
      field(t('clients.field.rateLimit'), rateLimit, t('clients.field.rateLimitHint')),
      field(t('kr.field.quota'), quota, t('kr.field.quotaHint')),
      field(t('clients.field.expiresAt'), expiresAt, t('clients.field.expiresAtHint'))
    ], async (form) => {
      const chosen = boxes.filter((b) => b.checked).map((b) => b.value)
      if (!all.checked && chosen.length === 0) throw new Error(t('clients.err.integrations'))
      const optional = (key: string): Record<string, string> => formValue(form, key) === '' ? {} : { [key]: formValue(form, key) }
      const expiry = formValue(form, 'expiresAt')
      try {
        approved = await api.post<{ request: KeyRequest, client: Client, link: Link }>(`/key-requests/${encodeURIComponent(r.id)}/approve`, {
          name: formValue(form, 'name'),
          integrations: all.checked ? '*' : chosen,
          ...optional('description'),
          ...optional('rateLimit'),
          ...optional('quota'),
          ...(expiry === '' ? {} : { expiresAt: endOfJakartaDay(expiry) })
        })
      } catch (err) {
        // A taken name is the name field's problem; a request decided meanwhile is said as it is.
        if (err instanceof ApiError && err.code === 'CONFLICT' && /name/.test(err.message)) {
          setFieldError(name, t('clients.err.nameTaken'))
          throw new Error(t('clients.err.nameTaken'))
        }
        throw err
      }
    }, { 'data-testid': 'kr-approve-form' }, () => {
      if (approved === undefined) return
      replace(from, approved.request)
      showLink(approved.request, approved.link)
    })
  }

  function openDecline (r: KeyRequest, from: HTMLElement): void {
    const reason = h('textarea', { name: 'reason', required: true, minlength: 3, maxlength: 500, rows: 3 })
    let declined: KeyRequest | undefined
    formDialog(t('kr.declineTitle', { app: r.app }), [
      field(t('kr.field.reason'), reason, t('kr.field.reasonHint', { email: r.email }))
    ], async (form) => {
      declined = (await api.post<{ request: KeyRequest }>(`/key-requests/${encodeURIComponent(r.id)}/decline`, { reason: formValue(form, 'reason') })).request
    }, { 'data-testid': 'kr-decline-form' }, () => {
      if (declined === undefined) return
      replace(from, declined)
      toast(t('kr.declined', { app: r.app }))
    })
  }

  const summary = h('p', { class: 'muted small', role: 'status' })
  let counts: Record<Status, number> | undefined

  async function load (): Promise<void> {
    const data = await api.get<KeyRequestPage>(`/key-requests${query({ status, offset, limit: PAGE_SIZE })}`, { signal })
    if (signal.aborted) return
    counts = data.counts
    table.addRows(data.items)
    offset += data.items.length
    summary.textContent = t('common.shown', { shown: offset })
    more.hidden = !data.hasMore
  }

  try {
    await load()
  } catch (err) {
    if (signal.aborted || isAbort(err)) return
    mount(ctx.root, pageHeader(t('kr.title')), errorBox(err, () => ctx.navigate(location.pathname + location.search)))
    return
  }
  if (signal.aborted) return
  const total = STATUSES.reduce((n, s) => n + (counts?.[s] ?? 0), 0)
  const filter = h('select', {
    class: 'search',
    'aria-label': t('kr.filter'),
    'data-testid': 'kr-filter',
    onchange: () => { ctx.navigate(`${KEY_REQUESTS_PATH}${query({ status: filter.value })}`) }
  },
  h('option', { value: '', selected: status === undefined }, t('kr.filter.all', { n: total })),
  STATUSES.map((s) => h('option', { value: s, selected: s === status }, t('kr.filter.status', { status: t(`kr.status.${s}`), n: counts?.[s] ?? 0 }))))
  mount(ctx.root,
    pageHeader(t('kr.title')),
    h('p', { class: 'small' }, t('kr.intro')),
    h('div', { class: 'toolbar' }, filter, summary),
    table.wrap,
    h('div', { class: 'more' }, more))
}
