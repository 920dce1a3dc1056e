import type { FastifyInstance } from 'fastify'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import type { RoutesConfig } from '../config/routes-loader.js'
import { buildOpenApi, type OpenApiDocument } from './openapi.js'
import { PROBLEM_CONTENT_TYPE } from '../errors.js'
import { SESSION_COOKIE } from '../admin/sessions.js'

/**
 * The /doc developer portal's document: built once from the loaded routes and
 * cached; `rebuild` swaps it when routes.yaml is reloaded. Never rebuilt per
 * request. The admin API's own section is added from its route schemas.
 */
export class DocsHolder {
  document: OpenApiDocument
  #integrations: OpenApiDocument
  #adminPaths: Record<string, Record<string, Record<string, unknown>>> = {}

  constructor (routes: RoutesConfig) {
    this.#integrations = buildOpenApi(routes)
    this.document = this.#integrations
  }

  rebuild (routes: RoutesConfig): void {
    this.#integrations = buildOpenApi(routes)
    this.document = withAdminSection(this.#integrations, this.#adminPaths)
  }

  /** Takes the admin API's paths from the document @fastify/swagger generated from its routes. */
  setAdminPaths (generated: { paths?: Record<string, Record<string, Record<string, unknown>>> }): void {
    this.#adminPaths = generated.paths ?? {}
    this.document = withAdminSection(this.#integrations, this.#adminPaths)
  }
}

const ADMIN_TAG = {
  name: 'Admin API',
  description: 'API JSON di balik UI admin /admin (the JSON API behind the admin UI). Masuk dengan POST /admin/api/session; ' +
    'browser lalu mengirim cookie sesi, dan setiap permintaan lain, baca maupun ubah, harus membawa header x-csrf-token dari jawaban itu ' +
    '(the session cookie, and on every other request, reads included, the x-csrf-token from that answer). ' +
    'Dengan GERBANG_ADMIN_PORT, /admin hanya dilayani di port itu (with GERBANG_ADMIN_PORT, /admin is served on that port only).'
}

function withAdminSection (integrations: OpenApiDocument,
  adminPaths: Record<string, Record<string, Record<string, unknown>>>): OpenApiDocument {
  const paths: Record<string, Record<string, unknown>> = { ...integrations.paths }
  for (const [path, operations] of Object.entries(adminPaths)) {
    const fixed: Record<string, unknown> = {}
    for (const [method, operation] of Object.entries(operations)) {
      const responses = operation.responses as Record<string, { content?: Record<string, unknown> }> | undefined
      for (const [status, response] of Object.entries(responses ?? {})) {
        // @fastify/swagger says application/json; Gerbang's errors are problem documents.
        if (Number(status) >= 400 && response.content !== undefined) {
          response.content = { [PROBLEM_CONTENT_TYPE]: response.content['application/json'] }
        }
      }
      fixed[method] = { ...operation, security: path === '/admin/api/session' && method === 'post' ? [] : [{ adminSession: [] }] }
    }
    paths[path] = fixed
  }
  const components = integrations.components as Record<string, Record<string, unknown>>
  return {
    ...integrations,
    tags: [...(integrations.tags as unknown[] ?? []), ADMIN_TAG],
    paths,
    components: {
      ...components,
      securitySchemes: {
        ...components.securitySchemes,
        adminSession: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: 'Sesi admin dari POST /admin/api/session' }
      }
    }
  }
}

export interface DocsOptions {
  docs: DocsHolder
}

/**
 * Swagger UI at /doc, the document at /doc/json and /doc/yaml. No credential
 * is needed to read them; "Try it out" calls the gateway with the key the
 * reader enters. The assets are served from this process (no CDN).
 */
export async function docsPlugin (app: FastifyInstance, { docs }: DocsOptions): Promise<void> {
  await app.register(fastifySwagger, {
    mode: 'dynamic',
    openapi: { openapi: '3.1.0', info: { title: 'Gerbang', version: '1.0.0' } },
    // The integrations' document comes from routes.yaml, not from Fastify's
    // routes: the proxy's wildcard and the gateway's own endpoints stay
    // hidden. Only the admin API is documented from its route schemas.
    transform: ({ schema, url }) => ({ schema: url.startsWith('/admin/api/') ? schema : { ...schema, hide: true }, url }),
    transformObject: (generated) => {
      if ('openapiObject' in generated) docs.setAdminPaths(generated.openapiObject as Parameters<DocsHolder['setAdminPaths']>[0])
      return docs.document
    }
  })
  await app.register(fastifySwaggerUi, {
    routePrefix: '/doc',
    // @fastify/swagger caches its first answer; the holder's document follows reloads.
    transformSpecification: () => docs.document,
    transformSpecificationClone: false,
    uiConfig: { deepLinking: true, persistAuthorization: false, displayRequestDuration: true },
    theme: { title: 'Gerbang — Dokumentasi API' }
  })
}

// Not encapsulated (what fastify-plugin does): @fastify/swagger must hear
// about the admin API's routes, registered in sibling plugins after this one.
Object.assign(docsPlugin, { [Symbol.for('skip-override')]: true })
