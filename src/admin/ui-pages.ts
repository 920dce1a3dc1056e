import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { GerbangError } from '../errors.js'
import { sendProblem } from '../http/problem.js'

// The admin UI: one HTML shell for every page (the browser code draws the
// page from the URL) and its assets, read once at start and served from
// memory with ETags. The browser code is compiled from src/admin/ui by
// `npm run build` into dist/admin-ui; the html and css live in src/admin/ui/public.

// Compiled to dist/src/admin/; the package root is three levels up.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const ASSET_DIRS = [join(ROOT, 'dist', 'admin-ui'), join(ROOT, 'src', 'admin', 'ui', 'public')]
// Under the /admin prefix, '/' answers both /admin and /admin/.
export const ADMIN_PAGES = ['/', '/login', '/clients', '/users', '/roles', '/routes', '/audit']

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json; charset=utf-8'
}

// No inline script or style anywhere, no other origin, no framing.
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer'
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

export async function adminUiPlugin (app: FastifyInstance): Promise<void> {
  const assets = loadAssets()
  const shell = assets.get('index.html')

  app.addHook('onRequest', async (_request, reply) => {
    reply.headers(SECURITY_HEADERS)
  })

  for (const page of ADMIN_PAGES) {
    app.get(page, async (request, reply) => {
      if (shell === undefined) {
        sendProblem(request, reply, new GerbangError('INTERNAL_ERROR', 'the admin UI is not built; run npm run build'))
        return await reply
      }
      return await reply.header('cache-control', 'no-cache').type(shell.type).send(shell.body)
    })
  }

  app.get('/assets/*', async (request, reply) => {
    const name = (request.params as { '*': string })['*']
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
