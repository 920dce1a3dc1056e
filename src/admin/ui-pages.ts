import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { GerbangError } from '../errors.js'
import { sendProblem } from '../http/problem.js'
import { isTopLevelNavigation, type SessionManager } from './sessions.js'

// The admin UI: one HTML shell for every page (the browser code draws the
// page from the URL) and its assets, read once at start and served from
// memory with ETags. The browser code is compiled from src/admin/ui by
// `npm run build` into dist/admin-ui; the html and css live in src/admin/ui/public.

// Compiled to dist/src/admin/; the package root is three levels up.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const ASSET_DIRS = [join(ROOT, 'dist', 'admin-ui'), join(ROOT, 'src', 'admin', 'ui', 'public')]
// Under the /admin prefix, '/' answers both /admin and /admin/.
export const ADMIN_PAGES = ['/', '/login', '/clients', '/clients/:id', '/users', '/roles', '/routes', '/audit']

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json; charset=utf-8'
}

// No inline script or style anywhere, no other origin, no framing. The
// opener policy puts an admin page opened by any other page (window.open, a
// link with an opener) in a browsing context group of its own: the opener
// cannot reach into its DOM even from the same origin.
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin'
}

// The page carries the session's CSRF token in this meta element, for the
// browser code (src/admin/ui/api.ts) to send with its API requests. Only a
// page the browser loads as a tab's document gets it: a fetch() of the page,
// or a frame, gets the bare shell, so a script on a proxied page of the same
// origin cannot read the token from it. (It cannot open the page and read
// its DOM either: frames are refused, and the opener policy above cuts a
// window it opens off from it.)
export const CSRF_META = 'gerbang-csrf'

function shellWithToken (shell: Buffer, token: string): Buffer {
  const html = shell.toString('utf8')
  const at = html.indexOf('</head>')
  if (at === -1 || !/^[A-Za-z0-9_-]+$/.test(token)) return shell
  return Buffer.from(`${html.slice(0, at)}  <meta name="${CSRF_META}" content="${token}">\n${html.slice(at)}`)
}

export interface AdminUiOptions {
  sessions: SessionManager
  /** The admin UI has its own origin (GERBANG_ADMIN_PORT): a request without fetch metadata may get the token too. */
  ownOrigin: boolean
}

interface Asset {
  body: Buffer
  type: string
  etag: string
}

function loadAssets (): Map<string, Asset> {
  const assets = new Map<string, Asset>()
  for (const dir of ASSET_DIRS) {
    if (!existsSync(dir)) continue
    for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
      const type = TYPES[extname(entry.name)]
      if (!entry.isFile() || type === undefined) continue
      const path = join(entry.parentPath, entry.name)
      const body = readFileSync(path)
      const name = path.slice(dir.length + 1).replaceAll('\\', '/')
      assets.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` })
    }
  }
  return assets
}

export async function adminUiPlugin (app: FastifyInstance, { sessions, ownOrigin }: AdminUiOptions): Promise<void> {
  const assets = loadAssets()
  const shell = assets.get('index.html')

  /** The signed-in session's CSRF token, when this request may carry it in the page. */
  const tokenFor = async (request: FastifyRequest): Promise<string | undefined> => {
    const metadata = request.headers['sec-fetch-dest'] !== undefined || request.headers['sec-fetch-mode'] !== undefined
    // Without fetch metadata there is no telling a navigation from a fetch():
    // only on the admin UI's own origin, where no other page's script runs.
    if (metadata ? !isTopLevelNavigation(request) : !ownOrigin) return undefined
    try {
      return (await sessions.resolve(request.headers.cookie))?.session.csrfToken
    } catch (err) {
      // The page still loads; its session probe reports the store.
      request.log.warn({ err }, 'admin page: could not read the session')
      return undefined
    }
  }

  app.addHook('onRequest', async (_request, reply) => {
    reply.headers(SECURITY_HEADERS)
  })

  for (const page of ADMIN_PAGES) {
    app.get(page, async (request, reply) => {
      if (shell === undefined) {
        sendProblem(request, reply, new GerbangError('INTERNAL_ERROR', 'the admin UI is not built; run npm run build'))
        return await reply
      }
      const token = await tokenFor(request)
      // Never stored: a cached copy with a token could be read back by fetch().
      reply.header('cache-control', 'no-store').header('vary', 'cookie, sec-fetch-dest, sec-fetch-mode')
      return await reply.type(shell.type).send(token === undefined ? shell.body : shellWithToken(shell.body, token))
    })
  }

  app.get<{ Params: { '*': string } }>('/assets/*', async (request, reply) => {
    const name = request.params['*']
    const asset = assets.get(name)
    if (asset === undefined || name === 'index.html') {
      sendProblem(request, reply, new GerbangError('NOT_FOUND', `there is no admin asset ${name}`))
      return await reply
    }
    reply.header('etag', asset.etag).header('cache-control', 'no-cache')
    if (request.headers['if-none-match'] === asset.etag) return await reply.code(304).send()
    return await reply.type(asset.type).send(asset.body)
  })
}
