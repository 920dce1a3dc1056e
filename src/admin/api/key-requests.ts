import type { FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { clientStatus } from '../../auth/clients.js'
import { keyRequestsOf, keyRequestView, type Grant } from '../../auth/key-requests.js'
import { KEY_PAGE } from '../../docs/key-request-pages.js'
import { GerbangError } from '../../errors.js'
import { KEY_REQUEST_STATUSES, type KeyRequest } from '../../store/types.js'
import type { AdminApi, AdminDeps } from './deps.js'
import { adminOf } from './guard.js'
import { answers, ClientView, IdParams } from './schemas.js'

// The operators' side of self-service key requests (issue 18, item 6): the
// queue (clients:read), approve with limits, decline with a reason, a new
// one-time link (clients:write). The link's token is in exactly two answers,
// approve and new link; the store keeps only its SHA-256. The workflow:
// src/auth/key-requests.ts.

const Iso = Type.String({ format: 'date-time', description: 'ISO 8601, UTC' })
const Status = Type.Union(KEY_REQUEST_STATUSES.map((s) => Type.Literal(s)))

const KeyRequestView = Type.Object({
  id: Type.String(),
  agency: Type.String(),
  app: Type.String(),
  email: Type.String(),
  integrations: Type.Array(Type.String(), { description: 'what was asked for' }),
  purpose: Type.String(),
  address: Type.String({ description: 'where the request came from (GERBANG_TRUST_PROXY decides which address)' }),
  createdAt: Iso,
  status: Status,
  decidedBy: Type.Optional(Type.String()),
  decidedAt: Type.Optional(Iso),
  reason: Type.Optional(Type.String({ description: 'why it was declined' })),
  clientId: Type.Optional(Type.String({ description: 'the client its approval created' })),
  linkExpiresAt: Type.Optional(Iso),
  issuedAt: Type.Optional(Iso),
  issuedTo: Type.Optional(Type.String({ description: 'the address the key was shown to' })),
  expiredAt: Type.Optional(Iso)
})

const Link = Type.Object({
  url: Type.String({ description: 'the one-time link to send to the requester (shown this once): the production server of GERBANG_DOC_SERVERS, or a path on this server' }),
  expiresAt: Iso
})

const ListQuery = Type.Object({
  status: Type.Optional(Status),
  offset: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }),
  limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 })
}, { additionalProperties: false })

const Counts = Type.Object(Object.fromEntries(KEY_REQUEST_STATUSES.map((s) => [s, Type.Integer()])))

export const ApproveBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 100, description: 'the client\'s name (unique)' }),
  description: Type.Optional(Type.String({ maxLength: 500 })),
  integrations: Type.Union([Type.Array(Type.String({ pattern: '^[a-z0-9-]+$' }), { minItems: 1, maxItems: 500 }), Type.Literal('*')]),
  rateLimit: Type.Optional(Type.String({ maxLength: 40, description: 'e.g. 100/1m' })),
  quota: Type.Optional(Type.String({ maxLength: 40, description: 'e.g. 10000/1d' })),
  expiresAt: Type.Optional(Type.String({ maxLength: 40, description: 'ISO 8601' }))
}, { additionalProperties: false })

const DeclineBody = Type.Object({
  reason: Type.String({ minLength: 3, maxLength: 500, description: 'told to the requester by the operators' })
}, { additionalProperties: false })

export async function keyRequestRoutes (app: AdminApi, { store, clients, holder }: AdminDeps): Promise<void> {
  const service = keyRequestsOf(store, clients)
  const view = (r: KeyRequest): Record<string, unknown> => keyRequestView(r)
  // The production server when GERBANG_DOC_SERVERS names one (the admin UI may have an origin of its own), else a path.
  const linkFor = (token: string, expiresAt: string | undefined): { url: string, expiresAt: string } => {
    const production = app.docs.servers.find((s) => s.kind === 'production')
    return { url: `${production?.url ?? ''}${KEY_PAGE}#${token}`, expiresAt: expiresAt ?? '' }
  }
  const who = (request: FastifyRequest): string => adminOf(request).user.email

  app.get('/key-requests', {
    config: { access: 'clients:read' },
    schema: {
      summary: 'Self-service key requests from /doc, newest first; links past their 24 h are marked expired first',
      querystring: ListQuery,
      response: answers(200, Type.Object({
        items: Type.Array(KeyRequestView), hasMore: Type.Boolean(), counts: Counts
      }), 400, 403)
    }
  }, async (request) => {
    const { status, offset, limit } = request.query
    const page = await service.list(status, offset, limit)
    return { ...page, items: page.items.map(view) }
  })

  app.get('/key-requests/:id', {
    config: { access: 'clients:read' },
    schema: { summary: 'One key request', params: IdParams, response: answers(200, KeyRequestView, 403, 404) }
  }, async (request) => {
    const { id } = request.params
    const found = await service.get(id)
    if (found === undefined) throw new GerbangError('NOT_FOUND', `there is no key request with id '${id}'`)
    return view(found)
  })

  app.post('/key-requests/:id/approve', {
    config: { access: 'clients:write' },
    schema: {
      summary: 'Approve a pending request: creates its client with these integrations and limits, and a one-time link (24 h) that shows the key once',
      params: IdParams,
      body: ApproveBody,
      response: answers(200,
        Type.Object({ request: KeyRequestView, client: ClientView, link: Link }), 400, 403, 404, 409)
    }
  }, async (request) => {
    const { id } = request.params
    const body = request.body
    if (body.integrations !== '*') {
      const known = new Set(holder.table.config.integrations.map((i) => i.name))
      const unknown = body.integrations.find((name) => !known.has(name))
      if (unknown !== undefined) throw new GerbangError('BAD_REQUEST', `there is no integration named '${unknown}'`)
    }
    const given = (v: string | undefined): v is string => v !== undefined && v.trim() !== ''
    const grant: Grant = {
      name: body.name,
      integrations: body.integrations,
      ...(given(body.description) ? { description: body.description } : {}),
      ...(given(body.rateLimit) ? { rateLimit: body.rateLimit.trim() } : {}),
      ...(given(body.quota) ? { quota: body.quota.trim() } : {}),
      ...(given(body.expiresAt) ? { expiresAt: body.expiresAt.trim() } : {})
    }
    const approved = await service.approve(id, grant, who(request), request.ip)
    return {
      request: view(approved.request),
      client: { ...approved.client, status: clientStatus(approved.client), requestsToday: 0 },
      link: linkFor(approved.token, approved.request.linkExpiresAt)
    }
  })

  app.post('/key-requests/:id/decline', {
    config: { access: 'clients:write' },
    schema: {
      summary: 'Decline a pending request with a reason (the operators tell the requester; Gerbang sends no mail)',
      params: IdParams,
      body: DeclineBody,
      response: answers(200, Type.Object({ request: KeyRequestView }), 400, 403, 404, 409)
    }
  }, async (request) => {
    const { id } = request.params
    const declined = await service.decline(id, request.body.reason, who(request), request.ip)
    return { request: view(declined) }
  })

  app.post('/key-requests/:id/link', {
    config: { access: 'clients:write' },
    schema: {
      summary: 'A new one-time link for an approved request whose key was not shown yet (the old link stops working)',
      params: IdParams,
      response: answers(200, Type.Object({ request: KeyRequestView, link: Link }), 403, 404, 409)
    }
  }, async (request) => {
    const { id } = request.params
    const relinked = await service.relink(id, who(request), request.ip)
    return { request: view(relinked.request), link: linkFor(relinked.token, relinked.request.linkExpiresAt) }
  })
}
