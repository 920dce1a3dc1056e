import type { FastifyInstance } from 'fastify'
import { Type, type Static } from '@sinclair/typebox'
import { KeyRequestService } from '../auth/key-requests.js'
import { GerbangError } from '../errors.js'
import type { RouteTableHolder } from '../proxy/route-tables.js'

// The public side of self-service key requests (issue 18, item 6), under
// /doc/api: the integrations one can ask for, the request itself, and the
// one-time link (checked, then opened). No credential: the throttles in
// src/auth/key-requests.ts stand in for one. JSON bodies only (no form from
// another site can send one), small, and within 10 s. Answers say nothing
// about other requests: a request gets only its own id, and a link only what
// its holder was meant to see.

/** No control characters in one-line fields (log lines, CSV exports, e-mail headers). */
const LINE = '^[^\\u0000-\\u001f\\u007f]*$'
const BODY_LIMIT = 16 * 1024

export const KeyRequestBody = Type.Object({
  agency: Type.String({ minLength: 2, maxLength: 100, pattern: LINE, description: 'the requesting agency (instansi)' }),
  app: Type.String({ minLength: 2, maxLength: 100, pattern: LINE, description: 'the application that will call' }),
  email: Type.String({ format: 'email', maxLength: 254, description: 'where the operators reach the requester' }),
  integrations: Type.Array(Type.String({ pattern: '^[a-z0-9-]+$', maxLength: 63 }), { minItems: 1, maxItems: 50, uniqueItems: true }),
  purpose: Type.String({ minLength: 10, maxLength: 1000, pattern: '^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]*$', description: 'what the key is for' })
}, { additionalProperties: false })
export type KeyRequestBodyT = Static<typeof KeyRequestBody>

const LinkBody = Type.Object({ token: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false })

// Data for the portal's own script: never cached, framed, sniffed or opened as a page.
const API_HEADERS = {
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'; sandbox",
  'x-content-type-options': 'nosniff',
  'cross-origin-resource-policy': 'same-origin',
  'referrer-policy': 'no-referrer'
}

/** The integrations that need a key: the ones a request may name. */
export function keyedIntegrations (holder: RouteTableHolder): Array<{ name: string, description: string }> {
  return holder.table.config.integrations.filter((i) => i.auth === 'apiKey').map((i) => ({ name: i.name, description: i.description }))
}

export interface KeyRequestRoutesOptions {
  service: KeyRequestService
  holder: RouteTableHolder
}

/** /doc/api/*: registered by the docs plugin in a scope of its own (its own body parser and headers). */
export async function keyRequestApi (
  app: FastifyInstance, { service, holder }: KeyRequestRoutesOptions
): Promise<void> {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: BODY_LIMIT }, app.getDefaultJsonParser('error', 'error'))
  app.addHook('onRequest', async (_request, reply) => { reply.headers(API_HEADERS) })

  app.get('/doc/api/key-requests/integrations', async () => ({ items: keyedIntegrations(holder) }))

  app.post('/doc/api/key-requests', { schema: { body: KeyRequestBody }, bodyLimit: BODY_LIMIT }, async (request, reply) => {
    const body = request.body as KeyRequestBodyT
    const known = new Set(keyedIntegrations(holder).map((i) => i.name))
    const unknown = body.integrations.find((name) => !known.has(name))
    if (unknown !== undefined) throw new GerbangError('BAD_REQUEST', `'${unknown}' is not an integration that needs a key`)
    const saved = await service.submit(body, request.ip)
    reply.code(201)
    return { id: saved.id, status: saved.status, createdAt: saved.createdAt }
  })

  app.post('/doc/api/key-links/check', { schema: { body: LinkBody }, bodyLimit: BODY_LIMIT }, async (request) => {
    const found = await service.check((request.body as { token: string }).token, request.ip)
    return { agency: found.agency, app: found.app, linkExpiresAt: found.linkExpiresAt }
  })

  app.post('/doc/api/key-links/open', { schema: { body: LinkBody }, bodyLimit: BODY_LIMIT }, async (request) => {
    const { client, key } = await service.open((request.body as { token: string }).token, request.ip)
    return {
      clientId: client.id,
      client: client.name,
      key,
      integrations: client.integrations,
      ...(client.rateLimit !== undefined ? { rateLimit: client.rateLimit } : {}),
      ...(client.quota !== undefined ? { quota: client.quota } : {}),
      ...(client.expiresAt !== undefined ? { expiresAt: client.expiresAt } : {})
    }
  })
}
