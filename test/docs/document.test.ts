import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import SwaggerParser from '@apidevtools/swagger-parser'
import { parse as parseYaml } from 'yaml'
import { buildApp } from '../../src/app.js'
import { formatProblem, loadRoutesFile, type RoutesConfig } from '../../src/config/routes-loader.js'
import { REPO_ROOT, runGerbang } from '../helpers/process.js'

const dir = await mkdtemp(join(tmpdir(), 'gerbang-docs-'))
test.after(async () => { await rm(dir, { recursive: true, force: true }) })

// Every upstream anywhere: the document never calls them.
const ENV = Object.fromEntries(['YANKES', 'SATU_DATA', 'DASHBOARD', 'OTORISASI', 'BPJS'].map((n) => [`${n}_UPSTREAM`, 'http://127.0.0.1:9/api/v1']))

const FIXTURE_OPENAPI = `openapi: 3.0.3
info: { title: Kamar RS, version: 2.1.0 }
paths:
  /api/kamar:
    get:
      summary: Daftar kamar
      tags: [kamar]
      parameters:
        - { name: rs, in: query, schema: { type: string } }
      responses:
        '200':
          description: OK
          content:
            application/json:
              schema: { $ref: '#/components/schemas/Kamar' }
  /api/kamar/{id}:
    parameters:
      - { name: id, in: path, required: true, schema: { type: integer } }
    get:
      summary: Satu kamar
      responses:
        '200': { description: OK }
  /internal/metrics:
    get:
      summary: Tidak lewat gateway
      responses:
        '200': { description: OK }
components:
  schemas:
    Kamar:
      type: object
      properties:
        kode_bed: { type: string }
`

const FIXTURE_ROUTES = `defaults:
  auth: apiKey
integrations:
  kamar:
    description: Kamar rumah sakit dari OpenAPI layanan hulu
    upstream: http://127.0.0.1:9
    rewritePrefix: /api
    openapi: ./fixture-openapi.yaml
  arsip:
    description: Arsip tanpa dokumentasi operasi
    upstream: http://127.0.0.1:9
    auth: none
`

async function load (file: string, env: NodeJS.ProcessEnv = {}): Promise<RoutesConfig> {
  const result = await loadRoutesFile(file, env)
  if (!result.ok) throw new Error(result.problems.map((p) => formatProblem(file, p)).join('\n'))
  return result.config
}

async function documents (routes: RoutesConfig): Promise<{ json: any, yamlText: string }> {
  const app = await buildApp({ routes })
  try {
    const json = await app.inject('/doc/json')
    assert.equal(json.statusCode, 200)
    const yaml = await app.inject('/doc/yaml')
    assert.equal(yaml.statusCode, 200)
    const ui = await app.inject('/doc')
    assert.equal(ui.statusCode, 200)
    assert.match(ui.headers['content-type'] as string, /text\/html/)
    return { json: json.json(), yamlText: yaml.body }
  } finally {
    await app.close()
  }
}

describe('/doc for the repo routes.yaml', async () => {
  const routes = await load(resolve(REPO_ROOT, 'routes.yaml'), ENV)
  const { json: doc, yamlText } = await documents(routes)

  test('validates as OpenAPI 3.1', async () => {
    assert.equal(doc.openapi, '3.1.0')
    await SwaggerParser.validate(structuredClone(doc))
  })

  test('/doc/yaml is the same document', () => {
    assert.deepEqual(parseYaml(yamlText), doc)
  })

  test('every integration is a tag and every declared operation appears under its prefix', () => {
    for (const integration of routes.integrations) {
      const tag = doc.tags.find((t: { name: string }) => t.name === integration.name)
      assert.ok(tag !== undefined, `tag ${integration.name}`)
      assert.equal(tag.description, integration.description)
      assert.ok((integration.docs?.operations.length ?? 0) > 0, `${integration.name} documents operations`)
      for (const op of integration.docs?.operations ?? []) {
        const operation = doc.paths[integration.prefix + op.path]?.[op.method]
        assert.ok(operation !== undefined, `${op.method} ${integration.prefix}${op.path}`)
        assert.deepEqual(operation.tags, [integration.name])
        assert.deepEqual(operation.security, [{ apiKey: [] }, { oauth2: [] }])
        for (const status of ['401', '403', '404', '413', '429', '502', '503', '504']) {
          assert.ok(operation.responses[status] !== undefined, `${status} on ${op.method} ${op.path}`)
        }
        const ok = Object.entries(operation.responses).find(([s]) => s.startsWith('2'))?.[1] as any
        for (const header of ['x-request-id', 'RateLimit', 'RateLimit-Policy', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset']) {
          assert.ok(ok.headers[header] !== undefined, `${header} on ${op.method} ${op.path}`)
        }
      }
    }
    for (const path of ['/yankes/dokter', '/yankes/dokter/{id}', '/yankes/faskes', '/yankes/kamar', '/yankes/kamar/{id}', '/yankes/yankes']) {
      assert.ok(doc.paths[path]?.get !== undefined, path)
    }
    assert.ok(doc.paths['/satu-data/getGroup'].get.parameters.some((p: { name: string }) => p.name === 'limit'))
    assert.ok(doc.paths['/dashboard/{resource}'].post.requestBody !== undefined)
    assert.ok(doc.paths['/bpjs/peserta/{noKartu}'].get !== undefined)
  })

  test('security schemes, token endpoint and Problem responses', () => {
    const { securitySchemes, schemas, responses } = doc.components
    assert.deepEqual(securitySchemes.apiKey, { ...securitySchemes.apiKey, type: 'apiKey', in: 'header', name: 'x-api-key' })
    assert.equal(securitySchemes.oauth2.flows.clientCredentials.tokenUrl, '/oauth2/v1/accesstoken')
    assert.ok(doc.paths['/oauth2/v1/accesstoken'].post !== undefined)
    for (const field of ['type', 'title', 'status', 'code', 'detail', 'instance', 'requestId', 'timestamp']) {
      assert.ok(schemas.Problem.properties[field] !== undefined, field)
    }
    for (const status of ['401', '403', '404', '413', '429', '502', '503', '504']) {
      const example = responses[`Problem${status}`].content['application/problem+json'].example
      assert.equal(example.status, Number(status))
    }
    assert.deepEqual(doc.servers, [{ url: '/', description: 'Server ini' }])
    assert.equal(doc.info.title, 'Gerbang — API Gateway Provinsi Banten')
  })

  test('the proxy and the gateway endpoints are not in the document', () => {
    assert.equal(Object.keys(doc.paths).some((p) => p.includes('*') || p.startsWith('/doc') || p === '/healthz'), false)
  })
})

describe('/doc for a routes file with an upstream OpenAPI file', async () => {
  await writeFile(join(dir, 'fixture-openapi.yaml'), FIXTURE_OPENAPI)
  await writeFile(join(dir, 'routes.yaml'), FIXTURE_ROUTES)
  const routes = await load(join(dir, 'routes.yaml'))
  const { json: doc } = await documents(routes)

  test('validates as OpenAPI 3.1', async () => {
    await SwaggerParser.validate(structuredClone(doc))
  })

  test('its paths are re-based under the prefix, honouring rewritePrefix', () => {
    const list = doc.paths['/kamar/kamar']?.get
    assert.ok(list !== undefined, Object.keys(doc.paths).join(', '))
    assert.deepEqual(list.tags, ['kamar'])
    assert.equal(list.responses['200'].content['application/json'].schema.$ref, '#/components/schemas/kamar.Kamar')
    assert.ok(doc.components.schemas['kamar.Kamar'] !== undefined)
    const one = doc.paths['/kamar/kamar/{id}']?.get
    assert.ok(one.parameters.some((p: { name: string, in: string }) => p.name === 'id' && p.in === 'path'))
    assert.equal(Object.keys(doc.paths).some((p) => p.includes('internal')), false)
  })

  test('an integration without operations appears with its catch-all', () => {
    const op = doc.paths['/arsip/{path}']?.get
    assert.ok(op !== undefined)
    assert.deepEqual(op.tags, ['arsip'])
    assert.match(op.description, /belum mendokumentasikan/)
    assert.deepEqual(op.security, [])
    assert.ok(doc.tags.some((t: { name: string, description: string }) => t.name === 'arsip' && t.description === 'Arsip tanpa dokumentasi operasi'))
  })
})

describe('gerbang routes check with an openapi: reference', () => {
  const routes = 'defaults:\n  auth: none\nintegrations:\n  yankes:\n    upstream: http://127.0.0.1:3000\n    openapi: ./upstream-openapi.yaml\n'

  test('a missing file fails with the path of the problem', async () => {
    const sub = await mkdtemp(join(dir, 'missing-'))
    await writeFile(join(sub, 'routes.yaml'), routes)
    const run = await runGerbang(['routes', 'check', join(sub, 'routes.yaml')])
    assert.equal(run.code, 1)
    assert.match(run.stdout + run.stderr, /routes\.yaml:6: integrations\.yankes\.openapi: cannot read OpenAPI file/)
  })

  for (const [name, text] of [['not YAML', 'openapi: 3.1.0\n  paths: [\n'], ['not OpenAPI 3', 'swagger: "2.0"\npaths: {}\n']] as const) {
    test(`a file that is ${name} fails with the path of the problem`, async () => {
      const sub = await mkdtemp(join(dir, 'invalid-'))
      await writeFile(join(sub, 'routes.yaml'), routes)
      await writeFile(join(sub, 'upstream-openapi.yaml'), text)
      const run = await runGerbang(['routes', 'check', join(sub, 'routes.yaml')])
      assert.equal(run.code, 1)
      assert.match(run.stdout + run.stderr, /routes\.yaml:6: integrations\.yankes\.openapi: /)
    })
  }
})

describe('an upstream OpenAPI document given by URL', async () => {
  const { createServer } = await import('node:http')
  const server = createServer((req, res) => {
    if (req.url === '/openapi.yaml') {
      res.writeHead(200, { 'content-type': 'application/yaml' })
      res.end(FIXTURE_OPENAPI)
    } else {
      res.writeHead(404)
      res.end()
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  const urlRoutes = (path: string): string => FIXTURE_ROUTES.replace('./fixture-openapi.yaml', `http://127.0.0.1:${port}${path}`)

  test('is fetched at load time and re-based like a file', async (t) => {
    t.after(() => { server.close() })
    await writeFile(join(dir, 'routes-url.yaml'), urlRoutes('/openapi.yaml'))
    const routes = await load(join(dir, 'routes-url.yaml'))
    const { json: doc } = await documents(routes)
    assert.ok(doc.paths['/kamar/kamar']?.get !== undefined, Object.keys(doc.paths).join(', '))
    await SwaggerParser.validate(structuredClone(doc))

    await writeFile(join(dir, 'routes-url-missing.yaml'), urlRoutes('/nope.yaml'))
    const check = await runGerbang(['routes', 'check', join(dir, 'routes-url-missing.yaml')])
    assert.equal(check.code, 1)
    assert.match(check.stdout, /integrations\.kamar\.openapi: cannot fetch OpenAPI document .*404/)
  })
})
