// The /doc developer portal's header (issue 18, item 5): Gerbang's logo and
// name, links to the portal's sections and the language switch. Served as a
// file, like every script of /doc (its CSP allows no inline script). The
// choice lives in localStorage `gerbang.lang`, as in the admin console.
// Swagger UI then asks for /doc/json?lang=en (uiConfig.requestInterceptor
// in src/docs/index.ts).
(function () {
  'use strict'
  const KEY = 'gerbang.lang'
  const TEXT = {
    id: {
      title: 'Gerbang — Portal Pengembang API Provinsi Banten',
      tagline: 'Portal Pengembang API Provinsi Banten',
      nav: 'Bagian portal',
      key: 'Cara mendapatkan kunci',
      request: 'Minta kunci',
      errors: 'Kode kesalahan',
      language: 'Bahasa',
      servers: 'Server'
    },
    en: {
      title: 'Gerbang — Banten Province API Developer Portal',
      tagline: 'Banten Province API Developer Portal',
      nav: 'Portal sections',
      key: 'How to get a key',
      request: 'Request a key',
      errors: 'Error codes',
      language: 'Language',
      servers: 'Servers'
    }
  }

  let lang = 'id'
  try {
    if (window.localStorage.getItem(KEY) === 'en') lang = 'en'
  } catch (err) { /* no storage (private mode): Bahasa Indonesia */ }
  const t = TEXT[lang]
  document.documentElement.lang = lang
  document.title = t.title

  function el (tag, attrs, children) {
    const node = document.createElement(tag)
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value)
    for (const child of children) node.append(child)
    return node
  }

  const icon = document.querySelector('link[rel="icon"]')
  const logo = el('img', { src: icon === null ? '' : icon.href, alt: '', width: '36', height: '36' }, [])
  const brand = el('a', { class: 'gb-brand', href: window.location.pathname }, [
    logo, el('span', { class: 'gb-name' }, ['Gerbang']), el('span', { class: 'gb-tagline' }, [t.tagline])
  ])

  function jump (id, label) {
    const link = el('a', { href: '#' + id }, [label])
    link.addEventListener('click', (event) => {
      const target = document.getElementById(id)
      if (target === null) return
      event.preventDefault()
      target.scrollIntoView()
      target.setAttribute('tabindex', '-1')
      target.focus()
    })
    return link
  }

  const switcher = el('div', { class: 'gb-lang', role: 'group', 'aria-label': t.language }, [])
  for (const [code, label] of [['id', 'Bahasa Indonesia'], ['en', 'English']]) {
    const button = el('button', { type: 'button', lang: code, 'aria-pressed': String(code === lang) }, [label])
    button.addEventListener('click', () => {
      if (code === lang) return
      try { window.localStorage.setItem(KEY, code) } catch (err) { return }
      // Not a query string: @fastify/swagger-ui finds ./json relative to the page's URL.
      window.location.reload()
    })
    switcher.append(button)
  }

  const header = el('header', { class: 'gb-header' }, [
    brand,
    el('nav', { 'aria-label': t.nav }, [
      jump('cara-mendapatkan-kunci', t.key), el('a', { href: '/doc/request-key' }, [t.request]), jump('kode-kesalahan', t.errors)
    ]),
    switcher
  ])
  // Swagger UI's server list has no label (axe: select-name); it is drawn after the document loads.
  const servers = t.servers
  new window.MutationObserver(() => {
    const select = document.getElementById('servers')
    if (select !== null && select.getAttribute('aria-label') !== servers) select.setAttribute('aria-label', servers)
  }).observe(document.body, { childList: true, subtree: true })

  const root = document.getElementById('swagger-ui')
  document.body.insertBefore(header, document.body.firstChild)
  if (root !== null) {
    const main = el('main', {}, [])
    root.replaceWith(main)
    main.append(root)
  }
})()
