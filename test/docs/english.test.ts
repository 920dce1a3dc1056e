// /doc/json?lang=en is the same document in English: every text Gerbang
// writes itself (problem responses, headers, the Problem schema, the
// security schemes, each integration's notes, the catch-all operation, the
// token endpoint) is English there, while what routes.yaml or an upstream's
// OpenAPI document says stays as written. The Indonesian document does not
// change.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import SwaggerParser from '@apidevtools/swagger-parser'
import { buildApp } from '../../src/app.js'
import { DocsHolder } from '../../src/docs/index.js'
import { allOpenApiTexts } from '../../src/docs/openapi-texts.js'
import { routesFrom } from '../helpers/gateway.js'

// Its own description says "jalur" and "diterima" on purpose: it must come through untouched.
const OWN = 'Layanan lama Dinas Kesehatan: setiap jalur diterima apa adanya'

const ROUTES = `
integrations:
  lama:
    description: "${OWN}"
    upstream: [http://127.0.0.1:9, http://127.0.0.1:10]
    healthCheck: { path: /health, interval: 10s }
    apiKeyQuery: X-API-KEY
    apiKeyForm: X-API-KEY
    cors: { origins: ["https://dashboard.bantenprov.go.id", "https://*.bantenprov.go.id"], credentials: true }
    websocket: true
  terbuka:
    upstream: http://127.0.0.1:9
    auth: none
    methods: [POST, PUT]
    healthCheck: { path: /health, interval: 1s }
    cors: { origins: ["*"] }
    websocket: true
    idleTimeout: 45s
    openapi: https://example.org/openapi.yaml
`

// Indonesian words of the texts Gerbang writes; none may be left in the English document.
const INDONESIAN = [
  'Integrasi', 'integrasi', 'diterima', 'Kunci API', 'kunci', 'Layanan hulu', 'layanan hulu', 'hulunya', 'jalur',
  'Jawaban', 'Detik', 'detik', 'dilayani', 'diperiksa', 'diizinkan', 'peramban', 'kredensial', 'Koneksi', 'ditutup',
  'Sisa', 'Semua', 'semua', 'setiap', 'belum', 'metode', 'Dokumen', 'formulir', 'kueri', 'badan', 'Badan', 'hingga',
  'Permintaan', 'permintaan', 'Token akses', 'Klien', 'klien', 'Melebihi', 'Pengenal', 'Kebijakan', 'Jumlah',
  'sebelum', 'yang', 'atau', 'dan', 'dengan', 'untuk', 'sampai', 'server upstream', 'apa adanya'
]

type Doc = any

const app = await buildApp({ routes: routesFrom(ROUTES) })
test.after(async () => { await app.close() })
const id = (await app.inject('/doc/json')).json() as Doc
const en = (await app.inject('/doc/json?lang=en')).json() as Doc
const tag = (doc: Doc, name: string): string => doc.tags.find((t: { name: string }) => t.name === name)?.description ?? assert.fail(`no tag ${name}`)

describe('/doc/json?lang=en', () => {
  test('validates as OpenAPI 3.1, and /doc/yaml?lang=en is the same document', async () => {
    await SwaggerParser.validate(structuredClone(en))
    const { parse } = await import('yaml')
    assert.deepEqual(parse((await app.inject('/doc/yaml?lang=en')).body), en)
  })

  test('has no Indonesian text of Gerbang\'s: only the integration\'s own description is left as written', () => {
    // The info (its anchors keep their Indonesian ids, e.g. #cara-mendapatkan-kunci) is pinned by portal.test.ts.
    const text = JSON.stringify({ ...en, info: undefined }).replaceAll(OWN, '')
    for (const word of INDONESIAN) {
      const at = new RegExp(`(?<![A-Za-z])${word}(?![A-Za-z])`).exec(text)?.index
      assert.ok(at === undefined, `"${word}" in …${text.slice(Math.max(0, (at ?? 0) - 80), (at ?? 0) + 80)}…`)
    }
  })

  test('the integration\'s own description is unchanged in both languages', () => {
    assert.ok(tag(id, 'lama').startsWith(`${OWN}\n\n`), tag(id, 'lama'))
    assert.ok(tag(en, 'lama').startsWith(`${OWN}\n\n`), tag(en, 'lama'))
  })

  test('the tag says in English where keys are accepted, the CORS origins, the upstream servers and WebSocket', () => {
    assert.equal(tag(en, 'lama'), OWN +
      '\n\n**API key:** besides the `x-api-key` header, also accepted in the query parameter `X-API-KEY` and in the ' +
      'form field `X-API-KEY` (`application/x-www-form-urlencoded` bodies up to 1 MiB); ' +
      'a key sent there is never forwarded upstream.' +
      '\n\n**CORS (browser apps):** allowed origins: `https://dashboard.bantenprov.go.id`, `https://*.bantenprov.go.id` ' +
      '(`*.` = any subdomain); with credentials (cookies).' +
      '\n\n**Upstream:** served by 2 upstream servers (load shared; a server that is down is skipped), ' +
      'checked every 10 seconds.' +
      '\n\n**WebSocket:** accepted at `ws(s)://<gateway>/lama/…`. The API key goes in the `x-api-key` header or, ' +
      'from a browser, in the query parameter `X-API-KEY` ' +
      '(`new WebSocket(\'wss://<gateway>/lama/…?X-API-KEY=<key>\')`). ' +
      'A connection silent for more than 30 seconds (idleTimeout) is closed.')
    assert.equal(tag(en, 'terbuka'), 'Integration terbuka' +
      '\n\n**CORS (browser apps):** allowed origins: every origin (`*`).' +
      '\n\n**Upstream:** served by one upstream server, checked every 1 second.' +
      '\n\n**WebSocket:** accepted at `ws(s)://<gateway>/terbuka/…`. ' +
      'A connection silent for more than 45 seconds (idleTimeout) is closed.')
    assert.equal(tag(en, 'oauth2'), 'OAuth2 access tokens for clients (client credentials)')
  })

  test('the catch-all operation of an integration without documented operations', () => {
    const lama = en.paths['/lama/{path}']?.get
    assert.equal(lama.summary, 'All paths /lama/…')
    assert.equal(lama.description, 'This integration does not document its operations yet. ' +
      'Every request to `/lama/{path}` is forwarded to its upstream service as it is.')
    assert.equal(lama.parameters[0].description, 'The rest of the path, forwarded to the upstream service')
    assert.equal(lama.responses['200'].description, 'The upstream service\'s answer, passed on as it is')
    const terbuka = en.paths['/terbuka/{path}']?.post
    assert.equal(terbuka.description, 'This integration does not document its operations yet. ' +
      'Every request to `/terbuka/{path}` is forwarded to its upstream service as it is (methods: POST, PUT). ' +
      'The upstream service\'s OpenAPI document: https://example.org/openapi.yaml')
  })

  test('the problem responses, the headers, the Problem schema and the security schemes', () => {
    const { responses, headers, schemas, securitySchemes } = en.components
    assert.equal(responses.Problem401.description, 'The API key or token is missing, unknown, revoked or expired')
    assert.equal(responses.Problem404.description, 'No integration serves this path')
    assert.equal(responses.Problem502.description, 'The upstream service cannot be reached or answered with a 5xx error')
    assert.equal(responses.Problem504.description, 'The upstream service did not answer in time')
    assert.equal(headers['x-request-id'].description, 'The request\'s identifier: the client\'s value when it is reasonable, ' +
      'otherwise a new UUID; the same as `requestId` in the Problem document')
    assert.equal(headers['Retry-After'].description, 'Seconds to wait before retrying')
    assert.equal(headers['X-RateLimit-Reset'].description, 'Seconds until the window resets')
    assert.equal(schemas.Problem.description, 'An RFC 9457 error document sent by the gateway itself')
    assert.equal(schemas.Problem.properties.upstreamStatus.description, 'The upstream service\'s status (UPSTREAM_ERROR only)')
    assert.equal(securitySchemes.apiKey.description, 'The client\'s API key (the old `X-API-KEY` header is the same header)')
    assert.equal(securitySchemes.oauth2.description, 'OAuth2 client credentials: client_id = the client\'s id, client_secret = its API key')
  })

  test('the token endpoint', () => {
    const token = en.paths['/oauth2/v1/accesstoken']?.post
    assert.equal(token.summary, 'Request an access token (OAuth2 client credentials)')
    assert.match(token.description, /^Answers like SATUSEHAT's token endpoint\. /)
    assert.equal(token.requestBody.content['application/x-www-form-urlencoded'].schema.properties.client_secret.description,
      'the client\'s API key')
    assert.equal(token.responses['200'].description, 'The access token')
    assert.equal(token.responses['429'].headers['Retry-After'].description, 'seconds')
  })

  test('differs from the Indonesian document in its texts only', () => {
    const walk = (a: unknown, b: unknown, path: string): void => {
      if (typeof a === 'string' && typeof b === 'string') {
        if (a !== b) assert.match(path, /\.(description|summary|title)$/, `${path}: ${a} / ${b}`)
        return
      }
      if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') {
        assert.equal(a, b, path)
        return
      }
      assert.deepEqual(Object.keys(b), Object.keys(a), path)
      for (const key of Object.keys(a)) walk((a as any)[key], (b as any)[key], `${path}.${key}`)
    }
    walk(id, en, '')
  })
})

describe('the Indonesian document', () => {
  test('keeps its texts', () => {
    assert.equal(tag(id, 'terbuka'), 'Integrasi terbuka' +
      '\n\n**CORS (aplikasi peramban):** asal yang diizinkan: semua asal (`*`).' +
      '\n\n**Upstream:** dilayani oleh satu server upstream, diperiksa setiap 1 detik.' +
      '\n\n**WebSocket:** diterima di `ws(s)://<gateway>/terbuka/…`. Koneksi yang diam lebih dari 45 detik (idleTimeout) ditutup.')
    assert.match(tag(id, 'lama'), /\*\*Kunci API:\*\* selain di header `x-api-key`, juga diterima di parameter kueri `X-API-KEY`/)
    assert.match(tag(id, 'lama'), /dilayani oleh 2 server upstream \(beban dibagi; server yang mati dilewati\), diperiksa setiap 10 detik/)
    assert.match(tag(id, 'lama'), /\?X-API-KEY=<kunci>'\)`\)\. Koneksi yang diam lebih dari 30 detik/)
    const lama = id.paths['/lama/{path}']?.get
    assert.equal(lama.summary, 'Semua jalur /lama/…')
    assert.equal(lama.description, 'Integrasi ini belum mendokumentasikan operasinya. ' +
      'Setiap permintaan ke `/lama/{path}` diteruskan ke layanan hulunya apa adanya.')
    assert.equal(id.components.responses.Problem401.description, 'Kunci API atau token tidak ada, tidak dikenal, dicabut atau kedaluwarsa')
    assert.equal(id.components.headers['Retry-After'].description, 'Detik sebelum boleh mencoba lagi')
    assert.equal(id.paths['/oauth2/v1/accesstoken']?.post.summary, 'Meminta token akses (OAuth2 client credentials)')
    assert.equal(tag(id, 'oauth2'), 'Token akses OAuth2 untuk klien (client credentials)')
    assert.equal(id.info.title, 'Gerbang — API Gateway Provinsi Banten')
  })
})

test('every text of the document has an Indonesian and a different English version', () => {
  for (const [key, id, en] of allOpenApiTexts()) {
    assert.ok(id.trim().length > 3 && en.trim().length > 3, key)
    assert.notEqual(id, en, key)
  }
})

describe('DocsHolder', () => {
  test('builds both documents once per routes load, not per request', () => {
    const docs = new DocsHolder(routesFrom('integrations:\n  satu:\n    upstream: http://127.0.0.1:9\n'))
    const first = docs.documentFor('en')
    assert.equal(docs.documentFor('en').paths, first.paths, 'the same cached document')
    assert.equal(docs.documentFor('id').paths, docs.document.paths)
    const tags = (lang: 'id' | 'en'): string[] => (docs.documentFor(lang).tags as Array<{ description: string }>).map((t) => t.description)
    assert.deepEqual(tags('en')[0], 'Integration satu')
    docs.rebuild(routesFrom('integrations:\n  dua:\n    upstream: http://127.0.0.1:9\n'))
    assert.deepEqual(tags('en'), ['Integration dua', 'OAuth2 access tokens for clients (client credentials)'])
    assert.deepEqual(tags('id'), ['Integrasi dua', 'Token akses OAuth2 untuk klien (client credentials)'])
  })
})
