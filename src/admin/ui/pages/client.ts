// /admin/clients/<id>: one client. Its ID and key hint, its settings (edit
// integrations, limit, quota, expiry, description, allowed IPs), its traffic
// over 24 h by status class and latency, its audit history; rotate with a
// grace, revoke, and delete once revoked.
import { api, messageOf } from '../api.js'
import { h, mount } from '../dom.js'
import { endOfJakartaDay, formatMs, formatNumber, jakartaToday, t, tMaybe } from '../i18n.js'
import type { AuditEntry, Client, ClientTraffic, Integration, PageContext, StatusClasses } from '../types.js'
import {
  button, confirmDialog, dataTable, errorBox, field, formValue, setFieldError, timeEl, toast, validateForm
} from '../widgets.js'
import { DESCRIPTION_MAX, deleteClient, integrationsCell, nameCell, openRotate, statusCell } from './clients.js'
import { auditActionLabel, auditDetails } from './audit.js'

const RATE_PATTERN = '[0-9]+/[0-9]+(ms|s|m|h|d)'

/** The Jakarta date (YYYY-MM-DD) of an ISO instant, for a date input. */
function jakartaDate (iso: string | undefined): string {
  if (iso === undefined) return ''
  return new Date(Date.parse(iso) + 7 * 3600_000).toISOString().slice(0, 10)
}

/** Status-class tiles: 2xx, 4xx (401, 403, 429 apart), 5xx, latency. */
export function classTiles (
  classes: StatusClasses, latency: { p50: number | null, p95: number | null }, testPrefix: string
): HTMLElement {
  const tile = (label: string, value: string, id: string, kind = ''): HTMLElement =>
    h('div', { class: `stat ${kind}` }, h('p', { class: 'stat-label' }, label), h('p', { class: 'stat-value', 'data-testid': `${testPrefix}-${id}` }, value))
  const ms = (v: number | null): string => v === null ? t('common.none') : formatMs(v)
  return h('div', { class: 'stats' },
    tile(t('dash.ok'), formatNumber(classes.ok), 'ok', 'stat-ok'),
    tile(t('dash.clientErrors'), formatNumber(classes.clientErrors), '4xx', 'stat-warn'),
    tile(t('dash.unauthorized'), formatNumber(classes.unauthorized), '401', 'stat-warn'),
    tile(t('dash.forbidden'), formatNumber(classes.forbidden), '403', 'stat-warn'),
    tile(t('dash.rateLimited'), formatNumber(classes.rateLimited), '429', 'stat-warn'),
    tile(t('dash.serverErrors'), formatNumber(classes.serverErrors), '5xx', 'stat-bad'),
    tile(t('dash.latency'), t('dash.latencyValue', { p50: ms(latency.p50), p95: ms(latency.p95) }), 'latency'))
}

export async function clientPage (ctx: PageContext, id: string): Promise<void> {
  const { signal } = ctx
  const path = `/clients/${encodeURIComponent(id)}`
  const canWrite = ctx.can('clients:write')
  const [client, integrations, traffic, history] = await Promise.all([
    api.get<Client>(path, { signal }),
    canWrite ? api.get<{ items: Integration[] }>('/integrations', { signal }).then((r) => r.items, () => []) : Promise.resolve([] as Integration[]),
    api.get<ClientTraffic>(`${path}/traffic`, { signal }).then((r): ClientTraffic | { error: unknown } => r, (err: unknown) => ({ error: err })),
    ctx.can('audit:read') ? api.get<{ items: AuditEntry[] }>(`${path}/audit`, { signal }).then((r) => r.items, (err: unknown) => err) : Promise.resolve(undefined)
  ])
  if (signal.aborted) return
  let current = client
  const summary = h('div', { class: 'card client-summary' })
  const actions = h('div', { class: 'page-actions' })

  const drawSummary = (): void => {
    mount(summary,
      h('dl', { class: 'facts' },
        h('div', null, h('dt', null, t('clients.col.name')), h('dd', null, nameCell(current))),
        h('div', null, h('dt', null, t('clients.col.status')), h('dd', null, statusCell(current))),
        h('div', null, h('dt', null, t('clients.col.integrations')), h('dd', null, integrationsCell(current))),
        h('div', null, h('dt', null, t('common.description')), h('dd', null, current.description === undefined || current.description === '' ? t('common.none') : current.description)),
        h('div', null, h('dt', null, t('client.field.allowedIps')), h('dd', null, (current.allowedIps ?? []).length === 0 ? t('common.none') : (current.allowedIps ?? []).map((ip) => h('span', { class: 'tag' }, ip)))),
        h('div', null, h('dt', null, t('clients.col.lastUsed')), h('dd', null, timeEl(current.lastUsedAt))),
        h('div', null, h('dt', null, t('common.created')), h('dd', null, timeEl(current.createdAt)))))
    actions.replaceChildren()
    if (!canWrite) return
    if (current.status === 'revoked') {
      actions.append(button(t('client.delete'), async () => {
        if (await deleteClient(current)) ctx.navigate('/admin/clients')
      }, { class: 'btn btn-danger', 'data-testid': 'client-delete' }))
      return
    }
    actions.append(
      button(current.legacy === undefined ? t('clients.rotate') : t('clients.rotateLegacy'), () => {
        openRotate(current, (rotated) => { current = rotated.client; drawSummary() })
      }, { class: 'btn', 'data-testid': 'client-rotate' }),
      button(t('clients.revoke'), async () => {
        if (!await confirmDialog(t('clients.confirmRevoke', { name: current.name }), t('clients.revoke'), true)) return
        try {
          current = (await api.post<{ client: Client }>(`${path}/revoke`)).client
          toast(t('clients.revoked', { name: current.name }))
          drawSummary()
          mount(editSlot, h('p', { class: 'alert alert-warn' }, t('client.revokedNote')))
        } catch (err) {
          toast(messageOf(err), 'error')
        }
      }, { class: 'btn btn-danger', 'data-testid': 'client-revoke' }))
  }

  const editSlot = h('div')
  if (current.status === 'revoked') mount(editSlot, h('p', { class: 'alert alert-warn' }, t('client.revokedNote')))
  else if (canWrite) mount(editSlot, editForm())

  function editForm (): HTMLElement {
    const chosen = current.integrations
    const all = h('input', { type: 'checkbox', name: 'all', value: '*', checked: chosen === '*', 'data-testid': 'integration-all' })
    const boxes = integrations.map((i) => h('input', {
      type: 'checkbox', name: 'integrations', value: i.name, checked: chosen !== '*' && chosen.includes(i.name), disabled: chosen === '*'
    }))
    all.addEventListener('change', () => { for (const b of boxes) b.disabled = all.checked })
    const description = h('textarea', { name: 'description', maxlength: DESCRIPTION_MAX, rows: 2, value: current.description ?? '' })
    const rateLimit = h('input', { type: 'text', name: 'rateLimit', placeholder: '100/1m', pattern: RATE_PATTERN, value: current.rateLimit ?? '', autocomplete: 'off', 'data-pattern-message': t('clients.err.rateLimit') })
    const quota = h('input', { type: 'text', name: 'quota', placeholder: '10000/1d', pattern: RATE_PATTERN, value: current.quota ?? '', autocomplete: 'off', 'data-pattern-message': t('clients.err.rateLimit') })
    const expiresAt = h('input', { type: 'date', name: 'expiresAt', min: jakartaToday(), value: jakartaDate(current.expiresAt) })
    const allowedIps = h('textarea', { name: 'allowedIps', rows: 3, value: (current.allowedIps ?? []).join('\n'), spellcheck: 'false' })
    const top = h('div', { class: 'form-error' })
    const save = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'client-save' }, t('common.save'))
    const form = h('form', { class: 'form card', novalidate: true, 'data-testid': 'client-edit' },
      top,
      h('fieldset', { class: 'checks' },
        h('legend', null, t('clients.field.integrations')),
        h('label', { class: 'check check-all' }, all, t('clients.field.all')),
        boxes.map((box, i) => h('label', { class: 'check' }, box, h('span', null, integrations[i]?.name ?? '',
          integrations[i]?.description ? h('span', { class: 'muted small' }, ` — ${integrations[i]?.description ?? ''}`) : null)))),
      h('div', { class: 'form-grid' },
        field(t('clients.field.rateLimit'), rateLimit, t('clients.field.rateLimitHint')),
        field(t('client.field.quota'), quota, t('client.field.quotaHint')),
        field(t('clients.field.expiresAt'), expiresAt, t('clients.field.expiresAtHint'))),
      field(t('common.description'), description),
      field(t('client.field.allowedIps'), allowedIps, t('client.field.allowedIpsHint')),
      h('div', { class: 'dialog-actions' }, save))
    form.addEventListener('submit', (event) => {
      event.preventDefault()
      const ips = formValue(form, 'allowedIps').split(/[\s,]+/).filter((x) => x !== '')
      const badIp = ips.find((ip) => !/^[0-9a-fA-F.:]+(\/[0-9]{1,3})?$/.test(ip))
      if (badIp === undefined) delete allowedIps.dataset.customError
      else allowedIps.dataset.customError = t('valid.ips')
      allowedIps.dataset.check = ''
      const picked = boxes.filter((b) => b.checked).map((b) => b.value)
      if (!validateForm(form, top)) return
      if (!all.checked && picked.length === 0 && integrations.length > 0) {
        mount(top, h('div', { class: 'alert alert-error', role: 'alert' }, t('clients.err.integrations')))
        return
      }
      const expiry = formValue(form, 'expiresAt')
      save.disabled = true
      api.patch<{ client: Client }>(path, {
        description: formValue(form, 'description'),
        ...(integrations.length > 0 ? { integrations: all.checked ? '*' : picked } : {}),
        rateLimit: formValue(form, 'rateLimit') === '' ? null : formValue(form, 'rateLimit'),
        quota: formValue(form, 'quota') === '' ? null : formValue(form, 'quota'),
        expiresAt: expiry === '' ? null : endOfJakartaDay(expiry) ?? null,
        allowedIps: ips.length === 0 ? null : ips
      }).then((res) => {
        current = res.client
        drawSummary()
        toast(t('client.saved', { name: current.name }))
      }, (err: unknown) => {
        mount(top, errorBox(err))
        setFieldError(rateLimit, '')
      }).finally(() => { save.disabled = false })
    })
    return h('section', { 'aria-labelledby': 'client-edit-title' }, h('h2', { id: 'client-edit-title' }, t('client.edit')), form)
  }

  const trafficSection = h('section', { 'aria-labelledby': 'client-traffic-title' },
    h('h2', { id: 'client-traffic-title' }, t('client.traffic')),
    'error' in traffic
      ? errorBox(traffic.error)
      : h('div', { 'data-testid': 'client-traffic' },
        h('p', { class: 'muted small' }, `${t('dash.requests')}: ${formatNumber(traffic.requests)}`),
        classTiles(traffic.classes, traffic.latency, 'client')))

  let historySection: HTMLElement | null = null
  if (history !== undefined) {
    historySection = h('section', { 'aria-labelledby': 'client-history-title' },
      h('h2', { id: 'client-history-title' }, t('client.history')),
      history instanceof Error || !Array.isArray(history)
        ? errorBox(history)
        : history.length === 0
          ? h('p', { class: 'muted' }, t('audit.noHistory'))
          : dataTable<AuditEntry>(t('client.history'), [
            { label: t('audit.at'), cell: (e) => timeEl(e.at), class: 'nowrap' },
            { label: t('audit.actor'), cell: (e) => e.actor },
            { label: t('audit.action'), cell: (e) => h('span', { title: e.action }, auditActionLabel(e.action)) },
            { label: t('audit.details'), cell: auditDetails }
          ], history, () => ({ 'data-testid': 'history-row' })).wrap)
  }

  drawSummary()
  document.title = `${current.name} · ${tMaybe('nav.clients') ?? ''} · Gerbang`
  mount(ctx.root,
    h('p', null, h('a', { href: '/admin/clients', class: 'small' }, t('client.back'))),
    h('div', { class: 'page-header' }, h('h1', { tabindex: -1, 'data-testid': 'client-title' }, current.name), actions),
    summary,
    editSlot,
    trafficSection,
    historySection)
}

/** For the router: a page that fails to load says why, in the UI's language. */
export function isClientPath (path: string): string | undefined {
  const match = /^\/admin\/clients\/([^/]+)$/.exec(path)
  return match === null ? undefined : decodeURIComponent(match[1] ?? '')
}
