import { Type } from '@sinclair/typebox'
import { clientStatus } from '../../auth/clients.js'
import { GerbangError } from '../../errors.js'
import { clientTraffic, requestsToday } from '../../analytics/traffic-report.js'
import type { Client, CounterStore } from '../../store/types.js'
import type { AdminApi, AdminDeps } from './deps.js'
import { adminOf } from './guard.js'
import {
  answers, ClientList, ClientListQuery, ClientPatchBody, ClientView, ClientWithKey, IdParams, Latency, NewClientBody,
  RotateBody, StatusClasses
} from './schemas.js'
import { parseDuration } from '../../config/units.js'
import { Value } from '@sinclair/typebox/value'

/** The longest grace an old key gets after a rotation from the admin UI. */
const MAX_GRACE_MS = 30 * 24 * 3600_000
/** A client's page shows its audit history from this many newest entries. */
const CLIENT_AUDIT_SCAN = 2000

const view = (client: Client, today: number): Record<string, unknown> =>
  ({ ...client, status: clientStatus(client), requestsToday: today })

/** One client's view, with its requests today read from the store. */
async function viewOne (store: CounterStore, client: Client): Promise<Record<string, unknown>> {
  const [today = 0] = await requestsToday(store, [client.id])
  return view(client, today)
}

/** Clients and their keys. A key appears in exactly two answers: create and rotate. */
export async function clientRoutes (app: AdminApi, { clients, store, holder }: AdminDeps): Promise<void> {
  app.get('/integrations', {
    config: { access: 'clients:read' },
    schema: {
      summary: 'The integrations a client can be given',
      response: answers(200, Type.Object({
        items: Type.Array(Type.Object({ name: Type.String(), description: Type.String() }))
      }), 403)
    }
  }, async () =>
    ({ items: holder.table.config.integrations.map((i) => ({ name: i.name, description: i.description })) }))

  app.get('/clients', {
    config: { access: 'clients:read' },
    schema: { summary: 'Clients sorted by name; search matches part of the name', querystring: ClientListQuery, response: answers(200, ClientList, 400, 403) }
  }, async (request) => {
    const { search, offset, limit } = request.query
    const [page, total] = await Promise.all([
      clients.list(search?.trim(), limit + 1, offset),
      store.countClients()
    ])
    const items = page.slice(0, limit)
    const today = await requestsToday(store, items.map((c) => c.id))
    return { items: items.map((c, i) => view(c, today[i] ?? 0)), total, hasMore: page.length > limit }
  })

  app.get('/clients/:id', {
    config: { access: 'clients:read' },
    schema: { summary: 'One client', params: IdParams, response: answers(200, ClientView, 403, 404) }
  }, async (request) => {
    const { id } = request.params
    const client = await clients.get(id)
    if (client === undefined) throw notFound(id)
    return await viewOne(store, client)
  })

  app.post('/clients', {
    config: { access: 'clients:write' },
    schema: {
      summary: 'Add a client with its first key (shown once)',
      body: NewClientBody,
      response: answers(201, ClientWithKey, 400, 403, 409)
    }
  }, async (request, reply) => {
    const body = request.body
    const known = new Set(holder.table.config.integrations.map((i) => i.name))
    const unknown = body.integrations === '*' ? undefined : body.integrations.find((i) => !known.has(i))
    if (unknown !== undefined) throw new GerbangError('BAD_REQUEST', `there is no integration named '${unknown}'`)
    const created = await clients.create({
      name: body.name,
      description: body.description ?? '',
      integrations: body.integrations,
      ...(body.rateLimit !== undefined && body.rateLimit !== '' ? { rateLimit: body.rateLimit } : {}),
      ...(body.expiresAt !== undefined && body.expiresAt !== '' ? { expiresAt: body.expiresAt } : {})
    }, adminOf(request).user.email)
    reply.code(201)
    return { client: view(created.client, 0), key: created.key }
  })

  app.patch('/clients/:id', {
    config: { access: 'clients:write' },
    schema: {
      summary: 'Change a client\'s integrations, limits, quota, expiry, description or allowed IPs (null removes a limit, the expiry or the IP list)',
      params: IdParams,
      body: ClientPatchBody,
      response: answers(200, Type.Object({ client: ClientView }), 400, 403, 404)
    }
  }, async (request) => {
    const { id } = request.params
    const body = request.body
    if (body.integrations !== undefined && body.integrations !== '*') {
      const known = new Set(holder.table.config.integrations.map((i) => i.name))
      const unknown = body.integrations.find((i) => !known.has(i))
      if (unknown !== undefined) throw new GerbangError('BAD_REQUEST', `there is no integration named '${unknown}'`)
    }
    // An emptied field in the admin UI removes the limit or expiry, as null does.
    const empty = (v: string | null): string | null => v === '' ? null : v
    const client = await clients.update(id, {
      ...(body.description !== undefined ? { description: body.description } : {}),
      ...(body.integrations !== undefined ? { integrations: body.integrations } : {}),
      ...(body.rateLimit !== undefined ? { rateLimit: empty(body.rateLimit) } : {}),
      ...(body.quota !== undefined ? { quota: empty(body.quota) } : {}),
      ...(body.expiresAt !== undefined ? { expiresAt: empty(body.expiresAt) } : {}),
      ...(body.allowedIps !== undefined ? { allowedIps: body.allowedIps } : {})
    }, adminOf(request).user.email)
    if (client === undefined) throw notFound(id)
    return { client: await viewOne(store, client) }
  })

  app.delete('/clients/:id', {
    config: { access: 'clients:write' },
    schema: { summary: 'Delete a revoked client for good (an active one must be revoked first)', params: IdParams, response: answers(204, null, 403, 404, 409) }
  }, async (request, reply) => {
    const { id } = request.params
    if (!await clients.delete(id, adminOf(request).user.email)) {
      if (await clients.get(id) !== undefined) throw new GerbangError('CONFLICT', 'only a revoked client can be deleted; revoke it first')
      throw notFound(id)
    }
    return await reply.code(204).send()
  })

  app.get('/clients/:id/traffic', {
    config: { access: 'clients:read' },
    schema: {
      summary: 'One client\'s requests over the last 24 hours: per hour, by status class, and latency',
      params: IdParams,
      response: answers(200, Type.Object({
        requests: Type.Integer(),
        classes: StatusClasses,
        latency: Latency,
        points: Type.Array(Type.Object({
          t: Type.String(), requests: Type.Integer(), clientErrors: Type.Integer(), serverErrors: Type.Integer()
        }))
      }), 403, 404)
    }
  }, async (request) => {
    const { id } = request.params
    if (await clients.get(id) === undefined) throw notFound(id)
    return await clientTraffic(store, id)
  })

  app.get('/clients/:id/audit', {
    config: { access: 'audit:read' },
    schema: {
      summary: 'The audit log entries about one client, newest first (from the newest 2,000 entries)',
      params: IdParams,
      response: answers(200, Type.Object({ items: Type.Array(Type.Record(Type.String(), Type.Unknown())) }), 403)
    }
  }, async (request) => {
    const { id } = request.params
    const entries = await store.listAudit(0, CLIENT_AUDIT_SCAN)
    return { items: entries.filter((e) => e.targetType === 'client' && e.targetId === id).slice(0, 100) }
  })

  app.post('/clients/:id/revoke', {
    config: { access: 'clients:write' },
    schema: { summary: 'Revoke a client: its keys and tokens stop working at once', params: IdParams, response: answers(200, Type.Object({ client: ClientView }), 403, 404) }
  }, async (request) => {
    const { id } = request.params
    const client = await clients.revoke(id, adminOf(request).user.email)
    if (client === undefined) throw notFound(id)
    return { client: await viewOne(store, client) }
  })

  app.post('/clients/:id/rotate', {
    config: { access: 'clients:write' },
    schema: {
      summary: 'Give a client a new key (shown once); the old one stops working, or after the grace given',
      description: 'Optional JSON body `{ "grace": "1h" }`: how long the old key keeps working (at most 30d); without it the old key stops at once.',
      params: IdParams,
      response: answers(200, ClientWithKey, 400, 403, 404, 409)
    }
  }, async (request) => {
    const { id } = request.params
    // No body schema: a rotate without a body (the grace defaults to 0) must stay valid.
    const body = request.body ?? {}
    if (!Value.Check(RotateBody, body)) throw new GerbangError('BAD_REQUEST', 'the body may only hold grace, a duration like 1h')
    const grace = body.grace
    const graceMs = grace === undefined ? 0 : parseDuration(grace)
    if (graceMs === undefined || graceMs > MAX_GRACE_MS) throw new GerbangError('BAD_REQUEST', `grace '${grace ?? ''}' must be a duration of at most 30d, like 1h`)
    const rotated = await clients.rotate(id, graceMs, adminOf(request).user.email)
    if (rotated === undefined) {
      if (await clients.get(id) !== undefined) throw new GerbangError('CONFLICT', 'a revoked client cannot get a new key')
      throw notFound(id)
    }
    return { client: await viewOne(store, rotated.client), key: rotated.key }
  })
}

function notFound (id: string): GerbangError {
  return new GerbangError('NOT_FOUND', `there is no client with id '${id}'`)
}
