import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { readEnv } from '../src/config/env.js'
import { startGateway } from '../src/server.js'
import { startDemoUpstreams } from './upstreams.js'

// `npm run demo`: the repository's own routes.yaml, served by the real gateway,
// with every upstream replaced by a bundled sample server on this machine.

// Compiled to dist/demo/run.js; the repository root is two levels up whatever
// the current directory is.
const ROUTES_FILE = fileURLToPath(new URL('../../routes.yaml', import.meta.url))
const SHUTDOWN_TIMEOUT_MS = 5000
const CLIENT_ID_PLACEHOLDER = '{{client_id}}'
const ADMIN_EMAIL = 'admin@bantenprov.go.id'

/** routes.yaml reads each upstream from e.g. SATU_DATA_UPSTREAM. */
const upstreamVariable = (name: string): string => `${name.toUpperCase().replaceAll('-', '_')}_UPSTREAM`

// Each example answers 200 with sample data; test/demo.test.ts runs every one.
// A body makes the example a POST with JSON, or a PUT when that is named.
const EXAMPLES: Array<[comment: string, path: string, body?: Record<string, unknown>, method?: 'PUT']> = [
  ['yankes: ringkasan layanan kesehatan se-Banten (health services summary)', '/yankes/yankes'],
  ['yankes: daftar dokter, halaman 2 (doctors, page 2)', '/yankes/dokter?page=2'],
  ['yankes: data RSUD Banten (one hospital)', '/yankes/faskes/1'],
  ['yankes: ketersediaan kamar RSUD Malingping (bed availability)', '/yankes/kamar/2'],
  ['satu-data: cari grup data "kesehatan" (search data groups)', '/satu-data/getGroup?page=1&limit=5&keyword=kesehatan'],
  ['satu-data: daftar organisasi perangkat daerah (organizations)', '/satu-data/getOrganization'],
  ['dashboard: kirim data penduduk Kota Serang (POST population figures)', '/dashboard/penduduk',
    { kab_kot: 'Kota Serang', tahun: 2024, pria: 361200, wanita: 352900 }],
  ['dashboard: perbarui data tim medis (PUT medical staff figures)', '/dashboard/tim-medis/3',
    { dokter: 412, perawat: 1630, bidan: 540 }, 'PUT'],
  ['otorisasi: pengguna nomor 1 (user 1)', '/otorisasi/user/1'],
  ['otorisasi: peran Admin OPD (role 2)', '/otorisasi/role/2'],
  ['bpjs: status kepesertaan BPJS Kesehatan (membership status)', '/bpjs/peserta/0001357924680']
]

/** One argument for a POSIX shell, so lines can be pasted as they are. */
const quote = (arg: string): string => `'${arg.replaceAll("'", "'\\''")}'`

function curlLine (base: string, key: string, [, path, body, method]: typeof EXAMPLES[number]): string {
  const args = [
    '-H', quote(`x-api-key: ${key}`),
    ...(method === undefined ? [] : ['-X', method]),
    ...(body === undefined ? [] : ['-H', quote('content-type: application/json'), '-d', quote(JSON.stringify(body))]),
    quote(base + path)
  ]
  return `curl ${args.join(' ')}`
}

/** The host a local curl reaches the gateway on: loopback when it listens everywhere. */
function curlHost (host: string): string {
  if (['0.0.0.0', '::', 'localhost', '127.0.0.1'].includes(host)) return '127.0.0.1'
  return host.includes(':') ? `[${host}]` : host
}

function banner (
  app: FastifyInstance, base: string, adminBase: string, key: string, adminPassword: string, dataDir: string
): string {
  const integrations = app.routeTable.table.routes.map(({ integration: i }) =>
    `  ${i.prefix.padEnd(12)} -> ${i.origin}${i.upstreamPathPrefix}\n  ${''.padEnd(12)}    ${i.description}`)
  return [
    '',
    '======================================================================',
    `Gerbang demo siap (Gerbang demo is ready): ${base}`,
    '======================================================================',
    '',
    'Integrasi dari routes.yaml, diteruskan ke server contoh di mesin ini',
    '(integrations from routes.yaml, forwarded to sample upstreams on this machine):',
    ...integrations,
    '',
    'Coba perintah berikut (try these commands):',
    `Kunci API demo (demo API key, client "Demo", every integration): ${key}`,
    '',
    ...EXAMPLES.flatMap((example) => [`# ${example[0]}`, curlLine(base, key, example)]),
    '# token OAuth2 gaya SATUSEHAT (SATUSEHAT-style OAuth2 token; then: Authorization: Bearer <access_token>)',
    `curl -X POST ${quote(`${base}/oauth2/v1/accesstoken?grant_type=client_credentials`)} -d ${quote(`client_id=${CLIENT_ID_PLACEHOLDER}`)} --data-urlencode ${quote(`client_secret=${key}`)}`,
    '',
    `Admin UI: ${adminBase}/admin`,
    '  (port tersendiri, GERBANG_ADMIN_PORT: tidak ada halaman integrasi yang berbagi origin dengannya;',
    '   its own port: no proxied page shares its origin)',
    `  email:      ${ADMIN_EMAIL}`,
    `  kata sandi (password): ${adminPassword}`,
    `Dokumentasi API (API docs): ${base}/doc`,
    '',
    `Catatan (note): toko data (store) demo ada di direktori sementara ${dataDir},`,
    '  dihapus saat demo berhenti (the demo store lives in a fresh temporary directory, deleted when the demo stops).',
    '  Perintah gerbang keys bekerja padanya (the gerbang keys commands work on it):',
    `  GERBANG_DATA_DIR=${quote(dataDir)} npx gerbang keys list`,
    'Log permintaan dicetak sebagai baris JSON (request logs are JSON lines).',
    'Tekan Ctrl+C untuk berhenti (press Ctrl+C to stop).',
    ''
  ].join('\n')
}

async function main (): Promise<void> {
  // The gateway's own reading of PORT, HOST and LOG_LEVEL, with its checks and defaults.
  // The demo prints an admin password: it listens on loopback unless HOST says otherwise.
  const settings = readEnv({ ...process.env, HOST: process.env.HOST ?? '127.0.0.1' })
  // The admin UI on its own port, as the README recommends: GERBANG_ADMIN_PORT,
  // else the port after PORT (8081 beside 8080), or a free one when PORT is 0.
  const adminPort = settings.adminPort ?? (settings.port === 0 || settings.port === 65535 ? 0 : settings.port + 1)
  const upstreams = await startDemoUpstreams('127.0.0.1')
  // The embedded store on disk, in a fresh temporary directory (docs/contract.md
  // section 12): every demo starts empty and leaves nothing behind.
  const dataDir = await mkdtemp(join(tmpdir(), 'gerbang-demo-'))
  const stopped = async (): Promise<void> => {
    await upstreams.close()
    await rm(dataDir, { recursive: true, force: true })
  }
  // A new admin password each run: the demo's store is deleted when it stops.
  const adminPassword = randomBytes(12).toString('base64url')
  let app: FastifyInstance
  try {
    app = await startGateway({
      routesFile: ROUTES_FILE,
      port: settings.port,
      host: settings.host,
      adminPort,
      adminHost: settings.adminHost,
      logLevel: settings.logLevel,
      shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS,
      env: {
        ...process.env,
        GERBANG_ADMIN_EMAIL: ADMIN_EMAIL,
        GERBANG_ADMIN_PASSWORD: adminPassword,
        ...Object.fromEntries(Object.entries(upstreams.origins).map(([name, origin]) =>
          [upstreamVariable(name), origin]))
      },
      onStopped: stopped,
      // The contract's demo runs on the embedded store, whatever the shell has set.
      redisUrl: undefined,
      dataDir,
      keyPepper: undefined
    })
  } catch (err) {
    await stopped()
    throw err
  }

  const { port } = app.server.address() as AddressInfo
  const admin = app.adminListener?.server.address() as AddressInfo
  const demo = await app.clients.create({
    name: 'Demo',
    description: 'Klien demo (demo client) dari npm run demo',
    integrations: '*'
  })
  console.log(banner(app, `http://${curlHost(settings.host)}:${port}`, `http://${curlHost(settings.adminHost)}:${admin.port}`, demo.key, adminPassword, dataDir)
    .replace(CLIENT_ID_PLACEHOLDER, demo.client.id))
}

main().catch((err: unknown) => {
  process.stderr.write(`gerbang demo: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = 1
})
