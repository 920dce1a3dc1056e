// /admin/login: email + password. 401 LOGIN_FAILED shows the problem's
// detail; 429 RATE_LIMITED also counts down the Retry-After wait.
import { api, ApiError, messageOf } from '../api.js'
import { h, mount } from '../dom.js'
import { formatDuration, t } from '../i18n.js'
import type { SessionInfo } from '../types.js'
import { field, validateForm } from '../widgets.js'

export function loginPage (root: HTMLElement, onLogin: (session: SessionInfo) => void, moveFocus: boolean): void {
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true, autocapitalize: 'off', spellcheck: 'false' })
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true })
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, t('login.submit'))
  const message = h('div', { class: 'login-error', 'aria-live': 'assertive', 'data-testid': 'login-error' })
  let timer: ReturnType<typeof setInterval> | undefined

  const showError = (text: string, wait?: number): void => {
    clearInterval(timer)
    const detail = h('p', null, text)
    mount(message, h('div', { class: 'alert alert-error', role: 'alert' }, detail))
    if (wait === undefined) return
    let left = wait
    // One message, its wait in words ("15 menit"), counting down.
    const tick = (): void => {
      detail.textContent = t('problem.RATE_LIMITED', { wait: formatDuration(Math.max(left, 1)) })
      submit.disabled = left > 0
      if (left <= 0) {
        clearInterval(timer)
        message.replaceChildren()
      }
      left -= 1
    }
    tick()
    timer = setInterval(() => {
      if (!root.isConnected) clearInterval(timer)
      else tick()
    }, 1000)
  }

  const top = h('div', { class: 'form-error' })
  const form = h('form', { class: 'form login-form', 'aria-labelledby': 'login-title', novalidate: true },
    top,
    field(t('login.email'), email),
    field(t('login.password'), password),
    message,
    submit)

  form.addEventListener('submit', (event) => {
    event.preventDefault()
    if (submit.disabled) return
    if (!validateForm(form, top)) return
    submit.disabled = true
    submit.textContent = t('login.submitting')
    message.replaceChildren()
    api.post<SessionInfo>('/session', { email: email.value.trim(), password: password.value }, { redirect: false })
      .then((session) => {
        clearInterval(timer)
        onLogin(session)
      }, (err: unknown) => {
        submit.disabled = false
        submit.textContent = t('login.submit')
        if (err instanceof ApiError && err.status === 429) {
          showError(messageOf(err), err.retryAfter ?? 60)
        } else {
          showError(messageOf(err))
          password.value = ''
          password.focus()
        }
      })
  })

  mount(root, h('div', { class: 'login-card' },
    h('div', { class: 'login-brand' },
      h('img', { src: '/admin/assets/favicon.svg', alt: '', width: 40, height: 40 }),
      h('div', null, h('p', { class: 'login-product' }, t('app.name')), h('p', { class: 'muted small' }, t('app.tagline')))),
    h('h1', { id: 'login-title' }, t('login.title')),
    form))
  if (moveFocus || document.activeElement === document.body) email.focus()
}
