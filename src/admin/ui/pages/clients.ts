// /admin/clients: search, list with offset paging, create / rotate / revoke.
// A new key is shown once, in a dialog.
import { api, ApiError, isAbort, messageOf, query } from '../api.js'
import { h, mount } from '../dom.js'
import { endOfJakartaDay, formatDateTime, formatNumber, jakartaToday, t } from '../i18n.js'
import type { Client, ClientList, ClientStatus, ClientWithKey, Integration, PageContext } from '../types.js'
import {
  badge, button, confirmDialog, dataTable, errorBox, field, formDialog, formValue, idAndHint, loadMoreButton,
  pageHeader,
  setFieldError, showKeyDialog, timeEl, toast, type BadgeKind, type Column
} from '../widgets.js'

const PAGE_SIZE = 50
const DEBOUNCE_MS = 250
const RATE_RE = /^[0-9]+\/[0-9]+(ms|s|m|h|d)$/
const STATUS: Record<ClientStatus, BadgeKind> = { active: 'ok', revoked: 'bad', expired: 'warn' }

export function statusCell (c: Client): HTMLElement {
  return h('div', null,
    badge(t(`clients.status.${c.status}`), STATUS[c.status] ?? 'muted', { 'data-status': c.status }),
    c.expiresAt === undefined || c.status === 'revoked'
      ? null
      : h('p', { class: 'small muted' }, t('clients.expires', { time: formatDateTime(c.expiresAt) })))
}

const GRACES = ['0', '1h', '24h', '7d'] as const
const LEGACY_GRACES = ['0', '1h', '24h', '7d', '30d'] as const
/** The server's limits (src/admin/api/schemas.ts NewClientBody), so the form never accepts more. */
export const NAME_MAX = 100
export const DESCRIPTION_MAX = 500

/** The name, and for a client imported from the old API manager its mark and where its rotation stands. */
export function nameCell (c: Client): HTMLElement {
  const mark = c.legacy
  const name = h('a', { class: 'cell-main', href: `/admin/clients/${encodeURIComponent(c.id)}`, 'data-testid': 'client-link' }, c.name)
  if (mark === undefined) return h('div', null, name, idAndHint(c))
  const inGrace = mark.oldKeyUntil !== undefined && Date.parse(mark.oldKeyUntil) > Date.now()
  return h('div', null,
    name, ' ',
    badge(t('clients.legacy'), 'warn', { 'data-testid': 'legacy-mark', title: t('clients.legacyTitle', { id: mark.id }) }),
    mark.rotatedAt === undefined
      ? null
      : h('p', { class: 'small muted', 'data-testid': 'legacy-rotation' },
        inGrace ? t('clients.legacyUntil', { time: formatDateTime(mark.oldKeyUntil as string) }) : t('clients.legacyRotated')),
    idAndHint(c))
}

/**
 * Rotate with a grace the operator picks (now / 1 h / 24 h / 7 d; 30 d too
 * for a client of the old API manager); the new key is shown once.
 */
export function openRotate (c: Client, done: (rotated: ClientWithKey) => void): void {
  const choices = c.legacy === undefined ? GRACES : LEGACY_GRACES
  const grace = h('select', { name: 'grace', 'data-testid': 'rotate-grace' },
    choices.map((g) => h('option', { value: g, selected: g === '1h' }, t(g === '0' ? 'clients.grace.now' : `clients.grace.${g}`))))
  let rotated: ClientWithKey | undefined
  formDialog(c.legacy === undefined ? t('clients.rotateTitle', { name: c.name }) : t('clients.rotateLegacyTitle', { name: c.name }), [
    h('p', { class: 'small' }, t('clients.rotateIntro')),
    field(t('clients.field.grace'), grace, t('clients.field.graceHint'))
  ], async (form) => {
    const chosen = formValue(form, 'grace')
    rotated = await api.post<ClientWithKey>(`/clients/${encodeURIComponent(c.id)}/rotate`, chosen === '0' ? {} : { grace: chosen })
  }, { 'data-testid': 'rotate-form' }, () => {
    if (rotated === undefined) return
    done(rotated)
    showKeyDialog(rotated.client, rotated.key)
  })
}

/** Deletes a revoked client after confirmation; true when it is gone. */
export async function deleteClient (c: Client): Promise<boolean> {
  if (!await confirmDialog(t('client.confirmDelete', { name: c.name }), t('clients.delete'), true)) return false
  try {
    await api.del(`/clients/${encodeURIComponent(c.id)}`)
    toast(t('client.deleted', { name: c.name }))
    return true
  } catch (err) {
    toast(messageOf(err), 'error')
    return false
  }
}

export function integrationsCell (c: Client): HTMLElement {
  const limits = [
    c.rateLimit === undefined ? null : t('clients.rate', { rate: c.rateLimit }),
    c.quota === undefined ? null : t('clients.quota', { quota: c.quota })
  ].filter((x) => x !== null).join(' · ')
  return h('div', null,
    c.integrations === '*' ? h('span', { class: 'tag tag-all' }, t('common.all')) : c.integrations.map((name) => h('span', { class: 'tag' }, name)),
    limits === '' ? null : h('p', { class: 'small muted' }, limits))
}

export async function clientsPage (ctx: PageContext): Promise<void> {
  const { signal } = ctx
  const canWrite = ctx.can('clients:write')
  let search = new URLSearchParams(location.search).get('search') ?? ''
  let offset = 0
  let shown = 0
  let generation = 0

  const summary = h('p', { class: 'muted small', role: 'status', 'data-testid': 'client-summary' })
  const listSlot = h('div')
  const more = loadMoreButton(async () => { await loadPage(false) })
  more.hidden = true

  const columns: Array<Column<Client>> = [
    { label: t('clients.col.name'), cell: nameCell },
    { label: t('common.description'), cell: (c) => c.description ?? '' },
    { label: t('clients.col.status'), cell: statusCell },
    { label: t('clients.col.integrations'), cell: integrationsCell },
    { label: t('clients.col.requestsToday'), cell: (c) => formatNumber(c.requestsToday ?? 0), class: 'num' },
    { label: t('clients.col.lastUsed'), cell: (c) => timeEl(c.lastUsedAt) },
    { label: t('common.created'), cell: (c) => timeEl(c.createdAt) }
  ]
  if (canWrite) columns.push({ label: t('common.actions'), cell: actionsCell, class: 'actions' })
  let table = dataTable<Client>(t('clients.title'), columns, [], () => ({}))

  function replaceRow (from: Element, client: Client): void {
    from.closest('tr')?.replaceWith(table.renderRow(client))
  }

  function actionsCell (c: Client): HTMLElement | null {
    if (c.status === 'revoked') {
      const del = button(t('clients.delete'), async () => {
        if (await deleteClient(c)) del.closest('tr')?.remove()
      }, { class: 'btn btn-small btn-danger', 'data-testid': 'client-delete' })
      return h('div', { class: 'row-actions' }, del)
    }
    return h('div', { class: 'row-actions' }, rotateButton(c), revokeButton(c))
  }

  function rotateButton (c: Client): HTMLButtonElement {
    const rotate = button(c.legacy === undefined ? t('clients.rotate') : t('clients.rotateLegacy'),
      () => { openRotate(c, (rotated) => { replaceRow(rotate, rotated.client) }) },
      { class: 'btn btn-small', 'data-testid': 'client-rotate' })
    return rotate
  }

  function revokeButton (c: Client): HTMLButtonElement {
    const revoke = button(t('clients.revoke'), async () => {
      if (!await confirmDialog(t('clients.confirmRevoke', { name: c.name }), t('clients.revoke'), true)) return
      try {
        const res = await api.post<{ client: Client }>(`/clients/${encodeURIComponent(c.id)}/revoke`)
        replaceRow(revoke, res.client)
        toast(t('clients.revoked', { name: res.client.name }))
      } catch (err) {
        toast(messageOf(err), 'error')
      }
    }, { class: 'btn btn-small btn-danger', 'data-testid': 'client-revoke' })
    return revoke
  }

  async function loadPage (reset: boolean): Promise<void> {
    if (reset) generation += 1
    const mine = generation
    const data = await api.get<ClientList>(`/clients${query({ search, offset: reset ? 0 : offset, limit: PAGE_SIZE })}`, { signal })
    if (mine !== generation || signal.aborted) return
    if (reset) {
      table = dataTable<Client>(t('clients.title'), columns, [], () => ({ 'data-testid': 'client-row' }))
      mount(listSlot, table.wrap)
      offset = 0
      shown = 0
    }
    table.addRows(data.items)
    offset += data.items.length
    shown += data.items.length
    summary.textContent = t('clients.total', { shown, total: data.total })
    more.hidden = !data.hasMore
  }

  const reload = (): void => {
    loadPage(true).catch((err: unknown) => {
      if (!isAbort(err) && !signal.aborted) mount(listSlot, errorBox(err, reload))
    })
  }

  let debounce: ReturnType<typeof setTimeout> | undefined
  const searchInput = h('input', {
    type: 'search',
    class: 'search',
    value: search,
    placeholder: t('clients.searchPlaceholder'),
    'aria-label': t('clients.search'),
    'data-testid': 'client-search',
    oninput: () => {
      clearTimeout(debounce)
      debounce = setTimeout(() => {
        search = searchInput.value.trim()
        history.replaceState(null, '', `/admin/clients${query({ search })}`)
        reload()
      }, DEBOUNCE_MS)
    }
  })
  signal.addEventListener('abort', () => clearTimeout(debounce), { once: true })

  async function openAdd (): Promise<void> {
    let integrations: Integration[] = []
    let loadError: unknown
    try {
      integrations = (await api.get<{ items: Integration[] }>('/integrations', { signal })).items
    } catch (err) {
      if (isAbort(err) || signal.aborted) return
      loadError = err
    }
    const all = h('input', { type: 'checkbox', name: 'all', value: '*', 'data-testid': 'integration-all' })
    const boxes = integrations.map((i) => h('input', { type: 'checkbox', name: 'integrations', value: i.name }))
    all.addEventListener('change', () => { for (const b of boxes) b.disabled = all.checked })
    const name = h('input', { type: 'text', name: 'name', required: true, maxlength: NAME_MAX, autocomplete: 'off' })
    const description = h('input', { type: 'text', name: 'description', maxlength: DESCRIPTION_MAX, autocomplete: 'off' })
    const rateLimit = h('input', {
      type: 'text', name: 'rateLimit', placeholder: '100/1m', pattern: '[0-9]+/[0-9]+(ms|s|m|h|d)', autocomplete: 'off', 'data-pattern-message': t('clients.err.rateLimit')
    })
    const expiresAt = h('input', { type: 'date', name: 'expiresAt', min: jakartaToday() })
    let created: ClientWithKey | undefined

    formDialog(t('clients.addTitle'), [
      field(t('clients.field.name'), name, t('clients.field.nameHint')),
      field(t('common.description'), description),
      h('fieldset', { class: 'checks' },
        h('legend', null, t('clients.field.integrations')),
        h('label', { class: 'check check-all' }, all, t('clients.field.all')),
        boxes.map((box, i) => h('label', { class: 'check' }, box, h('span', null, integrations[i]?.name ?? '',
          integrations[i]?.description ? h('span', { class: 'muted small' }, ` — ${integrations[i]?.description ?? ''}`) : null))),
        loadError === undefined ? null : h('p', { class: 'alert alert-error small', role: 'alert' }, t('clients.noIntegrations', { detail: messageOf(loadError) }))),
      field(t('clients.field.rateLimit'), rateLimit, t('clients.field.rateLimitHint')),
      field(t('clients.field.expiresAt'), expiresAt, t('clients.field.expiresAtHint'))
    ], async (form) => {
      const chosen = boxes.filter((b) => b.checked).map((b) => b.value)
      if (!all.checked && chosen.length === 0) throw new Error(t('clients.err.integrations'))
      const rate = formValue(form, 'rateLimit')
      if (rate !== '' && !RATE_RE.test(rate)) throw new Error(t('clients.err.rateLimit'))
      const expiry = formValue(form, 'expiresAt')
      const desc = formValue(form, 'description')
      try {
        created = await api.post<ClientWithKey>('/clients', {
          name: formValue(form, 'name'),
          ...(desc === '' ? {} : { description: desc }),
          integrations: all.checked ? '*' : chosen,
          ...(rate === '' ? {} : { rateLimit: rate }),
          ...(expiry === '' ? {} : { expiresAt: endOfJakartaDay(expiry) })
        })
      } catch (err) {
        // A taken name is the Client field's problem: said there, in the UI's language.
        if (err instanceof ApiError && err.code === 'CONFLICT') {
          setFieldError(name, t('clients.err.nameTaken'))
          throw new Error(t('clients.err.nameTaken'))
        }
        throw err
      }
    }, { 'data-testid': 'client-form' }, () => {
      if (created === undefined || signal.aborted) return
      showKeyDialog(created.client, created.key)
      reload()
    })
  }

  await loadPage(true)
  if (signal.aborted) return
  const add = canWrite ? button(t('common.add'), openAdd, { class: 'btn btn-primary', 'data-testid': 'client-add' }) : null
  mount(ctx.root,
    pageHeader(t('clients.title'), add),
    h('div', { class: 'toolbar' }, searchInput, summary),
    listSlot,
    h('div', { class: 'more' }, more))
}
