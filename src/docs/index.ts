import type { FastifyInstance } from 'fastify'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import type { RoutesConfig } from '../config/routes-loader.js'
import { buildOpenApi, type OpenApiDocument } from './openapi.js'

/**
 * The /doc developer portal's document: built once from the loaded routes and
 * cached; `rebuild` swaps it when routes.yaml is reloaded. Never rebuilt per request.
 */
export class DocsHolder {
  document: OpenApiDocument

  constructor (routes: RoutesConfig) {
    this.document = buildOpenApi(routes)
  }

  rebuild (routes: RoutesConfig): void {
    this.document = buildOpenApi(routes)
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
    // The document comes from routes.yaml, not from Fastify's routes: the
    // proxy's wildcard and the gateway's own endpoints stay hidden.
    transform: ({ schema, url }) => ({ schema: { ...schema, hide: true }, url }),
    transformObject: () => docs.document
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
