/* eslint-disable no-template-curly-in-string -- routes.yaml text with ${VAR} references */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runGerbang, startGatewayProcess } from '../helpers/process.js'
import { startEchoOrigin } from '../helpers/origin.js'
import { startFakeBpjs } from '../helpers/bpjs.js'
import { startFakeSatusehat } from '../helpers/satusehat.js'
import { login } from '../helpers/admin.js'
import type { Problem } from '../helpers/problem.js'

// Operators' own plugin files, `gerbang routes check` on plugin options, and
// the promise that no upstream secret leaves the gateway: not in its logs,
// /doc/json, the admin API's view of routes.yaml, nor any answer.

async function tempDir (t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gerbang-plugins-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  await mkdir(join(dir, 'plugins'))
  return dir
}

// A plugin as an operator writes it in plain JavaScript, beside routes.yaml:
// it cannot import TypeBox from there, so it takes the Type it is given.
const ADD_INSTANSI = `
export default ({ Type }) => ({
  name: 'add-instansi',
  options: Type.Object({ value: Type.String({ minLength: 2 }) }, { additionalProperties: false }),
  create (options, { integration }) {
    return {
      onRequest (request) {
        request.headers.set('x-instansi', options.value)
        request.headers.set('x-integration', integration)
      }
    }
  }
})
`

const TAG = `
export default function ({ Type }) {
  return {
    name: 'tag',
    options: Type.Object({}),
    create: () => ({ onRequest (request) { request.headers.set('x-tag', 'from-a-path') } })
  }
}
`

test('an operator\'s plugin from plugins/ beside routes.yaml, and one given by path, change what the upstream sees', async (t) => {
  const dir = await tempDir(t)
  const echo = await startEchoOrigin()
  t.after(echo.close)
  await writeFile(join(dir, 'plugins', 'add-instansi.js'), ADD_INSTANSI)
  await mkdir(join(dir, 'extra'))
  await writeFile(join(dir, 'extra', 'tag.mjs'), TAG)
  const routes = join(dir, 'routes.yaml')
  await writeFile(routes, [
    'defaults:', '  auth: none', 'integrations:', '  dinkes:', `    upstream: ${echo.url}`, '    plugins:',
    '      - add-instansi: { value: ${INSTANSI} }', '      - ./extra/tag.mjs: {}', ''
  ].join('\n'))

  const check = await runGerbang(['routes', 'check', routes], { INSTANSI: 'dinkes-banten' })
  assert.equal(check.code, 0, check.stdout + check.stderr)

  const gw = await startGatewayProcess(t, routes, { INSTANSI: 'dinkes-banten' })
  const res = await fetch(`${gw.url}/dinkes/kamar`)
  assert.equal(res.status, 200)
  const seen = await res.json() as { headers: Record<string, string> }
  assert.equal(seen.headers['x-instansi'], 'dinkes-banten')
  assert.equal(seen.headers['x-integration'], 'dinkes')
  assert.equal(seen.headers['x-tag'], 'from-a-path')
})

// Node 24 strips types: an operator's .ts plugin beside routes.yaml loads as
// it is, with no build step (erasable syntax only: annotations, interfaces).
const STAMP_TS = `
interface Kit { Type: { Object: (shape: Record<string, unknown>) => unknown, String: () => unknown } }
interface Headers { set: (name: string, value: string) => void }

export default function ({ Type }: Kit) {
  return {
    name: 'stamp',
    options: Type.Object({ unit: Type.String() }),
    create: (options: { unit: string }) => ({
      onRequest (request: { headers: Headers }): void { request.headers.set('x-unit', options.unit) }
    })
  }
}
`

test('an operator\'s TypeScript plugin beside routes.yaml loads without a build', async (t) => {
  const dir = await tempDir(t)
  const echo = await startEchoOrigin()
  t.after(echo.close)
  await writeFile(join(dir, 'plugins', 'stamp.ts'), STAMP_TS)
  const routes = join(dir, 'routes.yaml')
  await writeFile(routes, ['defaults:', '  auth: none', 'integrations:', '  dinkes:', `    upstream: ${echo.url}`, '    plugins:',
    '      - stamp: { unit: puskesmas }', ''].join('\n'))
  const check = await runGerbang(['routes', 'check', routes])
  assert.equal(check.code, 0, check.stdout + check.stderr)
  const gw = await startGatewayProcess(t, routes)
  const res = await fetch(`${gw.url}/dinkes/kamar`)
  assert.equal(res.status, 200)
  assert.equal((await res.json() as { headers: Record<string, string> }).headers['x-unit'], 'puskesmas')
})

test('gerbang routes check names the plugin and the option that is wrong, and never prints the value', async (t) => {
  const dir = await tempDir(t)
  await writeFile(join(dir, 'plugins', 'add-instansi.js'), ADD_INSTANSI)
  await writeFile(join(dir, 'plugins', 'misnamed.js'), ADD_INSTANSI)
  await writeFile(join(dir, 'plugins', 'broken.js'), 'export default {{ not javascript')
  await writeFile(join(dir, 'plugins', 'plain.js'), 'export default { name: "plain", options: { type: "object" }, create () { return {} } }')
  const routes = join(dir, 'routes.yaml')
  await writeFile(routes, [
    'defaults:', '  auth: none', 'integrations:', '  svc:', '    upstream: http://127.0.0.1:9', '    plugins:',
    '      - add-instansi: { value: ${ONE_CHAR} }',
    '      - bpjs-vclaim: { consId: "1234", userKey: ${BPJS_USER_KEY}, decrypt: ${BPJS_USER_KEY} }',
    '      - misnamed: {}',
    '      - broken: {}',
    '      - plain: {}',
    '      - ./nowhere/x.js: {}',
    ''
  ].join('\n'))
  const secret = 'uk-secret-value-31337'
  const check = await runGerbang(['routes', 'check', routes], { ONE_CHAR: 'x', BPJS_USER_KEY: secret })
  assert.equal(check.code, 1)
  const out = check.stdout + check.stderr
  const lines = out.split('\n').filter((l) => l.includes('routes.yaml:'))
  const expect = [
    /:7: integrations\.svc\.plugins\.0\.add-instansi\.value: add-instansi: option 'value' expected string length greater or equal to 2$/,
    /:8: integrations\.svc\.plugins\.1\.bpjs-vclaim\.secret: bpjs-vclaim: missing required option 'secret'$/,
    /:8: integrations\.svc\.plugins\.1\.bpjs-vclaim\.decrypt: bpjs-vclaim: option 'decrypt' /,
    /:9: integrations\.svc\.plugins\.2\.misnamed: .*misnamed\.js names its plugin 'add-instansi', not 'misnamed'$/,
    /:10: integrations\.svc\.plugins\.3\.broken: cannot load .*broken\.js: /,
    /:11: integrations\.svc\.plugins\.4\.plain: .*plain\.js: `options` must be a TypeBox schema/,
    /:12: integrations\.svc\.plugins\.5\.\.\/nowhere\/x\.js: unknown plugin '\.\/nowhere\/x\.js': no file /
  ]
  for (const pattern of expect) assert.ok(lines.some((l) => pattern.test(l)), `no line matches ${String(pattern)} in:\n${out}`)
  assert.ok(!out.includes(secret), 'a secret was printed')
})

test('no upstream secret in logs, /doc/json, the admin routes view, or any answer, including failures', async (t) => {
  const secrets = {
    BPJS_CONS_ID: '27182',
    BPJS_SECRET: 'bpjs-secret-9f8e7d6c',
    BPJS_USER_KEY: 'bpjs-userkey-5a4b3c2d',
    SS_CLIENT_ID: 'ss-client-id-1a2b3c',
    SS_CLIENT_SECRET: 'ss-client-secret-4d5e6f'
  }
  const bpjs = await startFakeBpjs({
    consId: secrets.BPJS_CONS_ID, secret: secrets.BPJS_SECRET, userKey: secrets.BPJS_USER_KEY
  })
  t.after(bpjs.close)
  const satusehat = await startFakeSatusehat({ clientId: secrets.SS_CLIENT_ID, clientSecret: secrets.SS_CLIENT_SECRET })
  t.after(satusehat.close)

  const dir = await tempDir(t)
  const routes = join(dir, 'routes.yaml')
  await writeFile(routes, [
    'defaults:', '  auth: none', 'integrations:',
    '  bpjs:', `    upstream: ${bpjs.url}/vclaim-rest`, '    plugins:',
    '      - bpjs-vclaim: { consId: ${BPJS_CONS_ID}, secret: ${BPJS_SECRET}, userKey: ${BPJS_USER_KEY}, decrypt: true }',
    '  satusehat:', `    upstream: ${satusehat.fhirUrl}`, '    plugins:',
    '      - oauth2-client-credentials: { tokenUrl: ${SS_TOKEN_URL}, clientId: ${SS_CLIENT_ID}, clientSecret: ${SS_CLIENT_SECRET} }',
    '      - static-headers: { set: { x-instansi: dinkes-banten } }',
    ''
  ].join('\n'))
  const password = 'rahasia-banten-2026'
  const gw = await startGatewayProcess(t, routes, {
    ...secrets,
    SS_TOKEN_URL: satusehat.tokenUrl,
    LOG_LEVEL: 'debug',
    GERBANG_KEY_PEPPER: 'plugins-secrets-pepper-0123456789',
    GERBANG_ADMIN_EMAIL: 'kominfo@bantenprov.go.id',
    GERBANG_ADMIN_PASSWORD: password
  })

  const bodies: string[] = []
  const get = async (path: string, init?: RequestInit): Promise<Response> => {
    const res = await fetch(`${gw.url}${path}`, init)
    bodies.push(`${res.status} ${JSON.stringify([...res.headers])} ${await res.clone().text()}`)
    return res
  }

  // Success on both, through the plugins.
  const peserta = await get('/bpjs/Peserta/nokartu/0001234567890/tglSEP/2026-11-21')
  assert.equal(peserta.status, 200)
  assert.equal(typeof ((await peserta.json()) as { response: unknown }).response, 'object')
  assert.equal((await get('/satusehat/Patient?identifier=nik|3604010101900001')).status, 200)

  // Failures: a corrupt BPJS answer, a token endpoint that refuses, one that is down.
  bpjs.corrupt = true
  const corrupt = await get('/bpjs/Peserta/nokartu/0001234567890/tglSEP/2026-11-21')
  assert.equal(corrupt.status, 502)
  assert.equal((await corrupt.json() as Problem).plugin, 'bpjs-vclaim')
  satusehat.revokeAll()
  satusehat.tokenMode = { status: 401 }
  const refused = await get('/satusehat/Patient?identifier=x')
  assert.equal(refused.status, 502)
  const problem = await refused.json() as Problem
  assert.equal(problem.code, 'UPSTREAM_AUTH_FAILED')
  assert.equal(problem.plugin, 'oauth2-client-credentials')

  await get('/doc/json')
  const admin = await login(gw.url, 'kominfo@bantenprov.go.id', password)
  const view = await admin.call('GET', '/routes')
  assert.equal(view.status, 200)
  const viewText = await view.text()
  // The admin sees routes.yaml as written: the reference, not what it stands for.
  assert.match(viewText, /secret: \$\{BPJS_SECRET\}/)
  bodies.push(viewText)

  await satusehat.close()
  const down = await get('/satusehat/Patient?identifier=y')
  assert.equal(down.status, 502)

  const everything = [...bodies, ...gw.logs.map((l) => JSON.stringify(l))].join('\n')
  assert.ok(gw.logs.some((l) => l.msg === 'plugin failed'), 'the failures were logged')
  for (const [name, value] of Object.entries(secrets)) {
    if (name === 'BPJS_CONS_ID') continue // an identifier BPJS sees in every request, not a secret
    assert.ok(!everything.includes(value), `${name} leaked`)
  }
  for (const token of satusehat.issued) assert.ok(!everything.includes(token), 'an upstream token leaked')
})
