// Self-service key requests on /doc (issue 18, item 6): draws the form at
// /doc/request-key and the one-time link's page at /doc/key#<token>, in the
// reader's language (localStorage `gerbang.lang`, as on /doc and /admin).
// A file, like every script of /doc: their CSP allows no inline script.
// GERBANG_TEXT, the texts in both languages, is put in front of this code
// by the server (src/docs/key-request-pages.ts, texts in key-request-texts.ts).
// Text only ever goes in through text nodes, never as markup.
/* global GERBANG_TEXT */
(function () {
  'use strict'
  const STORAGE = 'gerbang.lang'
  let lang = 'id'
  try {
    if (window.localStorage.getItem(STORAGE) === 'en') lang = 'en'
  } catch (err) { /* no storage (private mode): Bahasa Indonesia */ }
  const TEXT = GERBANG_TEXT[lang]
  document.documentElement.lang = lang

  function t (key, params) {
    const text = TEXT[key] === undefined ? key : TEXT[key]
    if (params === undefined) return text
    return text.replace(/\{(\w+)\}/g, (whole, name) => params[name] === undefined ? whole : String(params[name]))
  }

  let ids = 0
  function uid (prefix) {
    ids += 1
    return prefix + '-' + ids
  }

  /** el('p', { class: 'x' }, 'text', child…): attributes as attributes, listeners as on<event>, text as text nodes. */
  function el (tag, attrs, ...children) {
    const node = document.createElement(tag)
    for (const [name, value] of Object.entries(attrs || {})) {
      if (typeof value === 'function') node.addEventListener(name.slice(2), value)
      else if (value === true) node.setAttribute(name, '')
      else if (value !== false && value !== null && value !== undefined) node.setAttribute(name, String(value))
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue
      node.append(child instanceof window.Node ? child : document.createTextNode(String(child)))
    }
    return node
  }

  // Times as the admin console shows them: ISO order, Jakarta time.
  const PARTS = new Intl.DateTimeFormat('en-US', {
    timeZone: 'Asia/Jakarta', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23'
  })
  function formatTime (iso) {
    const date = new Date(iso)
    if (Number.isNaN(date.getTime())) return String(iso)
    const p = {}
    for (const part of PARTS.formatToParts(date)) p[part.type] = part.value
    return p.year + '-' + p.month + '-' + p.day + ' ' + p.hour + ':' + p.minute + ' WIB'
  }

  function formatWait (seconds) {
    return seconds < 60 ? t('duration.seconds', { n: seconds }) : t('duration.minutes', { n: Math.ceil(seconds / 60) })
  }

  /** POST or GET JSON; resolves { ok, status, data, retryAfter, requestId }, never throws but for the network. */
  async function call (method, path, body) {
    const options = { method, headers: { accept: 'application/json, application/problem+json' }, credentials: 'same-origin', cache: 'no-store' }
    if (body !== undefined) {
      options.headers['content-type'] = 'application/json'
      options.body = JSON.stringify(body)
    }
    const res = await fetch(path, options)
    let data = null
    try { data = await res.json() } catch (err) { data = null }
    return { ok: res.ok, status: res.status, data: data || {}, retryAfter: Number(res.headers.get('retry-after') || '0'), requestId: res.headers.get('x-request-id') || '' }
  }

  /** The sentence for a failed answer, in the page's language. */
  function problemText (answer) {
    if (answer === null) return t('problem.network')
    const code = answer.data.code
    if (code === 'RATE_LIMITED') return t('problem.RATE_LIMITED', { wait: formatWait(Math.max(1, answer.retryAfter || 60)) })
    if (code === 'BAD_REQUEST' || code === 'STORE_UNAVAILABLE') return t('problem.' + code) + (lang === 'en' && code === 'BAD_REQUEST' && answer.data.detail ? ' (' + answer.data.detail + ')' : '')
    return t('problem.other', { status: answer.status, id: answer.requestId || '—' })
  }

  async function safeCall (method, path, body) {
    try {
      return await call(method, path, body)
    } catch (err) {
      return null
    }
  }

  function alertBox (text, kind, testId) {
    return el('div', { class: 'alert alert-' + kind, role: kind === 'error' ? 'alert' : 'status', 'data-testid': testId }, text)
  }

  // The portal's header: logo and name, the way back to the documentation, the language switch.
  function header (page) {
    const switcher = el('div', { class: 'gb-lang', role: 'group', 'aria-label': t('site.language') })
    for (const [code, label] of [['id', 'Bahasa Indonesia'], ['en', 'English']]) {
      switcher.append(el('button', {
        type: 'button',
        lang: code,
        'aria-pressed': String(code === lang),
        onclick: () => {
          if (code === lang) return
          try { window.localStorage.setItem(STORAGE, code) } catch (err) { return }
          window.location.reload()
        }
      }, label))
    }
    return el('header', { class: 'gb-header' },
      el('a', { class: 'gb-brand', href: '/doc' },
        el('img', { src: '/doc/static/theme/gerbang.svg', alt: '', width: '36', height: '36' }),
        el('span', { class: 'gb-name' }, 'Gerbang'),
        el('span', { class: 'gb-tagline' }, t('site.tagline'))),
      el('nav', { 'aria-label': t('site.nav') },
        el('a', { href: '/doc' }, t('site.docs')),
        el('a', { href: '/doc/request-key', 'aria-current': page === 'request' ? 'page' : null }, t('site.request'))),
      switcher)
  }

  /** A labelled control with its hint and its error, wired with aria-describedby. */
  function field (label, control, hint) {
    control.id = uid('f')
    const error = el('p', { class: 'field-error', id: uid('err'), 'data-testid': 'error-' + control.name })
    const hintEl = hint === undefined ? null : el('p', { class: 'hint', id: uid('hint') }, hint)
    control.setAttribute('aria-describedby', [hintEl && hintEl.id, error.id].filter(Boolean).join(' '))
    control.dataset.label = label
    return el('div', { class: 'field' }, el('label', { for: control.id }, label), control, hintEl, error)
  }

  function setError (control, message, slot) {
    const error = slot || control.closest('.field').querySelector('.field-error')
    error.textContent = message
    if (message === '') control.removeAttribute('aria-invalid')
    else control.setAttribute('aria-invalid', 'true')
  }

  /** The UI's own message for a text control (never the browser's bubble, which speaks its own language). */
  function problemOf (control) {
    const value = control.value.trim()
    const min = Number(control.getAttribute('minlength') || '0')
    const max = Number(control.getAttribute('maxlength') || '0')
    if (value === '') return t('valid.required')
    if (value.length < min) return t('valid.tooShort', { min })
    if (max > 0 && value.length > max) return t('valid.tooLong', { max })
    if (control.type === 'email' && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value)) return t('valid.email')
    return ''
  }

  async function requestPage (main) {
    const summary = el('div', { class: 'form-summary' })
    const agency = el('input', { type: 'text', name: 'agency', required: true, minlength: '2', maxlength: '100', autocomplete: 'organization' })
    const app = el('input', { type: 'text', name: 'app', required: true, minlength: '2', maxlength: '100', autocomplete: 'off' })
    const email = el('input', { type: 'email', name: 'email', required: true, maxlength: '254', autocomplete: 'email' })
    const purpose = el('textarea', { name: 'purpose', required: true, minlength: '10', maxlength: '1000', rows: '5' })
    const legendId = uid('legend')
    const integrationsError = el('p', { class: 'field-error', id: uid('err'), 'data-testid': 'error-integrations' })
    const checks = el('div', { class: 'checks-list' }, el('p', { class: 'muted', role: 'status' }, t('request.loading')))
    const integrations = el('fieldset', { class: 'checks', 'aria-describedby': integrationsError.id },
      el('legend', { id: legendId }, t('request.integrations')), checks, integrationsError)
    const submit = el('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'kr-submit' }, t('request.submit'))
    const form = el('form', { class: 'form', novalidate: true, 'data-testid': 'kr-form' },
      summary,
      field(t('request.agency'), agency, t('request.agencyHint')),
      field(t('request.app'), app, t('request.appHint')),
      field(t('request.email'), email, t('request.emailHint')),
      integrations,
      field(t('request.purpose'), purpose, t('request.purposeHint')),
      el('div', { class: 'actions' }, submit))
    main.append(el('h1', { tabindex: '-1' }, t('request.title')), el('p', null, t('request.intro')), form)

    const loaded = await safeCall('GET', '/doc/api/key-requests/integrations')
    checks.replaceChildren()
    if (loaded === null || !loaded.ok) {
      checks.append(alertBox(problemText(loaded), 'error', 'kr-load-error'))
    } else if (loaded.data.items.length === 0) {
      checks.append(el('p', { class: 'muted' }, t('request.noIntegrations')))
    } else {
      for (const item of loaded.data.items) {
        checks.append(el('label', { class: 'check' },
          el('input', { type: 'checkbox', name: 'integrations', value: item.name }),
          el('span', null, el('span', { class: 'check-name' }, item.name), item.description ? el('span', { class: 'muted' }, ' — ' + item.description) : null)))
      }
    }

    form.addEventListener('submit', (event) => {
      event.preventDefault()
      const wrong = []
      for (const control of [agency, app, email]) {
        const message = problemOf(control)
        setError(control, message)
        if (message !== '') wrong.push([control, control.dataset.label])
      }
      const chosen = [...form.querySelectorAll('input[name="integrations"]:checked')].map((box) => box.value)
      const firstBox = form.querySelector('input[name="integrations"]')
      const noneChosen = chosen.length === 0
      integrationsError.textContent = noneChosen ? t('valid.integrations') : ''
      if (noneChosen) wrong.push([firstBox, t('request.integrations')])
      const purposeMessage = problemOf(purpose)
      setError(purpose, purposeMessage)
      if (purposeMessage !== '') wrong.push([purpose, purpose.dataset.label])
      summary.replaceChildren()
      if (wrong.length > 0) {
        summary.append(alertBox(t('valid.summary', { fields: wrong.map((w) => w[1]).join(', ') }), 'error', 'form-summary'))
        const first = wrong[0][0]
        if (first) first.focus()
        return
      }
      submit.disabled = true
      submit.textContent = t('request.sending')
      const body = {
        agency: agency.value.trim(),
        app: app.value.trim(),
        email: email.value.trim(),
        integrations: chosen,
        purpose: purpose.value.trim()
      }
      safeCall('POST', '/doc/api/key-requests', body).then((answer) => {
        submit.disabled = false
        submit.textContent = t('request.submit')
        if (answer === null || !answer.ok) {
          summary.replaceChildren(alertBox(problemText(answer), 'error', 'form-summary'))
          summary.focus()
          return
        }
        const heading = el('h1', { tabindex: '-1' }, t('request.sentTitle'))
        main.replaceChildren(heading,
          el('div', { class: 'alert alert-ok', role: 'status', 'data-testid': 'kr-sent' },
            el('p', null, t('request.sent', { app: body.app })),
            el('p', null, t('request.number', { id: '' }), el('code', { 'data-testid': 'kr-number' }, answer.data.id))),
          el('p', null, t('request.next', { email: body.email })),
          el('p', null, el('a', { href: '/doc/request-key' }, t('request.another'))))
        heading.focus()
      })
    })
    summary.setAttribute('tabindex', '-1')
  }

  /** A code element with a copy button; the button says what happened in `status`. */
  function secretRow (label, value, testId, copyLabel, status) {
    const code = el('code', { class: 'secret', 'data-testid': testId, id: uid('secret') }, value)
    const copy = el('button', {
      type: 'button',
      class: 'btn btn-small',
      'aria-label': copyLabel,
      'data-testid': 'copy-' + testId,
      onclick: () => {
        const fallback = () => {
          const range = document.createRange()
          range.selectNodeContents(code)
          window.getSelection().removeAllRanges()
          window.getSelection().addRange(range)
          status.textContent = t('key.copyFallback')
        }
        if (navigator.clipboard === undefined) return fallback()
        navigator.clipboard.writeText(value).then(() => { status.textContent = t('key.copied') }, fallback)
      }
    }, t('key.copy'))
    return el('div', { class: 'secret-field' }, el('p', { class: 'secret-label' }, label), el('div', { class: 'secret-row' }, code, copy))
  }

  function showKey (area, data) {
    const status = el('p', { class: 'small', role: 'status' })
    const origin = window.location.origin
    const withKey = "curl -H 'x-api-key: " + data.key + "' " + origin + '/<integrasi>/...'
    const withToken = "curl -X POST '" + origin + "/oauth2/v1/accesstoken?grant_type=client_credentials' \\\n  -d 'client_id=" + data.clientId +
      "' -d 'client_secret=" + data.key + "'\ncurl -H 'Authorization: Bearer <access_token>' " + origin + '/<integrasi>/...'
    const limits = [data.rateLimit, data.quota].filter(Boolean)
    const heading = el('h2', { tabindex: '-1' }, t('key.for', { name: data.client }))
    // (replaceChildren would write a null as the text "null".)
    area.replaceChildren(...[
      heading,
      secretRow(t('key.clientId'), data.clientId, 'key-client-id', t('key.copyId'), status),
      secretRow(t('key.key'), data.key, 'key-value', t('key.copyKey'), status),
      status,
      el('p', { class: 'alert alert-warn', role: 'note' }, t('key.warning')),
      el('p', null, t('key.granted', { list: data.integrations === '*' ? t('key.all') : data.integrations.join(', ') })),
      limits.length > 0 ? el('p', null, t('key.limits', { list: limits.join(', ') })) : null,
      data.expiresAt ? el('p', null, t('key.validUntil', { time: formatTime(data.expiresAt) })) : null,
      el('details', { class: 'examples' },
        el('summary', null, t('key.examples')),
        el('p', null, t('key.exampleKey')),
        el('pre', { tabindex: '0', 'data-testid': 'curl-key' }, withKey),
        el('p', null, t('key.exampleToken')),
        el('pre', { tabindex: '0', 'data-testid': 'curl-token' }, withToken))
    ].filter(Boolean))
    heading.focus()
  }

  function gone (area, answer) {
    const reason = answer && answer.data && answer.data.reason
    const text = answer !== null && answer.data.code === 'KEY_LINK_GONE' ? t('key.gone.' + (['used', 'expired', 'withdrawn'].includes(reason) ? reason : 'unknown')) : problemText(answer)
    area.replaceChildren(alertBox(text, 'error', 'key-gone'))
  }

  async function keyPage (main) {
    const area = el('div', { class: 'key-area', 'aria-live': 'polite' })
    main.append(el('h1', { tabindex: '-1' }, t('key.title')), area)
    let token = ''
    try { token = decodeURIComponent(window.location.hash.slice(1)) } catch (err) { token = '' }
    if (token === '') {
      area.append(alertBox(t('key.noToken'), 'error', 'key-gone'))
      return
    }
    area.append(el('p', { class: 'muted' }, t('key.checking')))
    const checked = await safeCall('POST', '/doc/api/key-links/check', { token })
    if (checked === null || !checked.ok) return gone(area, checked)
    const show = el('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'key-show' }, t('key.show'))
    area.replaceChildren(
      el('p', { 'data-testid': 'key-ready' }, t('key.ready', { app: checked.data.app, agency: checked.data.agency })),
      el('p', null, t('key.until', { time: formatTime(checked.data.linkExpiresAt) })),
      el('div', { class: 'actions' }, show))
    show.addEventListener('click', () => {
      show.disabled = true
      show.textContent = t('key.opening')
      safeCall('POST', '/doc/api/key-links/open', { token }).then((opened) => {
        if (opened === null || !opened.ok) {
          // A failure the store may get over (503, network): the link is not spent, the button comes back.
          if (opened === null || opened.status >= 500) {
            show.disabled = false
            show.textContent = t('key.show')
            area.prepend(alertBox(problemText(opened), 'error', 'key-error'))
            return
          }
          return gone(area, opened)
        }
        showKey(area, opened.data)
      })
    })
  }

  const page = document.body.dataset.page
  const main = el('main', { id: 'content', class: 'kr-main' })
  document.body.append(header(page), main)
  if (page === 'key') {
    // Another link pasted into this tab changes only the fragment: read it afresh.
    window.addEventListener('hashchange', () => { window.location.reload() })
    keyPage(main)
  } else {
    requestPage(main)
  }
})()
