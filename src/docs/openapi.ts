import type { Integration, RoutesConfig } from '../config/routes-loader.js'
import { codes, PROBLEM_CONTENT_TYPE, type ErrorCode } from '../errors.js'
import { TOKEN_PATH } from '../auth/oauth2.js'
import { portalDescription } from './portal.js'
import { FORM_KEY_BODY_LIMIT } from '../proxy/api-key-form.js'

// Builds the one OpenAPI 3.1 document /doc serves (issue 5) from the loaded
// routes: never from the proxy's wildcard route.

export type OpenApiDocument = Record<string, unknown> & { paths: Record<string, Record<string, unknown>> }

const ERRORS: Array<[string, ErrorCode, string, string]> = [
  ['401', 'CREDENTIALS_MISSING', 'Kunci API atau token tidak ada, tidak dikenal, dicabut atau kedaluwarsa',
    'send an API key in the x-api-key header, or a bearer token from POST /oauth2/v1/accesstoken'],
  ['403', 'INTEGRATION_FORBIDDEN', 'Klien sah, tetapi tidak diberi akses ke integrasi ini', 'client demo may not call yankes'],
  ['404', 'ROUTE_NOT_FOUND', 'Tidak ada integrasi yang melayani jalur ini', 'no integration serves /tidak-ada'],
  ['413', 'PAYLOAD_TOO_LARGE', 'Badan permintaan melebihi batas integrasi', 'the request body is larger than 1048576 bytes, the limit for dashboard'],
  ['429', 'RATE_LIMITED', 'Melebihi batas laju klien untuk integrasi ini', 'over the limit of default; retry after 42 s'],
  ['502', 'UPSTREAM_UNAVAILABLE', 'Layanan hulu (upstream) tidak dapat dihubungi atau menjawab 5xx', 'yankes refused the connection'],
  ['503', 'UPSTREAM_CIRCUIT_OPEN', 'Layanan hulu sedang dihentikan sementara (circuit breaker) atau penyimpanan gateway tidak tersedia', 'yankes is failing; calls are paused for 30 s'],
  ['504', 'UPSTREAM_TIMEOUT', 'Layanan hulu tidak menjawab dalam batas waktu', 'yankes did not answer within 10000 ms']
]

const RATE_LIMIT_HEADERS: Record<string, { description: string, example: string | number }> = {
  RateLimit: { description: 'Sisa kuota jendela saat ini (draft-ietf-httpapi-ratelimit-headers)', example: '"default";r=59;t=42' },
  'RateLimit-Policy': { description: 'Kebijakan batas laju: kuota q per jendela w detik', example: '"default";q=60;w=60' },
  'X-RateLimit-Limit': { description: 'Jumlah permintaan yang diizinkan per jendela', example: 60 },
  'X-RateLimit-Remaining': { description: 'Sisa permintaan dalam jendela ini', example: 59 },
  'X-RateLimit-Reset': { description: 'Detik sampai jendela diatur ulang', example: 42 }
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

function components (): Record<string, Record<string, unknown>> {
  const responses: Record<string, unknown> = {}
  for (const [status, code, description, detail] of ERRORS) {
    responses[`Problem${status}`] = {
      description,
      headers: status === '429'
        ? { ...successHeaders(true), 'Retry-After': { $ref: '#/components/headers/Retry-After' } }
        : successHeaders(false),
      content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/Problem' }, example: problemExample(status, code, detail) } }
    }
  }
  const headers: Record<string, unknown> = {
    'x-request-id': {
      description: 'Pengenal permintaan: nilai dari klien bila wajar, selain itu UUID baru; sama dengan `requestId` di dokumen Problem',
      schema: { type: 'string' },
      example: '0b9c5b7e-2f8e-4c5a-9f3e-6f1d2a7c4e10'
    },
    'Retry-After': { description: 'Detik sebelum boleh mencoba lagi', schema: { type: 'integer' }, example: 42 }
  }
  for (const [name, { description, example }] of Object.entries(RATE_LIMIT_HEADERS)) {
    headers[name] = { description, schema: { type: typeof example === 'number' ? 'integer' : 'string' }, example }
  }
  return {
    schemas: {
      Problem: {
        type: 'object',
        description: 'Dokumen kesalahan RFC 9457 yang dikirim gateway sendiri',
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
          upstreamStatus: { type: 'integer', description: 'Status dari layanan hulu (hanya UPSTREAM_ERROR)', example: 500 }
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
      apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'Kunci API klien (header lama `X-API-KEY` sama saja)' },
      oauth2: {
        type: 'oauth2',
        description: 'OAuth2 client credentials: client_id = id klien, client_secret = kunci API-nya',
        flows: { clientCredentials: { tokenUrl: TOKEN_PATH, scopes: {} } }
      }
    }
  }
}

function successHeaders (rateLimited: boolean): Record<string, unknown> {
  const headers: Record<string, unknown> = { 'x-request-id': { $ref: '#/components/headers/x-request-id' } }
  if (rateLimited) for (const name of Object.keys(RATE_LIMIT_HEADERS)) headers[name] = { $ref: `#/components/headers/${name}` }
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

function catchAll (integration: Integration): Record<string, unknown> {
  return {
    summary: `Semua jalur ${integration.prefix}/…`,
    description: `Integrasi ini belum mendokumentasikan operasinya. Setiap permintaan ke \`${integration.prefix}/{path}\` ` +
      'diteruskan ke layanan hulunya apa adanya' +
      (integration.methods === null ? '.' : ` (metode: ${[...integration.methods].join(', ')}).`) +
      (integration.docs?.openapiUrl !== undefined ? ` Dokumen OpenAPI layanan hulu: ${integration.docs.openapiUrl}` : ''),
    operationId: `${integration.name}.catchAll`,
    parameters: [{
      name: 'path',
      in: 'path',
      required: true,
      description: 'Sisa jalur yang diteruskan ke layanan hulu',
      schema: { type: 'string' }
    }],
    responses: { 200: { description: 'Jawaban dari layanan hulu (upstream), diteruskan apa adanya' } }
  }
}

function tokenEndpoint (): Record<string, unknown> {
  return {
    post: {
      tags: ['oauth2'],
      summary: 'Meminta token akses (OAuth2 client credentials)',
      description: 'Menjawab seperti endpoint token SATUSEHAT. Token berlaku sampai kedaluwarsa, sampai kliennya dicabut, ' +
        'atau sampai kunci yang dipakai memintanya tidak berlaku lagi (dirotasi). Paling banyak 60 token per menit per klien.',
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
                client_id: { type: 'string', description: 'id klien' },
                client_secret: { type: 'string', description: 'kunci API klien' }
              }
            }
          }
        }
      },
      responses: {
        200: {
          description: 'Token akses',
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
        400: { description: 'Permintaan tidak sah', content: { 'application/json': { schema: { $ref: '#/components/schemas/OAuthError' } } } },
        401: { description: 'Klien tidak dikenal atau kunci salah', content: { 'application/json': { schema: { $ref: '#/components/schemas/OAuthError' } } } },
        429: {
          description: 'Lebih dari 60 token per menit untuk klien ini, atau terlalu banyak kredensial salah dari alamat ini; coba lagi setelah Retry-After',
          headers: { 'Retry-After': { schema: { type: 'integer' }, description: 'detik' } },
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
function corsNote ({ cors }: Integration): string {
  if (cors === null) return ''
  const origins = cors.origins[0] === '*'
    ? 'semua asal (`*`)'
    : cors.origins.map((o) => `\`${o}\``).join(', ') + (cors.origins.some((o) => o.includes('*')) ? ' (`*.` = setiap subdomain)' : '')
  return `\n\n**CORS (aplikasi peramban):** asal yang diizinkan: ${origins}${cors.credentials ? '; dengan kredensial (cookie)' : ''}.`
}

/**
 * For the tag: where a key is accepted besides the x-api-key header, the old
 * API manager's query parameter (apiKeyQuery) and form field (apiKeyForm,
 * src/proxy/api-key-form.ts); '' when only the header.
 */
function keyPlacesNote ({ auth, apiKeyQuery, apiKeyForm }: Integration): string {
  if (auth === 'none' || (apiKeyQuery === undefined && apiKeyForm === undefined)) return ''
  const places: string[] = []
  if (apiKeyQuery !== undefined) places.push(`di parameter kueri \`${apiKeyQuery}\``)
  if (apiKeyForm !== undefined) {
    places.push(`di field formulir \`${apiKeyForm}\` (badan \`application/x-www-form-urlencoded\` ` +
      `hingga ${FORM_KEY_BODY_LIMIT / (1024 * 1024)} MiB)`)
  }
  return `\n\n**Kunci API:** selain di header \`x-api-key\`, juga diterima ${places.join(' dan ')}; ` +
    'di sana kunci tidak pernah diteruskan ke upstream.'
}

/**
 * For the tag: how many upstream servers serve the integration and whether
 * they are probed. Their addresses are internal and stay off this public
 * page; /admin (Routes) and /readyz name them.
 */
function targetsNote ({ targets, healthCheck }: Integration): string {
  if (targets.length === 1 && healthCheck === null) return ''
  const servers = targets.length === 1 ? 'satu server upstream' : `${targets.length} server upstream (beban dibagi; server yang mati dilewati)`
  return `\n\n**Upstream:** dilayani oleh ${servers}${healthCheck === null ? '' : `, diperiksa setiap ${healthCheck.intervalMs / 1000} detik`}.`
}

/**
 * Whether the integration accepts WebSocket (`websocket: true`): on every
 * tag as `x-websocket`, and for readers in the description of those that
 * do, with where to connect and how a browser sends its key.
 */
function webSocketTag (integration: Integration, tag: { name: string, description: string }): Record<string, unknown> {
  if (!integration.websocket) return { ...tag, 'x-websocket': false }
  const key = integration.auth === 'none'
    ? ''
    : integration.apiKeyQuery === undefined
      ? ' Kunci API di header `x-api-key` (atau token di `Authorization: Bearer`).'
      : ` Kunci API di header \`x-api-key\`, atau dari peramban di parameter kueri \`${integration.apiKeyQuery}\`` +
        ` (\`new WebSocket('wss://<gateway>${integration.prefix}/…?${integration.apiKeyQuery}=<kunci>')\`).`
  return {
    ...tag,
    description: `${tag.description}\n\n**WebSocket:** diterima di \`ws(s)://<gateway>${integration.prefix}/…\`.${key}` +
      ` Koneksi yang diam lebih dari ${integration.idleTimeoutMs / 1000} detik (idleTimeout) ditutup.`,
    'x-websocket': true
  }
}

/** The OpenAPI 3.1 document of every integration in `routes`. */
export function buildOpenApi (routes: RoutesConfig): OpenApiDocument {
  const comps = components()
  const paths: Record<string, Record<string, unknown>> = {}
  const tags: Array<Record<string, unknown>> = []
  for (const integration of routes.integrations) {
    tags.push(webSocketTag(integration, {
      name: integration.name,
      description: (integration.description !== '' ? integration.description : `Integrasi ${integration.name}`) +
        keyPlacesNote(integration) + corsNote(integration) + targetsNote(integration)
    }))
    for (const [kind, entries] of Object.entries(integration.docs?.components ?? {})) {
      comps[kind] = { ...(comps[kind] ?? {}), ...entries }
    }
    const operations = integration.docs?.operations ?? []
    if (operations.length === 0) {
      const item = paths[`${integration.prefix}/{path}`] ??= {}
      const methods = integration.methods === null ? ['get'] : [...integration.methods].filter((m) => m !== 'HEAD').map((m) => m.toLowerCase())
      const method = methods.includes('get') ? 'get' : methods[0] ?? 'get'
      item[method] = decorate(integration, catchAll(integration))
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
  tags.push({ name: 'oauth2', description: 'Token akses OAuth2 untuk klien (client credentials)' })
  paths[TOKEN_PATH] = tokenEndpoint()
  return {
    openapi: '3.1.0',
    info: { title: 'Gerbang — API Gateway Provinsi Banten', version: '1.0.0', description: portalDescription('id') },
    servers: [{ url: '/' }],
    tags,
    paths,
    components: comps
  }
}
