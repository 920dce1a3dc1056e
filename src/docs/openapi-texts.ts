import type { DocLang } from './servers.js'

// The texts Gerbang itself writes into the /doc document (src/docs/openapi.ts):
// [Bahasa Indonesia, English], Indonesian first like everything else, so a
// text cannot exist in one language only. What routes.yaml or an upstream's
// OpenAPI document says is not here: it stays as written in both languages.

/** The codes of the Problem responses every operation lists. */
export type DocProblemCode = 'CREDENTIALS_MISSING' | 'INTEGRATION_FORBIDDEN' | 'ROUTE_NOT_FOUND' | 'PAYLOAD_TOO_LARGE' |
  'RATE_LIMITED' | 'UPSTREAM_UNAVAILABLE' | 'UPSTREAM_CIRCUIT_OPEN' | 'UPSTREAM_TIMEOUT'

/** The rate-limit headers of every answer. */
export type RateLimitHeader = 'RateLimit' | 'RateLimit-Policy' | 'X-RateLimit-Limit' | 'X-RateLimit-Remaining' | 'X-RateLimit-Reset'

const TEXTS = {
  'info.title': ['Gerbang — API Gateway Provinsi Banten', 'Gerbang — Banten Province API Gateway'],

  'problem.CREDENTIALS_MISSING': ['Kunci API atau token tidak ada, tidak dikenal, dicabut atau kedaluwarsa', 'The API key or token is missing, unknown, revoked or expired'],
  'problem.INTEGRATION_FORBIDDEN': ['Klien sah, tetapi tidak diberi akses ke integrasi ini', 'The client is valid but has no access to this integration'],
  'problem.ROUTE_NOT_FOUND': ['Tidak ada integrasi yang melayani jalur ini', 'No integration serves this path'],
  'problem.PAYLOAD_TOO_LARGE': ['Badan permintaan melebihi batas integrasi', 'The request body exceeds the integration\'s limit'],
  'problem.RATE_LIMITED': ['Melebihi batas laju klien untuk integrasi ini', 'Over the client\'s rate limit for this integration'],
  'problem.UPSTREAM_UNAVAILABLE': ['Layanan hulu (upstream) tidak dapat dihubungi atau menjawab 5xx', 'The upstream service cannot be reached or answered with a 5xx error'],
  'problem.UPSTREAM_CIRCUIT_OPEN': ['Layanan hulu sedang dihentikan sementara (circuit breaker) atau penyimpanan gateway tidak tersedia', 'Calls to the upstream service are paused (circuit breaker), or the gateway\'s store is unavailable'],
  'problem.UPSTREAM_TIMEOUT': ['Layanan hulu tidak menjawab dalam batas waktu', 'The upstream service did not answer in time'],

  'header.x-request-id': ['Pengenal permintaan: nilai dari klien bila wajar, selain itu UUID baru; sama dengan `requestId` di dokumen Problem', 'The request\'s identifier: the client\'s value when it is reasonable, otherwise a new UUID; the same as `requestId` in the Problem document'],
  'header.Retry-After': ['Detik sebelum boleh mencoba lagi', 'Seconds to wait before retrying'],
  'header.RateLimit': ['Sisa kuota jendela saat ini (draft-ietf-httpapi-ratelimit-headers)', 'What is left of the current window\'s quota (draft-ietf-httpapi-ratelimit-headers)'],
  'header.RateLimit-Policy': ['Kebijakan batas laju: kuota q per jendela w detik', 'The rate-limit policy: a quota of q requests per window of w seconds'],
  'header.X-RateLimit-Limit': ['Jumlah permintaan yang diizinkan per jendela', 'The number of requests allowed per window'],
  'header.X-RateLimit-Remaining': ['Sisa permintaan dalam jendela ini', 'The requests left in this window'],
  'header.X-RateLimit-Reset': ['Detik sampai jendela diatur ulang', 'Seconds until the window resets'],

  'schema.Problem': ['Dokumen kesalahan RFC 9457 yang dikirim gateway sendiri', 'An RFC 9457 error document sent by the gateway itself'],
  'schema.upstreamStatus': ['Status dari layanan hulu (hanya UPSTREAM_ERROR)', 'The upstream service\'s status (UPSTREAM_ERROR only)'],
  'security.apiKey': ['Kunci API klien (header lama `X-API-KEY` sama saja)', 'The client\'s API key (the old `X-API-KEY` header is the same header)'],
  'security.oauth2': ['OAuth2 client credentials: client_id = id klien, client_secret = kunci API-nya', 'OAuth2 client credentials: client_id = the client\'s id, client_secret = its API key'],

  'catchAll.path': ['Sisa jalur yang diteruskan ke layanan hulu', 'The rest of the path, forwarded to the upstream service'],
  'catchAll.answer': ['Jawaban dari layanan hulu (upstream), diteruskan apa adanya', 'The upstream service\'s answer, passed on as it is'],

  'oauth2.tag': ['Token akses OAuth2 untuk klien (client credentials)', 'OAuth2 access tokens for clients (client credentials)'],
  'token.summary': ['Meminta token akses (OAuth2 client credentials)', 'Request an access token (OAuth2 client credentials)'],
  'token.description': [
    'Menjawab seperti endpoint token SATUSEHAT. Token berlaku sampai kedaluwarsa, sampai kliennya dicabut, atau sampai kunci yang dipakai memintanya tidak berlaku lagi (dirotasi). Paling banyak 60 token per menit per klien.',
    'Answers like SATUSEHAT\'s token endpoint. A token is valid until it expires, until its client is revoked, or until the key it was requested with is no longer valid (rotated). At most 60 tokens a minute per client.'
  ],
  'token.clientId': ['id klien', 'the client\'s id'],
  'token.clientSecret': ['kunci API klien', 'the client\'s API key'],
  'token.200': ['Token akses', 'The access token'],
  'token.400': ['Permintaan tidak sah', 'The request is malformed'],
  'token.401': ['Klien tidak dikenal atau kunci salah', 'Unknown client or wrong key'],
  'token.429': [
    'Lebih dari 60 token per menit untuk klien ini, atau terlalu banyak kredensial salah dari alamat ini; coba lagi setelah Retry-After',
    'More than 60 tokens a minute for this client, or too many wrong credentials from this address; retry after Retry-After'
  ],
  'token.retryAfter': ['detik', 'seconds'],

  'cors.all': ['semua asal (`*`)', 'every origin (`*`)'],
  'cors.subdomains': [' (`*.` = setiap subdomain)', ' (`*.` = any subdomain)'],
  'cors.credentials': ['; dengan kredensial (cookie)', '; with credentials (cookies)'],
  'targets.one': ['satu server upstream', 'one upstream server'],
  'webSocket.key': [' Kunci API di header `x-api-key` (atau token di `Authorization: Bearer`).', ' The API key goes in the `x-api-key` header (or a token in `Authorization: Bearer`).']
} satisfies Record<string, [id: string, en: string]>

export type OpenApiText = keyof typeof TEXTS

/** The texts with values in them: the same functions in each language. */
interface OpenApiTemplates {
  /** An integration's tag when routes.yaml gives it no description. */
  integration: (name: string) => string
  catchAllSummary: (prefix: string) => string
  /** `methods`: null when every method is accepted; `openapiUrl`: the upstream's document, when only linked. */
  catchAllDescription: (prefix: string, methods: string[] | null, openapiUrl: string | undefined) => string
  keyQuery: (parameter: string) => string
  keyForm: (field: string, mib: number) => string
  /** `places`: keyQuery and keyForm. */
  keyPlacesNote: (places: string[]) => string
  corsNote: (origins: string, credentials: string) => string
  targets: (count: number) => string
  targetsNote: (servers: string, intervalSeconds: number | null) => string
  webSocketKeyQuery: (prefix: string, parameter: string) => string
  webSocketNote: (prefix: string, key: string, idleSeconds: number) => string
}

const seconds = (n: number): string => `${n} second${n === 1 ? '' : 's'}`

const TEMPLATES: Record<DocLang, OpenApiTemplates> = {
  id: {
    integration: (name) => `Integrasi ${name}`,
    catchAllSummary: (prefix) => `Semua jalur ${prefix}/…`,
    catchAllDescription: (prefix, methods, openapiUrl) =>
      `Integrasi ini belum mendokumentasikan operasinya. Setiap permintaan ke \`${prefix}/{path}\` ` +
      'diteruskan ke layanan hulunya apa adanya' +
      (methods === null ? '.' : ` (metode: ${methods.join(', ')}).`) +
      (openapiUrl !== undefined ? ` Dokumen OpenAPI layanan hulu: ${openapiUrl}` : ''),
    keyQuery: (parameter) => `di parameter kueri \`${parameter}\``,
    keyForm: (field, mib) => `di field formulir \`${field}\` (badan \`application/x-www-form-urlencoded\` hingga ${mib} MiB)`,
    keyPlacesNote: (places) => `\n\n**Kunci API:** selain di header \`x-api-key\`, juga diterima ${places.join(' dan ')}; ` +
      'di sana kunci tidak pernah diteruskan ke upstream.',
    corsNote: (origins, credentials) => `\n\n**CORS (aplikasi peramban):** asal yang diizinkan: ${origins}${credentials}.`,
    targets: (count) => `${count} server upstream (beban dibagi; server yang mati dilewati)`,
    targetsNote: (servers, interval) => `\n\n**Upstream:** dilayani oleh ${servers}${interval === null ? '' : `, diperiksa setiap ${interval} detik`}.`,
    webSocketKeyQuery: (prefix, parameter) => ` Kunci API di header \`x-api-key\`, atau dari peramban di parameter kueri \`${parameter}\`` +
      ` (\`new WebSocket('wss://<gateway>${prefix}/…?${parameter}=<kunci>')\`).`,
    webSocketNote: (prefix, key, idle) => `\n\n**WebSocket:** diterima di \`ws(s)://<gateway>${prefix}/…\`.${key}` +
      ` Koneksi yang diam lebih dari ${idle} detik (idleTimeout) ditutup.`
  },
  en: {
    integration: (name) => `Integration ${name}`,
    catchAllSummary: (prefix) => `All paths ${prefix}/…`,
    catchAllDescription: (prefix, methods, openapiUrl) =>
      `This integration does not document its operations yet. Every request to \`${prefix}/{path}\` ` +
      'is forwarded to its upstream service as it is' +
      (methods === null ? '.' : ` (methods: ${methods.join(', ')}).`) +
      (openapiUrl !== undefined ? ` The upstream service's OpenAPI document: ${openapiUrl}` : ''),
    keyQuery: (parameter) => `in the query parameter \`${parameter}\``,
    keyForm: (field, mib) => `in the form field \`${field}\` (\`application/x-www-form-urlencoded\` bodies up to ${mib} MiB)`,
    keyPlacesNote: (places) => `\n\n**API key:** besides the \`x-api-key\` header, also accepted ${places.join(' and ')}; ` +
      'a key sent there is never forwarded upstream.',
    corsNote: (origins, credentials) => `\n\n**CORS (browser apps):** allowed origins: ${origins}${credentials}.`,
    targets: (count) => `${count} upstream servers (load shared; a server that is down is skipped)`,
    targetsNote: (servers, interval) => `\n\n**Upstream:** served by ${servers}${interval === null ? '' : `, checked every ${seconds(interval)}`}.`,
    webSocketKeyQuery: (prefix, parameter) => ` The API key goes in the \`x-api-key\` header or, from a browser, in the query parameter \`${parameter}\`` +
      ` (\`new WebSocket('wss://<gateway>${prefix}/…?${parameter}=<key>')\`).`,
    webSocketNote: (prefix, key, idle) => `\n\n**WebSocket:** accepted at \`ws(s)://<gateway>${prefix}/…\`.${key}` +
      ` A connection silent for more than ${seconds(idle)} (idleTimeout) is closed.`
  }
}

export type OpenApiTexts = Record<OpenApiText, string> & OpenApiTemplates

/** Every text of the document in `lang`. */
export function openApiTexts (lang: DocLang): OpenApiTexts {
  const i = lang === 'id' ? 0 : 1
  const texts = Object.fromEntries(Object.entries(TEXTS).map(([key, pair]) => [key, pair[i]]))
  return { ...texts as Record<OpenApiText, string>, ...TEMPLATES[lang] }
}

/** [key, Indonesian, English] for every plain text, for the completeness test. */
export function allOpenApiTexts (): Array<[string, string, string]> {
  return Object.entries(TEXTS).map(([key, [id, en]]) => [key, id, en])
}
