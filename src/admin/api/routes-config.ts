import { Type } from '@sinclair/typebox'
import type { AdminApi, AdminDeps } from './deps.js'
import { formatRate } from '../../config/units.js'
import { answers } from './schemas.js'
import { targetStates } from '../../proxy/balancer.js'

const RoutesView = Type.Object({
  file: Type.String(),
  yaml: Type.String({ description: 'the file as written, environment references unexpanded, so no secret shows' }),
  lastReload: Type.Object({
    at: Type.String(),
    ok: Type.Boolean(),
    problems: Type.Array(Type.String(), { description: 'FILE:LINE: path: message, when the file was refused' }),
    added: Type.Optional(Type.Array(Type.String())),
    removed: Type.Optional(Type.Array(Type.String())),
    changed: Type.Optional(Type.Array(Type.String()))
  }),
  integrations: Type.Array(Type.Object({
    name: Type.String(),
    prefix: Type.String(),
    upstream: Type.String({ description: 'the first target with the base path' }),
    targets: Type.Array(Type.Object({
      url: Type.String(),
      weight: Type.Integer(),
      state: Type.String({ description: 'up or down, now' })
    }), { description: 'every upstream target (docs/contract.md section 14)' }),
    healthCheck: Type.Union([Type.Object({ path: Type.String(), intervalMs: Type.Integer() }), Type.Null()]),
    methods: Type.Union([Type.Array(Type.String()), Type.Null()]),
    auth: Type.String(),
    timeoutMs: Type.Integer(),
    rateLimit: Type.String(),
    description: Type.String(),
    cors: Type.Union([Type.Object({
      origins: Type.Array(Type.String()),
      credentials: Type.Boolean()
    }), Type.Null()], { description: 'the browser origins its cors: allows (docs/contract.md section 8); null: none' }),
    websocket: Type.Boolean({ description: 'accepts WebSocket upgrades (websocket: true, docs/contract.md section 9)' }),
    idleTimeoutMs: Type.Integer({ description: 'longest silence between two chunks of an answer, or two WebSocket messages' })
  }))
})

/** The loaded routes.yaml, read-only; and the admin API's own OpenAPI document. */
export async function routesConfigRoutes (app: AdminApi, { holder }: AdminDeps): Promise<void> {
  // Off the public /doc (issue 18): who may read the routes may read how to manage them.
  app.get('/openapi.json', {
    config: { access: 'routes:read' },
    schema: { summary: 'This API\'s OpenAPI 3.1 document (the public /doc/json documents the integrations only)' }
  }, async () => {
    app.swagger() // the first call hands the admin routes' schemas to the holder
    return app.docs.adminDocument
  })

  app.get('/routes', {
    config: { access: 'routes:read' },
    schema: { summary: 'The loaded routes.yaml and the result of its last reload', response: answers(200, RoutesView, 403) }
  }, async () => {
    const { config } = holder.table
    const states = targetStates(holder)
    return {
      file: config.source?.file ?? '',
      yaml: config.source?.text ?? '',
      lastReload: holder.lastReload,
      integrations: config.integrations.map((i) => ({
        name: i.name,
        prefix: i.prefix,
        upstream: i.origin + i.upstreamPathPrefix,
        targets: (states[i.name] ?? []).map((x) =>
          ({ url: x.target + i.upstreamPathPrefix, weight: x.weight, state: x.state })),
        healthCheck: i.healthCheck === null ? null : { path: i.healthCheck.path, intervalMs: i.healthCheck.intervalMs },
        methods: i.methods === null ? null : [...i.methods],
        auth: i.auth,
        timeoutMs: i.timeoutMs,
        rateLimit: formatRate(i.rateLimit),
        description: i.description,
        cors: i.cors === null ? null : { origins: [...i.cors.origins], credentials: i.cors.credentials },
        websocket: i.websocket,
        idleTimeoutMs: i.idleTimeoutMs
      }))
    }
  })
}
