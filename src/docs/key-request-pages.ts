import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { keyRequestTexts } from './key-request-texts.js'

// The portal's two pages of self-service key requests: the form
// (/doc/request-key) and the one-time link's page (/doc/key#<token>). Each
// is a small HTML shell; src/docs/public/key-request.js draws it in the
// reader's language (localStorage, as on /doc). Their CSP allows no inline
// script or style and nothing from another origin. The link's token sits in
// the URL's fragment, which browsers never send: it reaches no access log,
// no proxy and no Referer, and only the page's button (a POST) spends it, so
// a link previewer or a mail scanner that fetches the URL spends nothing.

export const REQUEST_PAGE = '/doc/request-key'
export const KEY_PAGE = '/doc/key'

const ROOT = new URL('../../../', import.meta.url)
const read = (path: string): string => readFileSync(fileURLToPath(new URL(path, ROOT)), 'utf8')

const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "form-action 'self'; base-uri 'none'; frame-ancestors 'none'; object-src 'none'"
const PAGE_HEADERS = {
  'content-security-policy': PAGE_CSP,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  // The key page holds a secret once it is opened: never kept by a cache or the back-forward list's copy.
  'cache-control': 'no-store'
}

function shell (page: 'request' | 'key', title: string): string {
  return [
    '<!doctype html>',
    '<html lang="id">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${title}</title>`,
    '<link rel="icon" type="image/svg+xml" href="/doc/static/theme/gerbang.svg">',
    // The header's styles are the portal's own (served by @fastify/swagger-ui's theme).
    '<link rel="stylesheet" href="/doc/static/theme/portal.css">',
    '<link rel="stylesheet" href="/doc/assets/key-request.css">',
    '<script src="/doc/assets/key-request.js" defer></script>',
    '</head>',
    `<body data-page="${page}">`,
    `<noscript><p>${keyRequestTexts('id')['site.noscript']} / ${keyRequestTexts('en')['site.noscript']}</p></noscript>`,
    '</body>',
    '</html>',
    ''
  ].join('\n')
}

interface Asset { body: string, type: string, etag: string }

function asset (body: string, type: string): Asset {
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` }
}

/** GET /doc/request-key, /doc/key and their script and stylesheet, built once at start. */
export async function keyRequestPages (app: FastifyInstance): Promise<void> {
  const texts = { id: keyRequestTexts('id'), en: keyRequestTexts('en') }
  const pages = {
    [REQUEST_PAGE]: shell('request', `Gerbang — ${texts.id['request.title']}`),
    [KEY_PAGE]: shell('key', `Gerbang — ${texts.id['key.title']}`)
  }
  // The texts come as a JSON value in front of the code: one file, no inline script.
  const assets = new Map<string, Asset>([
    ['key-request.js', asset(`const GERBANG_TEXT = ${JSON.stringify(texts)};\n${read('src/docs/public/key-request.js')}`, 'text/javascript; charset=utf-8')],
    ['key-request.css', asset(read('src/docs/public/key-request.css'), 'text/css; charset=utf-8')]
  ])

  for (const [path, html] of Object.entries(pages)) {
    app.get(path, async (_request, reply) => await reply.headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(html))
  }

  app.get('/doc/assets/:file', async (request, reply) => {
    const found = assets.get((request.params as { file: string }).file)
    if (found === undefined) return await reply.callNotFound()
    reply.header('etag', found.etag).header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff')
    if (request.headers['if-none-match'] === found.etag) return await reply.code(304).send()
    return await reply.type(found.type).send(found.body)
  })
}
