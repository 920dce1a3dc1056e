// Small shared pieces: page headers, tables, badges, dialogs, messages.
import { ApiError, isAbort, messageOf } from './api.js'
import { h, uid, type Attrs, type Child } from './dom.js'
import { formatDateTime, t } from './i18n.js'

export function pageHeader (title: string, ...actions: Child[]): HTMLElement {
  return h('div', { class: 'page-header' }, h('h1', { tabindex: -1 }, title), h('div', { class: 'page-actions' }, actions))
}

export function button (label: string, onclick: (event: Event) => unknown, attrs: Attrs = {}): HTMLButtonElement {
  return h('button', { type: 'button', class: 'btn', ...attrs, onclick }, label)
}

export type BadgeKind = 'ok' | 'warn' | 'bad' | 'muted' | 'info'

export function badge (text: string, kind: BadgeKind, attrs: Attrs = {}): HTMLElement {
  return h('span', { class: `badge badge-${kind}`, ...attrs }, text)
}

/** `<time>` with Jakarta local time shown and the UTC ISO string in the title. */
export function timeEl (iso: string | undefined | null): Node {
  if (iso === undefined || iso === null || iso === '') return document.createTextNode(t('common.none'))
  const date = new Date(iso)
  const utc = Number.isNaN(date.getTime()) ? iso : date.toISOString()
  return h('time', { datetime: utc, title: utc }, formatDateTime(iso))
}

export interface Column<T> {
  label: string
  cell: (row: T) => Child
  class?: string
}

/** A table in a horizontally scrolling wrapper; rowAttrs adds e.g. data-testid to each row. */
export function dataTable<T> (caption: string, columns: Array<Column<T>>, rows: T[], rowAttrs?: (row: T) => Attrs): {
  wrap: HTMLElement
  body: HTMLTableSectionElement
  addRows: (more: T[]) => void
  renderRow: (row: T) => HTMLTableRowElement
} {
  const body = h('tbody')
  const emptyRow = h('tr', { class: 'empty' }, h('td', { colspan: columns.length }, t('common.empty')))
  const renderRow = (row: T): HTMLTableRowElement =>
    h('tr', rowAttrs?.(row) ?? null, columns.map((c) => h('td', { class: c.class, 'data-label': c.label }, c.cell(row))))
  const addRows = (more: T[]): void => {
    if (more.length > 0) emptyRow.remove()
    for (const row of more) body.appendChild(renderRow(row))
  }
  if (rows.length === 0) body.appendChild(emptyRow)
  addRows(rows)
  const table = h('table', { class: 'table' },
    h('caption', { class: 'sr-only' }, caption),
    h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)))),
    body)
  // Focusable, so a keyboard can scroll a wide table too.
  return { wrap: h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': caption }, table), body, addRows, renderRow }
}

/** A readable, never blank, error message; with a retry button when given one. */
export function errorBox (err: unknown, retry?: () => void): HTMLElement {
  return h('div', { class: 'alert alert-error', role: 'alert' },
    h('p', null, messageOf(err)),
    err instanceof ApiError && err.requestId !== undefined ? h('p', { class: 'small muted' }, t('common.requestId', { id: err.requestId })) : null,
    retry === undefined ? null : button(t('common.retry'), retry))
}

export function loading (): HTMLElement {
  return h('p', { class: 'loading', role: 'status' }, t('common.loading'))
}

let toastRegion: HTMLElement | undefined

/** A short message in a live region that fades after a few seconds. */
export function toast (message: string, kind: 'ok' | 'error' = 'ok'): void {
  if (toastRegion === undefined || !toastRegion.isConnected) {
    toastRegion = h('div', { class: 'toasts', 'aria-live': 'polite', role: 'status' })
    document.body.appendChild(toastRegion)
  }
  const item = h('div', { class: `toast toast-${kind}` }, message)
  toastRegion.appendChild(item)
  setTimeout(() => item.remove(), kind === 'error' ? 8000 : 4000)
}

export interface Modal {
  dialog: HTMLDialogElement
  body: HTMLElement
  close: () => void
}

/** Opens a modal <dialog>; it leaves the document when closed. */
export function modal (title: string, content: Child[], attrs: Attrs = {}): Modal {
  const titleId = uid('dlg')
  const body = h('div', { class: 'dialog-body' }, content)
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId, ...attrs },
    h('h2', { id: titleId }, title), body)
  dialog.addEventListener('close', () => dialog.remove())
  document.body.appendChild(dialog)
  dialog.showModal()
  return { dialog, body, close: () => dialog.close() }
}

/** Closes every open dialog (the page changed). */
export function closeAllDialogs (): void {
  for (const dialog of document.querySelectorAll('dialog')) dialog.close()
}

/** Resolves true when the user confirms. */
export async function confirmDialog (message: string, confirmLabel: string, danger = false): Promise<boolean> {
  return await new Promise((resolve) => {
    let answer = false
    const ok = button(confirmLabel, () => { answer = true; m.close() }, { class: danger ? 'btn btn-danger' : 'btn btn-primary' })
    const m = modal(t('common.confirm'), [
      h('p', null, message),
      h('div', { class: 'dialog-actions' }, button(t('common.cancel'), () => m.close()), ok)
    ], { role: 'alertdialog' })
    m.dialog.addEventListener('close', () => resolve(answer))
    ok.focus()
  })
}

/** A labelled form field: label, control, hint and error (wired with aria-describedby). */
export function field (
  label: string, control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, hint?: string
): HTMLElement {
  control.id ||= uid('f')
  const error = h('p', { class: 'field-error', id: uid('err'), 'data-testid': `error-${control.name}` })
  let hintEl: HTMLElement | null = null
  if (hint !== undefined) hintEl = h('p', { class: 'hint', id: uid('hint') }, hint)
  control.setAttribute('aria-describedby', [hintEl?.id, error.id].filter((x) => x !== undefined).join(' '))
  control.dataset.label = label
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hintEl, error)
}

type Control = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement

/**
 * The UI's own message for a control the browser finds invalid (never the browser's bubble, which speaks its own
 * language).
 */
function problemOf (el: Control): string {
  const v = el.validity
  if (v.valueMissing) return t('valid.required')
  if (v.customError) return el.validationMessage
  if (v.typeMismatch && el.type === 'email') return t('valid.email')
  if ((el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement) && el.maxLength > 0 &&
    el.value.length > el.maxLength) {
    return t('valid.tooLong', { max: el.maxLength })
  }
  if (v.tooShort) return t('valid.tooShort', { min: (el as HTMLInputElement).minLength })
  if (v.patternMismatch) return el.dataset.patternMessage ?? t('valid.pattern')
  if (v.rangeUnderflow || v.rangeOverflow || v.badInput) return t('valid.date')
  if (!v.valid) return t('valid.pattern')
  return ''
}

/** Shows an error at a field (and marks it invalid), or clears it with ''. */
export function setFieldError (el: Control, message: string): void {
  const slot = el.closest('.field')?.querySelector('.field-error')
  if (slot !== null && slot !== undefined) slot.textContent = message
  if (message === '') el.removeAttribute('aria-invalid')
  else el.setAttribute('aria-invalid', 'true')
}

/**
 * Checks a form with the UI's own messages: each problem at its field, and a
 * summary naming the fields in `summary` (at the top of the form). True when valid.
 */
export function validateForm (form: HTMLFormElement, summary: HTMLElement): boolean {
  const wrong: Control[] = []
  for (const el of form.querySelectorAll<Control>('input, select, textarea')) {
    if (!el.willValidate && el.dataset.check === undefined) continue
    const message = el.dataset.customError ?? problemOf(el)
    setFieldError(el, message)
    if (message !== '') wrong.push(el)
  }
  summary.replaceChildren()
  if (wrong.length === 0) return true
  summary.append(h('div', { class: 'alert alert-error', role: 'alert', 'data-testid': 'form-summary' },
    t('valid.summary', { fields: wrong.map((el) => el.dataset.label ?? el.name).join(', ') })))
  wrong[0]?.focus()
  return false
}

/** A small button that copies `text` and says so in `status` (or selects `select` when the clipboard is closed). */
export function copyButton (text: string, what: string, attrs: Attrs = {}, select?: Element): HTMLElement {
  const status = h('span', { class: 'copy-status small', role: 'status' })
  const btn = button(t('copy.copy'), () => {
    const fallback = (): void => {
      if (select !== undefined) {
        const range = document.createRange()
        range.selectNodeContents(select)
        window.getSelection()?.removeAllRanges()
        window.getSelection()?.addRange(range)
      }
      status.textContent = t('copy.fallback')
    }
    if (navigator.clipboard === undefined) {
      fallback()
      return
    }
    navigator.clipboard.writeText(text).then(() => { status.textContent = t('copy.copied') }, fallback)
  }, { class: 'btn btn-small', 'aria-label': t('copy.label', { what }), ...attrs })
  return h('span', { class: 'copy' }, btn, status)
}

/**
 * A form inside a modal whose submit awaits `save`; the dialog closes when it
 * resolves, and shows the error (staying open) when it rejects. `afterSave`
 * runs once the dialog has closed, when a save succeeded.
 */
export function formDialog (
  title: string, fields: Child[], save: (form: HTMLFormElement) => Promise<void>, attrs: Attrs = {},
  afterSave?: () => void
): Modal {
  const submitLabel = t('common.save')
  let saved = false
  const errorSlot = h('div', { class: 'form-error' })
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, submitLabel)
  // novalidate: the UI's own messages, in its language, at the field and at the top.
  const form = h('form', { class: 'form', novalidate: true }, errorSlot, fields,
    h('div', { class: 'dialog-actions' }, button(t('common.cancel'), () => m.close()), submit))
  const m = modal(title, [form], attrs)
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    errorSlot.replaceChildren()
    if (!validateForm(form, errorSlot)) return
    submit.disabled = true
    submit.textContent = t('common.saving')
    save(form).then(() => {
      saved = true
      m.close()
    }, (err: unknown) => {
      errorSlot.replaceChildren(errorBox(err))
    }).finally(() => {
      submit.disabled = false
      submit.textContent = submitLabel
    })
  })
  if (afterSave !== undefined) m.dialog.addEventListener('close', () => { if (saved) afterSave() })
  const first = form.querySelector<HTMLElement>('input, select, textarea')
  first?.focus()
  return m
}

/** The trimmed value of a named control of a form. */
export function formValue (form: HTMLFormElement, name: string): string {
  const el = form.elements.namedItem(name)
  return el instanceof HTMLInputElement || el instanceof HTMLSelectElement || el instanceof HTMLTextAreaElement ? el.value.trim() : ''
}

/** Shows a one-time secret (a new API key) with the client's ID, copy buttons, ready curl examples and the warning. */
export function showKeyDialog (client: { id: string, name: string }, key: string): Modal {
  const code = h('code', { class: 'secret', 'data-testid': 'new-key' }, key)
  const idCode = h('code', { class: 'secret secret-id', 'data-testid': 'new-key-id' }, client.id)
  const status = h('p', { class: 'small', role: 'status' })
  const selectKey = (): void => {
    const range = document.createRange()
    range.selectNodeContents(code)
    const selection = window.getSelection()
    selection?.removeAllRanges()
    selection?.addRange(range)
  }
  const copy = button(t('key.copy'), () => {
    const fallback = (): void => {
      selectKey()
      status.textContent = t('key.copyFallback')
    }
    if (navigator.clipboard === undefined) {
      fallback()
      return
    }
    navigator.clipboard.writeText(key).then(() => { status.textContent = t('key.copied') }, fallback)
  }, { class: 'btn btn-primary', 'data-testid': 'copy-key' })
  const origin = location.origin
  const withKey = `curl -H 'x-api-key: ${key}' ${origin}/<integrasi>/...`
  const withToken = `curl -X POST '${origin}/oauth2/v1/accesstoken?grant_type=client_credentials' \\\n  -d 'client_id=${client.id}' -d 'client_secret=${key}'\n` +
    `curl -H 'Authorization: Bearer <access_token>' ${origin}/<integrasi>/...`
  const snippet = (text: string, testId: string): HTMLElement => {
    const pre = h('pre', { class: 'snippet', 'data-testid': testId, tabindex: 0 }, text)
    return h('div', { class: 'snippet-row' }, pre, copyButton(text, t('key.examples'), { 'data-testid': `copy-${testId}` }, pre))
  }
  const m = modal(t('key.title'), [
    h('p', null, t('key.for', { name: client.name })),
    h('p', { class: 'small strong' }, t('key.id')),
    h('div', { class: 'secret-row' }, idCode, copyButton(client.id, t('client.id'), { 'data-testid': 'copy-id' }, idCode)),
    h('p', { class: 'small strong' }, t('key.key')),
    h('div', { class: 'secret-row' }, code, copy),
    status,
    h('p', { class: 'alert alert-warn', role: 'note' }, t('key.warning')),
    h('details', { class: 'examples' },
      h('summary', null, t('key.examples')),
      h('p', { class: 'small' }, t('key.exampleKey')),
      snippet(withKey, 'curl-key'),
      h('p', { class: 'small' }, t('key.exampleToken')),
      snippet(withToken, 'curl-token')),
    h('div', { class: 'dialog-actions' }, button(t('key.done'), () => m.close()))
  ], { 'data-testid': 'key-dialog' })
  code.addEventListener('click', selectKey)
  copy.focus()
  return m
}

/** The client's ID and its key hint (`gb_…joL8`), each with a copy button where it helps. */
export function idAndHint (c: { id: string, keyHint?: string }): HTMLElement {
  const id = h('code', { class: 'client-id', 'data-testid': 'client-id' }, c.id)
  return h('div', { class: 'id-hint small' },
    h('span', { class: 'muted' }, `${t('client.idShort')} `), id, ' ', copyButton(c.id, t('client.id'), { 'data-testid': 'copy-client-id' }, id),
    c.keyHint === undefined ? null : h('span', { class: 'key-hint', 'data-testid': 'key-hint' }, h('span', { class: 'muted' }, `${t('client.keyHint')} `), h('code', null, `gb_…${c.keyHint}`)))
}

/** A "Muat lagi" button; `load` hides it (`.hidden`) when there is nothing more. */
export function loadMoreButton (load: () => Promise<void>): HTMLButtonElement {
  const btn = button(t('common.loadMore'), () => {
    btn.disabled = true
    load().catch((err: unknown) => {
      if (!isAbort(err)) toast(messageOf(err), 'error')
    }).finally(() => { btn.disabled = false })
  }, { class: 'btn load-more', 'data-testid': 'load-more' })
  return btn
}
