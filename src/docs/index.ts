import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import type { RoutesConfig } from '../config/routes-loader.js'
import { buildOpenApi, type OpenApiDocument } from './openapi.js'
import { PROBLEM_CONTENT_TYPE } from '../errors.js'
import { SESSION_COOKIE } from '../admin/sessions.js'
import { adminDescription } from './portal.js'
import { serverOrigins, serversFor, type DocLang, type DocServer } from './servers.js'
import { keyRequestsOf } from '../auth/key-requests.js'
import { keyRequestApi } from './key-requests.js'
import { keyRequestPages } from './key-request-pages.js'

type AdminPaths = Record<string, Record<string, Record<string, unknown>>>

/**
 * The /doc developer portal's documents: built once from the loaded routes
 * and cached, one per language; `rebuild` swaps them when routes.yaml is
 * reloaded. Never rebuilt per request. The admin API is not on the public
 * page: it has its own document (`adminDocument`, GET /admin/api/openapi.json,
 * routes:read), built from its route schemas.
 */
export class DocsHolder {
  /** The public document in Bahasa Indonesia (what /doc/json serves by default). */
  document: OpenApiDocument
  /** The same in English (/doc/json?lang=en): every text Gerbang writes; the integrations' own stay as written. */
  english: OpenApiDocument
  /** The admin API's document; empty paths until @fastify/swagger has read the admin routes. */
  adminDocument: OpenApiDocument = adminOpenApi({})
  readonly servers: DocServer[]

  constructor (routes: RoutesConfig, servers: DocServer[] = []) {
    this.servers = servers
    this.document = buildOpenApi(routes, 'id')
    this.english = buildOpenApi(routes, 'en')
  }

  rebuild (routes: RoutesConfig): void {
    this.document = buildOpenApi(routes, 'id')
    this.english = buildOpenApi(routes, 'en')
  }

  /** The public document in `lang`, with the servers for a reader of `host`. */
  documentFor (lang: DocLang): OpenApiDocument {
    const doc = lang === 'en' ? this.english : this.document
    return { ...doc, servers: serversFor(this.servers, lang) }
  }

  /** Takes the admin API's paths from the document @fastify/swagger generated from its routes. */
  setAdminPaths (generated: { paths?: AdminPaths, components?: { schemas?: Record<string, unknown> } }): void {
    this.adminDocument = adminOpenApi(generated.paths ?? {}, generated.components?.schemas)
  }
}

const ADMIN_TAG = {
  name: 'Admin API',
  description: 'API JSON di balik konsol admin /admin (the JSON API behind the admin console)'
}

function adminOpenApi (adminPaths: AdminPaths, schemas?: Record<string, unknown>): OpenApiDocument {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const [path, operations] of Object.entries(adminPaths)) {
    const fixed: Record<string, unknown> = {}
    for (const [method, operation] of Object.entries(operations)) {
      const responses = operation.responses as Record<string, { content?: Record<string, unknown> }> | undefined
      for (const [status, response] of Object.entries(responses ?? {})) {
        // @fastify/swagger says application/json; Gerbang's errors are problem documents.
        if (Number(status) >= 400 && response.content?.['application/json'] !== undefined) {
          response.content = { [PROBLEM_CONTENT_TYPE]: response.content['application/json'] }
        }
      }
      fixed[method] = { ...operation, security: path === '/admin/api/session' && method === 'post' ? [] : [{ adminSession: [] }] }
    }
    paths[path] = fixed
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Gerbang — Admin API', version: '1.0.0', description: adminDescription() },
    servers: [{ url: '/' }],
    tags: [ADMIN_TAG],
    paths,
    components: {
      ...(schemas !== undefined && Object.keys(schemas).length > 0 ? { schemas } : {}),
      securitySchemes: {
        adminSession: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: 'Sesi admin dari POST /admin/api/session' }
      }
    }
  }
}

export interface DocsOptions {
  docs: DocsHolder
}

// Compiled to dist/src/docs/; the package root is three levels up.
const ROOT = new URL('../../../', import.meta.url)
const asset = (path: string): Buffer => readFileSync(fileURLToPath(new URL(path, ROOT)))

/** ?lang=en asks for English; anything else is Bahasa Indonesia. */
function langOf (request: FastifyRequest): DocLang {
  return (request.query as { lang?: unknown } | undefined)?.lang === 'en' ? 'en' : 'id'
}

/**
 * The /doc pages' CSP: nothing inline, nothing from another origin, except
 * that Try it out may call the configured Production and Development servers.
 */
export function docsCsp (servers: DocServer[]): string {
  const connect = ["'self'", ...serverOrigins(servers)].join(' ')
  return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self' data:; " +
    `connect-src ${connect}; form-action 'self'; base-uri 'self'; frame-ancestors 'none'; object-src 'none'`
}

/**
 * The developer portal: Swagger UI at /doc with Gerbang's header, logo,
 * texts and notes (src/docs/public), the document at /doc/json and
 * /doc/yaml (?lang=en: English). No credential is needed to read them;
 * "Try it out" calls the gateway with the key the reader enters. The assets
 * are served from this process (no CDN).
 */
export async function docsPlugin (app: FastifyInstance, { docs }: DocsOptions): Promise<void> {
  await app.register(fastifySwagger, {
    mode: 'dynamic',
    openapi: { openapi: '3.1.0', info: { title: 'Gerbang', version: '1.0.0' } },
    // The integrations' document comes from routes.yaml, not from Fastify's
    // routes: the proxy's wildcard and the gateway's own endpoints stay
    // hidden. Only the admin API is documented from its route schemas, in
    // a document of its own.
    transform: ({ schema, url }) => ({ schema: url.startsWith('/admin/api/') ? schema : { ...schema, hide: true }, url }),
    transformObject: (generated) => {
      if ('openapiObject' in generated) docs.setAdminPaths(generated.openapiObject as Parameters<DocsHolder['setAdminPaths']>[0])
      return docs.document
    }
  })
  // Encapsulated: the onSend hook below concerns /doc only.
  await app.register(async (scope) => {
    // @fastify/swagger-ui writes <html lang="en">; the portal is in Bahasa Indonesia first.
    scope.addHook('onSend', async (_request, reply, payload) => {
      if (typeof payload === 'string' && String(reply.getHeader('content-type')).startsWith('text/html')) {
        return payload.replace('<html lang="en">', '<html lang="id">')
      }
      return payload
    })
    const logo = asset('src/admin/ui/public/favicon.svg')
    await scope.register(fastifySwaggerUi, {
      routePrefix: '/doc',
      // @fastify/swagger caches its first answer; the holder's documents follow reloads.
      transformSpecification: (_spec, request) => docs.documentFor(langOf(request)),
      transformSpecificationClone: false,
      staticCSP: docsCsp(docs.servers),
      uiConfig: {
        // BaseLayout: no top bar, so no "Explore" box nor Fastify's logo; portal.js draws Gerbang's header.
        layout: 'BaseLayout',
        deepLinking: true,
        persistAuthorization: false,
        displayRequestDuration: true,
        // Runs in the browser (serialized into swagger-initializer.js): the spec in the reader's language.
        requestInterceptor: function (request: Record<string, unknown>) {
          try {
            const storage = (globalThis as unknown as {
              localStorage: { getItem: (key: string) => string | null }
            }).localStorage
            const url = request.url
            if (typeof url === 'string' && /\/doc\/json$/.test(url) && storage.getItem('gerbang.lang') === 'en') request.url = url + '?lang=en'
          } catch {}
          return request
        }
      },
      logo: { type: 'image/svg+xml', content: logo },
      theme: {
        title: 'Gerbang — Portal Pengembang API Provinsi Banten',
        css: [{ filename: 'portal.css', content: asset('src/docs/public/portal.css').toString() }],
        js: [{ filename: 'portal.js', content: asset('src/docs/public/portal.js').toString() }],
        favicon: [{ filename: 'gerbang.svg', rel: 'icon', sizes: 'any', type: 'image/svg+xml', content: logo }]
      }
    })
  })
  // Self-service key requests (issue 18, item 6): the form, the one-time link's page and /doc/api.
  // The root's store, clients and routes (decorated by buildApp before this plugin).
  const service = keyRequestsOf(app.store, app.clients)
  await app.register(async (scope) => { await keyRequestApi(scope, { service, holder: app.routeTable }) })
  await app.register(keyRequestPages)
}

// Not encapsulated (what fastify-plugin does): @fastify/swagger must hear
// about the admin API's routes, registered in sibling plugins after this one.
Object.assign(docsPlugin, { [Symbol.for('skip-override')]: true })
