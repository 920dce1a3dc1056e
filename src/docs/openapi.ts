import type { Integration, RoutesConfig } from '../config/routes-loader.js'
import { codes, PROBLEM_CONTENT_TYPE, type ErrorCode } from '../errors.js'
import { TOKEN_PATH } from '../auth/oauth2.js'
import { portalDescription } from './portal.js'
import { FORM_KEY_BODY_LIMIT } from '../proxy/api-key-form.js'
import type { DocLang } from './servers.js'
import { openApiTexts, type DocProblemCode, type OpenApiTexts, type RateLimitHeader } from './openapi-texts.js'

// Builds the one OpenAPI 3.1 document /doc serves (issue 5) from the loaded
// routes: never from the proxy's wildcard route. In either language: the
// texts Gerbang writes come from openapi-texts.ts; what routes.yaml and the
// upstreams' OpenAPI documents say is copied as written.

export type OpenApiDocument = Record<string, unknown> & { paths: Record<string, Record<string, unknown>> }

/** [status, code, the example's detail (the gateway's own words, English in both languages)] */
const ERRORS: Array<[string, DocProblemCode, string]> = [
  ['401', 'CREDENTIALS_MISSING', 'send an API key in the x-api-key header, or a bearer token from POST /oauth2/v1/accesstoken'],
  ['403', 'INTEGRATION_FORBIDDEN', 'client demo may not call yankes'],
  ['404', 'ROUTE_NOT_FOUND', 'no integration serves /tidak-ada'],
  ['413', 'PAYLOAD_TOO_LARGE', 'the request body is larger than 1048576 bytes, the limit for dashboard'],
  ['429', 'RATE_LIMITED', 'over the limit of default; retry after 42 s'],
  ['502', 'UPSTREAM_UNAVAILABLE', 'yankes refused the connection'],
  ['503', 'UPSTREAM_CIRCUIT_OPEN', 'yankes is failing; calls are paused for 30 s'],
  ['504', 'UPSTREAM_TIMEOUT', 'yankes did not answer within 10000 ms']
]

const RATE_LIMIT_EXAMPLES: Record<RateLimitHeader, string | number> = {
  RateLimit: '"default";r=59;t=42',
  'RateLimit-Policy': '"default";q=60;w=60',
  'X-RateLimit-Limit': 60,
  'X-RateLimit-Remaining': 59,
  'X-RateLimit-Reset': 42
}

function problemExample (status: string, code: ErrorCode, detail: string): Record<string, unknown> {
  return {
    type: 'about:blank',
    title: codes[code].title,
    status: Number(status),
    code,
    detail,
    instance: '/yankes/kamar',
    requestId: '0b9c5b7e-2f8e-4c5a-9f3e-6f1d2a7c4e10',
    timestamp: '2026-11-21T10:10:58.353Z'
  }
}

function components (t: OpenApiTexts): Record<string, Record<string, unknown>> {
  const responses: Record<string, unknown> = {}
  for (const [status, code, detail] of ERRORS) {
    responses[`Problem${status}`] = {
      description: t[`problem.${code}`],
      headers: status === '429'
        ? { ...successHeaders(true), 'Retry-After': { $ref: '#/components/headers/Retry-After' } }
        : successHeaders(false),
      content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/Problem' }, example: problemExample(status, code, detail) } }
    }
  }
  const headers: Record<string, unknown> = {
    'x-request-id': {
      description: t['header.x-request-id'],
      schema: { type: 'string' },
      example: '0b9c5b7e-2f8e-4c5a-9f3e-6f1d2a7c4e10'
    },
    'Retry-After': { description: t['header.Retry-After'], schema: { type: 'integer' }, example: 42 }
  }
  for (const [name, example] of Object.entries(RATE_LIMIT_EXAMPLES) as Array<[RateLimitHeader, string | number]>) {
    headers[name] = { description: t[`header.${name}`], schema: { type: typeof example === 'number' ? 'integer' : 'string' }, example }
  }
  return {
    schemas: {
      Problem: {
        type: 'object',
        description: t['schema.Problem'],
        required: ['type', 'title', 'status', 'code', 'detail', 'instance', 'requestId', 'timestamp'],
        properties: {
          type: { type: 'string', example: 'about:blank' },
          title: { type: 'string', example: 'Gateway Timeout' },
          status: { type: 'integer', example: 504 },
          code: { type: 'string', enum: Object.keys(codes), example: 'UPSTREAM_TIMEOUT' },
          detail: { type: 'string', example: 'yankes did not answer within 10000 ms' },
          instance: { type: 'string', example: '/yankes/kamar' },
          requestId: { type: 'string', example: '0b9c5b7e-2f8e-4c5a-9f3e-6f1d2a7c4e10' },
          timestamp: { type: 'string', format: 'date-time', example: '2026-11-21T10:10:58.353Z' },
          upstreamStatus: { type: 'integer', description: t['schema.upstreamStatus'], example: 500 }
        }
      },
      AccessToken: {
        type: 'object',
        properties: {
          access_token: { type: 'string' },
          token_type: { type: 'string', example: 'BearerToken' },
          expires_in: { type: 'string', example: '14399' },
          issued_at: { type: 'string', example: '1763720000000' },
          client_id: { type: 'string' },
          status: { type: 'string', example: 'approved' }
        }
      },
      OAuthError: {
        type: 'object',
        properties: { error: { type: 'string', example: 'invalid_client' }, error_description: { type: 'string' } }
      }
    },
    responses,
    headers,
    securitySchemes: {
      apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: t['security.apiKey'] },
      oauth2: {
        type: 'oauth2',
        description: t['security.oauth2'],
        flows: { clientCredentials: { tokenUrl: TOKEN_PATH, scopes: {} } }
      }
    }
  }
}

function successHeaders (rateLimited: boolean): Record<string, unknown> {
  const headers: Record<string, unknown> = { 'x-request-id': { $ref: '#/components/headers/x-request-id' } }
  if (rateLimited) for (const name of Object.keys(RATE_LIMIT_EXAMPLES)) headers[name] = { $ref: `#/components/headers/${name}` }
  return headers
}

function decorate (integration: Integration, operation: Record<string, unknown>): Record<string, unknown> {
  const responses: Record<string, unknown> = {}
  const headers = successHeaders(true)
  for (const [status, response] of Object.entries((operation.responses ?? {}) as Record<string, unknown>)) {
    if (response !== null && typeof response === 'object' && !('$ref' in response)) {
      const own = (response as { headers?: Record<string, unknown> }).headers ?? {}
      responses[status] = { ...response, headers: { ...headers, ...own } }
    } else {
      responses[status] = response
    }
  }
  for (const [status] of ERRORS) {
    if ((status === '401' || status === '403') && integration.auth === 'none') continue
    if (responses[status] === undefined) responses[status] = { $ref: `#/components/responses/Problem${status}` }
  }
  return {
    ...operation,
    tags: [integration.name],
    ...(integration.auth === 'apiKey' ? { security: [{ apiKey: [] }, { oauth2: [] }] } : { security: [] }),
    responses
  }
}

function catchAll (integration: Integration, t: OpenApiTexts): Record<string, unknown> {
  const methods = integration.methods === null ? null : [...integration.methods]
  return {
    summary: t.catchAllSummary(integration.prefix),
    description: t.catchAllDescription(integration.prefix, methods, integration.docs?.openapiUrl),
    operationId: `${integration.name}.catchAll`,
    parameters: [{
      name: 'path',
      in: 'path',
      required: true,
      description: t['catchAll.path'],
      schema: { type: 'string' }
    }],
    responses: { 200: { description: t['catchAll.answer'] } }
  }
}

function tokenEndpoint (t: OpenApiTexts): Record<string, unknown> {
  return {
    post: {
      tags: ['oauth2'],
      summary: t['token.summary'],
      description: t['token.description'],
      operationId: 'oauth2.accessToken',
      security: [],
      parameters: [{ name: 'grant_type', in: 'query', required: true, schema: { type: 'string', enum: ['client_credentials'] } }],
      requestBody: {
        required: true,
        content: {
          'application/x-www-form-urlencoded': {
            schema: {
              type: 'object',
              required: ['client_id', 'client_secret'],
              properties: {
                client_id: { type: 'string', description: t['token.clientId'] },
                client_secret: { type: 'string', description: t['token.clientSecret'] }
              }
            }
          }
        }
      },
      responses: {
        200: {
          description: t['token.200'],
          headers: successHeaders(false),
          content: {
            'application/json': {
              schema: { $ref: '#/components/schemas/AccessToken' },
              example: {
                access_token: 'q8v1k3…',
                token_type: 'BearerToken',
                expires_in: '14399',
                issued_at: '1763720000000',
                client_id: 'dinkes-serang',
                status: 'approved'
              }
            }
          }
        },
        400: { description: t['token.400'], content: { 'application/json': { schema: { $ref: '#/components/schemas/OAuthError' } } } },
        401: { description: t['token.401'], content: { 'application/json': { schema: { $ref: '#/components/schemas/OAuthError' } } } },
        429: {
          description: t['token.429'],
          headers: { 'Retry-After': { schema: { type: 'integer' }, description: t['token.retryAfter'] } },
          content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } }
        }
      }
    }
  }
}

/**
 * For the tag: the origins of browser apps the integration's `cors:` allows
 * (docs/contract.md section 8); '' without cors.
 */
function corsNote ({ cors }: Integration, t: OpenApiTexts): string {
  if (cors === null) return ''
  const origins = cors.origins[0] === '*'
    ? t['cors.all']
    : cors.origins.map((o) => `\`${o}\``).join(', ') + (cors.origins.some((o) => o.includes('*')) ? t['cors.subdomains'] : '')
  return t.corsNote(origins, cors.credentials ? t['cors.credentials'] : '')
}

/**
 * For the tag: where a key is accepted besides the x-api-key header, the old
 * API manager's query parameter (apiKeyQuery) and form field (apiKeyForm,
 * src/proxy/api-key-form.ts); '' when only the header.
 */
function keyPlacesNote ({ auth, apiKeyQuery, apiKeyForm }: Integration, t: OpenApiTexts): string {
  if (auth === 'none' || (apiKeyQuery === undefined && apiKeyForm === undefined)) return ''
  const places: string[] = []
  if (apiKeyQuery !== undefined) places.push(t.keyQuery(apiKeyQuery))
  if (apiKeyForm !== undefined) places.push(t.keyForm(apiKeyForm, FORM_KEY_BODY_LIMIT / (1024 * 1024)))
  return t.keyPlacesNote(places)
}

/**
 * For the tag: how many upstream servers serve the integration and whether
 * they are probed. Their addresses are internal and stay off this public
 * page; /admin (Routes) and /readyz name them.
 */
function targetsNote ({ targets, healthCheck }: Integration, t: OpenApiTexts): string {
  if (targets.length === 1 && healthCheck === null) return ''
  const servers = targets.length === 1 ? t['targets.one'] : t.targets(targets.length)
  return t.targetsNote(servers, healthCheck === null ? null : healthCheck.intervalMs / 1000)
}

/**
 * Whether the integration accepts WebSocket (`websocket: true`): on every
 * tag as `x-websocket`, and for readers in the description of those that
 * do, with where to connect and how a browser sends its key.
 */
function webSocketTag (
  integration: Integration, tag: { name: string, description: string }, t: OpenApiTexts
): Record<string, unknown> {
  if (!integration.websocket) return { ...tag, 'x-websocket': false }
  const key = integration.auth === 'none'
    ? ''
    : integration.apiKeyQuery === undefined
      ? t['webSocket.key']
      : t.webSocketKeyQuery(integration.prefix, integration.apiKeyQuery)
  return {
    ...tag,
    description: tag.description + t.webSocketNote(integration.prefix, key, integration.idleTimeoutMs / 1000),
    'x-websocket': true
  }
}

/** The OpenAPI 3.1 document of every integration in `routes`, in `lang` (Bahasa Indonesia by default). */
export function buildOpenApi (routes: RoutesConfig, lang: DocLang = 'id'): OpenApiDocument {
  const t = openApiTexts(lang)
  const comps = components(t)
  const paths: Record<string, Record<string, unknown>> = {}
  const tags: Array<Record<string, unknown>> = []
  for (const integration of routes.integrations) {
    tags.push(webSocketTag(integration, {
      name: integration.name,
      description: (integration.description !== '' ? integration.description : t.integration(integration.name)) +
        keyPlacesNote(integration, t) + corsNote(integration, t) + targetsNote(integration, t)
    }, t))
    for (const [kind, entries] of Object.entries(integration.docs?.components ?? {})) {
      comps[kind] = { ...(comps[kind] ?? {}), ...entries }
    }
    const operations = integration.docs?.operations ?? []
    if (operations.length === 0) {
      const item = paths[`${integration.prefix}/{path}`] ??= {}
      const methods = integration.methods === null ? ['get'] : [...integration.methods].filter((m) => m !== 'HEAD').map((m) => m.toLowerCase())
      const method = methods.includes('get') ? 'get' : methods[0] ?? 'get'
      item[method] = decorate(integration, catchAll(integration, t))
      continue
    }
    for (const { method, path, operation } of operations) {
      const full = path === '/' ? integration.prefix : integration.prefix + path
      const item = paths[full] ??= {}
      item[method] = decorate(integration, {
        operationId: `${integration.name}.${method}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+/g, '.')}`.replace(/\.$/, ''),
        ...operation
      })
    }
  }
  tags.push({ name: 'oauth2', description: t['oauth2.tag'] })
  paths[TOKEN_PATH] = tokenEndpoint(t)
  return {
    openapi: '3.1.0',
    info: { title: t['info.title'], version: '1.0.0', description: portalDescription(lang) },
    servers: [{ url: '/' }],
    tags,
    paths,
    components: comps
  }
}
