// The admin single-page app: session, router (history.pushState), layout.
import { api, ApiError, isAbort, messageOf, onReauthenticate, onSessionLost, onStoreDown, setCsrfToken } from './api.js'
import { h, mount } from './dom.js'
import { lang, setLang, t, type Key, type Lang } from './i18n.js'
import { auditPage } from './pages/audit.js'
import { clientsPage } from './pages/clients.js'
import { clientPage, isClientPath } from './pages/client.js'
import { dashboardPage } from './pages/dashboard.js'
import { KEY_REQUESTS_PATH, keyRequestsPage } from './pages/key-requests.js'
import { loginPage } from './pages/login.js'
import { rolesPage } from './pages/roles.js'
import { routesPage } from './pages/routes.js'
import { usersPage } from './pages/users.js'
import type { PageContext, Permission, SessionInfo } from './types.js'
import { closeAllDialogs, errorBox, field, loading, modal, pageHeader, toast, validateForm } from './widgets.js'

interface Route {
  path: string
  label: Key
  /** Needed to see the page (and its menu entry); none for the dashboard. */
  permission?: Permission
  render: (ctx: PageContext) => Promise<void>
}

const ROUTES: Route[] = [
  { path: '/admin', label: 'nav.dashboard', render: dashboardPage },
  { path: '/admin/clients', label: 'nav.clients', permission: 'clients:read', render: clientsPage },
  // Under /admin/clients/ (the server serves the shell there for any :id; no client id looks like it).
  { path: KEY_REQUESTS_PATH, label: 'nav.keyRequests', permission: 'clients:read', render: keyRequestsPage },
  { path: '/admin/users', label: 'nav.users', permission: 'users:read', render: usersPage },
  { path: '/admin/roles', label: 'nav.roles', permission: 'users:read', render: rolesPage },
  { path: '/admin/routes', label: 'nav.routes', permission: 'routes:read', render: routesPage },
  { path: '/admin/audit', label: 'nav.audit', permission: 'audit:read', render: auditPage }
]
const LOGIN = '/admin/login'
/** /admin/clients/<id>: one client's page, under the Clients menu entry. */
const CLIENT_ROUTE: Route = { path: '/admin/clients/:id', label: 'nav.clients', permission: 'clients:read', render: async () => {} }

const app = document.getElementById('app') ?? document.body
let session: SessionInfo | undefined
let pageAbort = new AbortController()

function currentPath (): string {
  const path = location.pathname.replace(/\/+$/, '')
  return path === '' ? '/' : path
}

/** Where login sends the user afterwards: only paths of this app, never another origin. */
function safeNext (raw: string | null): string {
  if (raw === null || !raw.startsWith('/admin') || raw.startsWith('//') || raw.includes('\\')) return '/admin'
  if (raw === LOGIN || raw.startsWith(`${LOGIN}?`) || raw.startsWith(`${LOGIN}/`)) return '/admin'
  return raw
}

function loginUrl (): string {
  const here = location.pathname + location.search
  return here === '/admin' || here === '/admin/' ? LOGIN : `${LOGIN}?next=${encodeURIComponent(here)}`
}

export function navigate (url: string, replace = false): void {
  if (replace) history.replaceState(null, '', url)
  else history.pushState(null, '', url)
  rerender(true)
}

/** Draws the page for the current URL; a failure becomes a message, never a blank page. */
function rerender (moveFocus = false): void {
  render(moveFocus).catch((err: unknown) => {
    if (!isAbort(err)) mount(app, h('main', { class: 'login-page' }, errorBox(err, () => rerender())))
  })
}

function setSession (next: SessionInfo | undefined): void {
  session = next
  setCsrfToken(next?.csrfToken ?? '')
}

const can = (permission: Permission): boolean => session?.permissions.includes(permission) ?? false

onSessionLost(() => {
  setSession(undefined)
  if (currentPath() !== LOGIN) navigate(loginUrl(), true)
})

/**
 * The session ended while the admin was working: ask for the password in a
 * dialog over the page, so a half-typed form stays where it is; true once
 * signed in again (the request that met the 401 is then sent again).
 */
onReauthenticate(async () => {
  const known = session
  if (known === undefined || currentPath() === LOGIN) return false
  return await new Promise<boolean>((resolve) => {
    let signedIn = false
    const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true })
    const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true, value: known.user.email, readonly: true })
    const top = h('div', { class: 'form-error' })
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'reauth-submit' }, t('reauth.submit'))
    const form = h('form', { class: 'form', novalidate: true }, top,
      h('p', null, t('reauth.intro')),
      field(t('login.email'), email), field(t('login.password'), password),
      h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'btn', onclick: () => m.close() }, t('reauth.cancel')), submit))
    const m = modal(t('reauth.title'), [form], { 'data-testid': 'reauth-dialog', role: 'alertdialog' })
    m.dialog.addEventListener('close', () => resolve(signedIn))
    form.addEventListener('submit', (event) => {
      event.preventDefault()
      if (!validateForm(form, top)) return
      submit.disabled = true
      api.post<SessionInfo>('/session', { email: known.user.email, password: password.value }, { redirect: false }).then((info) => {
        setSession(info)
        signedIn = true
        m.close()
      }, (err: unknown) => {
        top.replaceChildren(errorBox(err))
        password.value = ''
        password.focus()
      }).finally(() => { submit.disabled = false })
    })
    password.focus()
  })
})

// The store is down: a banner over every page while it is, checked every few seconds.
const STORE_POLL_MS = 5000
const storeBanner = h('div', { class: 'store-banner', role: 'alert', 'data-testid': 'store-banner', hidden: true })
let storeTimer: ReturnType<typeof setInterval> | undefined
function showStoreDown (down: boolean): void {
  if (down === !storeBanner.hidden) return
  storeBanner.hidden = !down
  storeBanner.textContent = down ? t('store.down') : ''
  if (down) {
    storeTimer ??= setInterval(() => {
      api.get<{ store: string }>('/status', { redirect: false }).then((status) => {
        if (status.store !== 'up') return
        clearInterval(storeTimer)
        storeTimer = undefined
        showStoreDown(false)
        toast(t('store.back'))
        rerender()
      }, () => {})
    }, STORE_POLL_MS)
  }
}
onStoreDown(showStoreDown)

function languageSwitch (): HTMLElement {
  const options: Array<[Lang, string]> = [['id', 'Bahasa Indonesia'], ['en', 'English']]
  const select = h('select', {
    class: 'lang-select',
    'aria-label': t('top.language'),
    'data-testid': 'lang-switch',
    onchange: () => {
      setLang(select.value === 'en' ? 'en' : 'id')
      rerender()
    }
  }, options.map(([value, label]) => h('option', { value, lang: value, selected: value === lang() }, label)))
  return select
}

async function logout (): Promise<void> {
  try {
    await api.del('/session', { redirect: false })
  } catch {
    // Gone already or unreachable: either way the browser forgets this session.
  }
  setSession(undefined)
  navigate(LOGIN)
}

function layout (active: Route | undefined, user: SessionInfo['user']): HTMLElement {
  const nav = h('nav', { id: 'nav', class: 'sidebar', 'aria-label': t('nav.label') },
    h('ul', null, ROUTES.filter((r) => r.permission === undefined || can(r.permission)).map((r) =>
      h('li', null, h('a', {
        href: r.path,
        class: r === active ? 'active' : null,
        'aria-current': r === active ? 'page' : null,
        'data-nav': r.path.slice('/admin'.length).replace('/', '') || 'dashboard'
      }, t(r.label))))))
  const toggle = h('button', {
    type: 'button',
    class: 'btn btn-ghost menu-toggle',
    'aria-controls': 'nav',
    'aria-expanded': 'false',
    onclick: () => {
      const open = nav.classList.toggle('open')
      toggle.setAttribute('aria-expanded', String(open))
    }
  }, t('nav.toggle'))
  return h('div', { class: 'shell' },
    h('a', { class: 'skip-link', href: '#content' }, t('app.skip')),
    h('header', { class: 'topbar' },
      toggle,
      h('a', { class: 'brand', href: '/admin' }, h('img', { src: '/admin/assets/favicon.svg', alt: '', width: 24, height: 24 }), t('app.name')),
      h('span', { class: 'tagline' }, t('app.tagline')),
      h('div', { class: 'topbar-right' },
        h('span', { class: 'user', title: t('top.loggedInAs', { name: user.email, role: user.role }) },
          h('span', { class: 'admin-name', 'data-testid': 'admin-name' }, user.name),
          h('span', { class: 'user-role' }, user.role)),
        languageSwitch(),
        h('button', { type: 'button', class: 'btn btn-ghost', 'data-testid': 'logout', onclick: logout }, t('top.logout')))),
    nav,
    h('main', { id: 'content', class: 'content', tabindex: -1 }, storeBanner))
}

function renderLogin (moveFocus: boolean): void {
  // No session probe here: the page must not start with a failing (401) request.
  const next = safeNext(new URLSearchParams(location.search).get('next'))
  document.title = `${t('login.title')} · Gerbang`
  const root = h('main', { class: 'login-page', id: 'content' })
  mount(app, h('div', { class: 'login-lang' }, languageSwitch()), root)
  loginPage(root, (info) => {
    setSession(info)
    navigate(next, true)
  }, moveFocus)
}

async function render (moveFocus = false): Promise<void> {
  pageAbort.abort()
  pageAbort = new AbortController()
  const signal = pageAbort.signal
  closeAllDialogs()
  document.documentElement.lang = lang()
  const path = currentPath()
  if (path === LOGIN) {
    renderLogin(moveFocus)
    return
  }
  if (session === undefined) {
    mount(app, loading())
    try {
      setSession(await api.get<SessionInfo>('/session', { redirect: false, signal }))
    } catch (err) {
      if (signal.aborted) return
      if (err instanceof ApiError && err.status === 401) navigate(loginUrl(), true)
      else mount(app, h('main', { class: 'login-page' }, errorBox(err, () => rerender())))
      return
    }
    if (signal.aborted) return
  }
  const current = session
  if (current === undefined) return
  const clientId = path === KEY_REQUESTS_PATH ? undefined : isClientPath(path)
  const route = clientId === undefined ? ROUTES.find((r) => r.path === path) : CLIENT_ROUTE
  const shell = layout(clientId === undefined ? route : ROUTES[1], current.user)
  mount(app, shell)
  const outer = shell.querySelector('main') as HTMLElement
  // The page draws into its own area, below the store banner.
  const main = h('div', { class: 'page' })
  outer.append(main)
  if (!storeBanner.hidden) storeBanner.textContent = t('store.down')
  document.title = `${route === undefined ? t('error.notFound') : t(route.label)} · Gerbang`
  if (route === undefined) {
    mount(main, pageHeader(t('error.notFound')), h('p', null, h('a', { href: '/admin' }, t('nav.dashboard'))))
  } else if (route.permission !== undefined && !can(route.permission)) {
    mount(main, pageHeader(t(route.label)), h('div', { class: 'alert alert-error', role: 'alert' }, t('error.forbiddenPage')))
  } else {
    mount(main, loading())
    try {
      const ctx = { root: main, session: current, can, signal, navigate }
      await (clientId === undefined ? route.render(ctx) : clientPage(ctx, clientId))
    } catch (err) {
      if (signal.aborted || isAbort(err)) return
      mount(main, pageHeader(t(route.label)), errorBox(err, () => rerender()))
    }
  }
  if (moveFocus && !signal.aborted) (main.querySelector<HTMLElement>('h1') ?? outer).focus()
}

// Same-app links navigate without reloading the page.
document.addEventListener('click', (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey ||
    event.altKey) return
  const link = event.target instanceof Element ? event.target.closest('a') : null
  if (link === null || link.target !== '' || link.hasAttribute('download') || link.origin !== location.origin) return
  if (!link.pathname.startsWith('/admin') || link.pathname.startsWith('/admin/assets') || link.pathname.startsWith('/admin/api')) return
  if (link.hash !== '' && link.pathname === location.pathname) return
  event.preventDefault()
  navigate(link.pathname + link.search)
})

window.addEventListener('popstate', () => rerender())

// Last resort: an error nobody caught becomes a message, never a blank page.
window.addEventListener('unhandledrejection', (event) => {
  event.preventDefault()
  if (!isAbort(event.reason)) toast(messageOf(event.reason), 'error')
})

rerender()
