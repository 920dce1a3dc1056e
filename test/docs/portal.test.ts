import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { resolve } from 'node:path'
import SwaggerParser from '@apidevtools/swagger-parser'
import { buildApp } from '../../src/app.js'
import { formatProblem, loadRoutesFile } from '../../src/config/routes-loader.js'
import { readEnv } from '../../src/config/env.js'
import { codes, type ErrorCode } from '../../src/errors.js'
import { CODE_TEXTS } from '../../src/docs/portal.js'
import { parseDocServers } from '../../src/docs/servers.js'
import { REPO_ROOT } from '../helpers/process.js'

// /doc as a developer portal (issue 18, item 5): branding, languages, the
// admin API off the public page, error codes, "Cara mendapatkan kunci",
// Production/Development servers, SATUSEHAT-style notes, a strict CSP.

const ENV = Object.fromEntries(['YANKES', 'SATU_DATA', 'DASHBOARD', 'OTORISASI', 'BPJS'].map((n) => [`${n}_UPSTREAM`, 'http://127.0.0.1:9/api/v1']))
const loaded = await loadRoutesFile(resolve(REPO_ROOT, 'routes.yaml'), ENV)
if (!loaded.ok) throw new Error(loaded.problems.map((p) => formatProblem('routes.yaml', p)).join('\n'))
const routes = loaded.config

const ADMIN_CODES = ['SESSION_REQUIRED', 'LOGIN_FAILED', 'CSRF_INVALID', 'PERMISSION_DENIED', 'NOT_FOUND', 'CONFLICT']

describe('the /doc page', async () => {
  const app = await buildApp({ routes })
  test.after(async () => { await app.close() })
  const page = await app.inject('/doc')
  const html = page.body

  test('is Gerbang\'s, in Bahasa Indonesia: lang="id", title, favicon, no Fastify logo and no Explore bar', async () => {
    assert.equal(page.statusCode, 200)
    assert.match(html, /<html lang="id">/)
    assert.match(html, /<title>Gerbang — Portal Pengembang API Provinsi Banten<\/title>/)
    assert.match(html, /<link rel="icon" type="image\/svg\+xml" href="\/doc\/static\/theme\/gerbang\.svg"/)
    assert.doesNotMatch(html, /favicon-32x32|favicon-16x16/)
    const icon = await app.inject('/doc/static/theme/gerbang.svg')
    assert.equal(icon.statusCode, 200)
    assert.equal(icon.headers['content-type'], 'image/svg+xml')
    const init = (await app.inject('/doc/static/swagger-initializer.js')).body
    assert.match(init, /"layout":"BaseLayout"/, 'BaseLayout: Swagger UI draws no top bar (logo, Explore)')
    assert.doesNotMatch(init, /fastify/i)
    for (const file of ['portal.js', 'portal.css']) {
      assert.equal((await app.inject(`/doc/static/theme/${file}`)).statusCode, 200, file)
      assert.ok(html.includes(`/doc/static/theme/${file}`), file)
    }
  })

  test('has no inline script and a strict CSP', () => {
    const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)]
    assert.ok(scripts.length >= 4)
    for (const [, attrs, body] of scripts) {
      assert.match(attrs ?? '', /src="\/doc\/static\//)
      assert.equal((body ?? '').trim(), '')
    }
    const csp = page.headers['content-security-policy'] as string
    assert.match(csp, /default-src 'none'/)
    assert.match(csp, /script-src 'self';/)
    assert.match(csp, /connect-src 'self';/)
    assert.match(csp, /frame-ancestors 'none'/)
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https:/)
  })
})

describe('/doc/json', async () => {
  const app = await buildApp({ routes })
  test.after(async () => { await app.close() })
  const id = (await app.inject('/doc/json')).json()
  const en = (await app.inject('/doc/json?lang=en')).json()

  test('both languages validate as OpenAPI 3.1 and have the same operations', async () => {
    await SwaggerParser.validate(structuredClone(id))
    await SwaggerParser.validate(structuredClone(en))
    assert.deepEqual(Object.keys(en.paths), Object.keys(id.paths))
    assert.equal(id.info.title, 'Gerbang — API Gateway Provinsi Banten')
    assert.equal(en.info.title, 'Gerbang — Banten Province API Gateway')
  })

  test('/doc/yaml follows ?lang too', async () => {
    assert.match((await app.inject('/doc/yaml?lang=en')).body, /How to get a key/)
    assert.match((await app.inject('/doc/yaml')).body, /Cara mendapatkan kunci/)
  })

  test('the admin API is not on the public page', () => {
    assert.deepEqual(Object.keys(id.paths).filter((p) => p.startsWith('/admin')), [])
    assert.equal(id.tags.some((t: { name: string }) => t.name === 'Admin API'), false)
    assert.equal(id.components.securitySchemes.adminSession, undefined)
  })

  test('"Cara mendapatkan kunci" and its English', () => {
    assert.match(id.info.description, /<h2 id="cara-mendapatkan-kunci">Cara mendapatkan kunci<\/h2>/)
    assert.match(id.info.description, /x-api-key/)
    assert.match(id.info.description, /grant_type=client_credentials/)
    assert.match(en.info.description, /<h2 id="cara-mendapatkan-kunci">How to get a key<\/h2>/)
  })

  test('an error-code table in Bahasa Indonesia (and English) with every public code of src/errors.ts', () => {
    for (const [doc, head, lang] of [[id, 'Yang perlu dilakukan', 'id'], [en, 'What to do', 'en']] as const) {
      const table = /<h2 id="kode-kesalahan">[^<]*<\/h2>[\s\S]*?(<table>[\s\S]*?<\/table>)/.exec(doc.info.description)?.[1] ?? ''
      assert.ok(table.includes(`<th scope="col">${head}</th>`), lang)
      const rows = [...table.matchAll(/<tr><td>(\d{3})<\/td><td><code>([A-Z_]+)<\/code><\/td><td>([^<]+)/g)]
      const listed = rows.map(([, status, code]) => `${status} ${code ?? ''}`)
      const expected = (Object.keys(codes) as ErrorCode[]).filter((c) => !ADMIN_CODES.includes(c)).map((c) => `${codes[c].status} ${c}`)
      assert.deepEqual([...listed].sort(), [...expected].sort(), lang)
      assert.deepEqual(rows.map(([, status]) => Number(status)), rows.map(([, status]) => Number(status)).sort((a, b) => a - b), 'sorted by status')
      const meaning = rows.find(([, , code]) => code === 'RATE_LIMITED')?.[3]
      assert.equal(meaning, CODE_TEXTS.RATE_LIMITED[lang][0], lang)
    }
    assert.match(id.info.description, /Melebihi batas laju atau kuota klien/)
  })

  test('every code of src/errors.ts has an Indonesian and an English text, and admin codes are flagged', () => {
    for (const code of Object.keys(codes) as ErrorCode[]) {
      const text = CODE_TEXTS[code]
      for (const part of [...text.id, ...text.en]) assert.ok(part.trim().length > 3, code)
      assert.notEqual(text.id[0], text.en[0], `${code}: the Indonesian text is not the English one`)
      assert.equal(text.admin, ADMIN_CODES.includes(code), code)
    }
  })

  test('notes in SATUSEHAT\'s admonition style: info, tip, warning, danger, labelled in each language', () => {
    for (const kind of ['info', 'tip', 'warning', 'danger']) {
      assert.match(id.info.description, new RegExp(`<aside role="note" id="gb-${kind}-[a-z-]+" aria-label="[^"]+"><p><strong>[A-Z]+</strong></p>`), kind)
    }
    assert.match(id.info.description, /<strong>PERHATIAN<\/strong>/)
    assert.match(en.info.description, /<strong>CAUTION<\/strong>/)
    // An HTML block ends at a blank line: a note, the table and the key steps each stay on one block.
    for (const block of id.info.description.match(/<(aside|table|ol)[\s\S]*?<\/\1>/g) ?? []) assert.doesNotMatch(block, /\n\s*\n/)
  })

  test('servers: without GERBANG_DOC_SERVERS, the server the page came from', () => {
    assert.deepEqual(id.servers, [{ url: '/', description: 'Server ini' }])
    assert.deepEqual(en.servers, [{ url: '/', description: 'This server' }])
  })
})

describe('GERBANG_DOC_SERVERS', () => {
  test('Production and Development on /doc/json, and in connect-src of the CSP', async (t) => {
    const docServers = parseDocServers('development=https://gerbang-dev.bantenprov.go.id/, production=https://gerbang.bantenprov.go.id')
    const app = await buildApp({ routes, docServers })
    t.after(async () => { await app.close() })
    const id = (await app.inject('/doc/json')).json()
    assert.deepEqual(id.servers, [
      { url: 'https://gerbang.bantenprov.go.id', description: 'Produksi' },
      { url: 'https://gerbang-dev.bantenprov.go.id', description: 'Pengembangan' }
    ])
    assert.deepEqual((await app.inject('/doc/json?lang=en')).json().servers.map((s: { description: string }) => s.description), ['Production', 'Development'])
    await SwaggerParser.validate(structuredClone(id))
    const csp = (await app.inject('/doc')).headers['content-security-policy'] as string
    assert.match(csp, /connect-src 'self' https:\/\/gerbang\.bantenprov\.go\.id https:\/\/gerbang-dev\.bantenprov\.go\.id;/)
  })

  test('is read by readEnv and refused when wrong, naming the entry', () => {
    assert.deepEqual(readEnv({ GERBANG_DOC_SERVERS: 'production=https://api.bantenprov.go.id' }).docServers, [{ kind: 'production', url: 'https://api.bantenprov.go.id' }])
    assert.deepEqual(readEnv({}).docServers, [])
    assert.throws(() => readEnv({ GERBANG_DOC_SERVERS: 'staging=https://x.id' }), /GERBANG_DOC_SERVERS: 'staging=https:\/\/x\.id' is not production=<url>/)
    assert.throws(() => parseDocServers('production=ftp://x.id'), /must be an http\(s\) URL/)
    assert.throws(() => parseDocServers('production=nope'), /'nope' is not a URL/)
    assert.throws(() => parseDocServers('production=https://a.id,production=https://b.id'), /production is given twice/)
  })
})
