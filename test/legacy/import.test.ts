import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage } from 'node:http'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { runGerbang, startGatewayProcess, type RunResult } from '../helpers/process.js'
import { startRedis, storeConnected } from '../helpers/redis.js'
import { createLegacyDatabase, legacyRows, oldKey } from '../helpers/mariadb.js'
import { RedisStore } from '../../src/store/redis-store.js'
import { SecretHasher } from '../../src/auth/secrets.js'
import { legacyProgress } from '../../src/auth/legacy.js'
import type { Client } from '../../src/store/types.js'
import { waitUntil } from '../helpers/time.js'

// `gerbang import legacy` as operators run it, against a real MariaDB with
// the old API manager's `keys` table (10,000 rows) and a redis-server of
// this file's own; then the old keys through a real `gerbang start`.

const PEPPER = 'legacy-import-pepper-0123456789'
const ROWS = 10_000

interface ImportJson {
  dryRun: boolean
  imported: number
  skipped: number
  failed: number
  clients: Array<{ legacyId: string, name: string, status: string, clientId?: string, reason?: string }>
}

function ok (result: RunResult, code = 0): RunResult {
  assert.equal(result.code, code, `exit ${String(result.code)}\nstdout: ${result.stdout.slice(0, 2000)}\nstderr: ${result.stderr}`)
  return result
}

/** Every key and its value (DUMP), for "nothing changed". */
async function redisDump (store: RedisStore): Promise<Map<string, string>> {
  const dump = new Map<string, string>()
  let cursor = '0'
  do {
    const [next, keys] = await store.redis.scan(cursor, 'COUNT', 1000) as [string, string[]]
    cursor = next
    for (const key of keys) {
      if (key.includes('{procs}')) continue // gateways' heartbeats
      const value = await store.redis.dumpBuffer(key)
      dump.set(key, value === null ? '' : value.toString('base64'))
    }
  } while (cursor !== '0')
  return dump
}

/** Every key and value as text, to search for secrets in clear. */
async function redisText (store: RedisStore): Promise<string> {
  const parts: string[] = []
  for (const [key] of await redisDump(store)) {
    parts.push(key)
    const type = await store.redis.type(key)
    if (type === 'string') parts.push(await store.redis.get(key) ?? '')
    else if (type === 'hash') parts.push(JSON.stringify(await store.redis.hgetall(key)))
    else if (type === 'set') parts.push(JSON.stringify(await store.redis.smembers(key)))
    else if (type === 'zset') parts.push(JSON.stringify(await store.redis.zrange(key, 0, -1)))
    else if (type === 'list') parts.push(JSON.stringify(await store.redis.lrange(key, 0, -1)))
  }
  return parts.join('\n')
}

interface Seen {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: string
}

test('gerbang import legacy: 10,000 rows from MariaDB, idempotent, then the old keys through a real gateway', async (t) => {
  const db = await createLegacyDatabase(t)
  const rows = legacyRows(ROWS)
  const row = (id: number): typeof rows[number] => rows[id - 1] as typeof rows[number]
  // Special rows: a key bound to another address, one bound to this one, an
  // empty key, two rows sharing a key, and a name a Gerbang client already has.
  Object.assign(row(10), { ipAddresses: '10.20.30.40', isPrivateKey: 1 })
  Object.assign(row(11), { ipAddresses: '127.0.0.1, 10.0.0.0/8', isPrivateKey: 1 })
  Object.assign(row(12), { key: '' })
  Object.assign(row(14), { key: row(13).key })
  Object.assign(row(15), { domain: 'RSUD Banten' })
  await db.insert(rows)
  const failedIds = ['12', '13', '14', '15']
  const importable = ROWS - failedIds.length

  const redis = await startRedis(t, { own: true })
  const env = { REDIS_URL: redis.url, GERBANG_KEY_PEPPER: PEPPER }
  const importLegacy = async (...args: string[]): Promise<RunResult> => await runGerbang(['import', 'legacy', '--mysql', db.url, ...args], env)
  const store = new RedisStore({ url: redis.url })
  await storeConnected(store)
  t.after(async () => { await store.close() })
  const hasher = new SecretHasher(PEPPER)
  const existing = JSON.parse(ok(await runGerbang(['keys', 'create', '--client', 'RSUD Banten', '--integrations', 'yankes', '--json'], env)).stdout) as { id: string }

  await t.test('--dry-run reports what it would do and writes nothing (a Redis dump is the same before and after)', async () => {
    const before = await redisDump(store)
    const result = JSON.parse(ok(await importLegacy('--dry-run', '--json'), 1).stdout) as ImportJson
    assert.equal(result.dryRun, true)
    assert.equal(result.imported, importable)
    assert.equal(result.failed, failedIds.length)
    assert.deepEqual(await redisDump(store), before)
  })

  let imported: ImportJson | undefined
  await t.test(`the import of ${ROWS} rows takes under 30 s end to end; bad rows are listed in failed`, async () => {
    const started = performance.now()
    const result = await importLegacy('--json', '--integrations', 'yankes')
    const seconds = (performance.now() - started) / 1000
    t.diagnostic(`import of ${ROWS} rows: ${seconds.toFixed(2)} s end to end`)
    imported = JSON.parse(ok(result, 1).stdout) as ImportJson
    assert.ok(seconds < 30, `took ${seconds.toFixed(1)} s`)
    assert.equal(imported.imported, importable)
    assert.equal(imported.skipped, 0)
    assert.equal(imported.failed, failedIds.length)
    assert.equal(imported.clients.length, ROWS)
    const failed = imported.clients.filter((c) => c.status === 'failed')
    assert.deepEqual(failed.map((c) => c.legacyId), failedIds)
    assert.match(failed[0]?.reason ?? '', /empty/)
    assert.match(failed[1]?.reason ?? '', /duplicated: rows 13, 14/)
    assert.match(failed[3]?.reason ?? '', /a client named 'RSUD Banten' already exists/)
    assert.equal(JSON.stringify(imported).includes(row(1).key), false, 'no key in the output')
    // The clash was reported, not overwritten.
    const kept = await store.getClient(existing.id)
    assert.equal(kept?.legacy, undefined)
    assert.deepEqual(kept?.integrations, ['yankes'])
    // Mapping: name from domain, else legacy-<id>; legacy id and date in the description; IPs; integrations.
    const first = (await store.resolveKey(hasher.hash(row(1).key)))?.client as Client
    assert.equal(first.name, 'app-1.bantenprov.go.id')
    assert.equal(first.legacy?.id, '1')
    assert.match(first.description, /keys\.id 1, created 2018-05-01 01:00:00 UTC/)
    assert.deepEqual(first.integrations, ['yankes'])
    assert.equal(first.rateLimit, undefined)
    const noDomain = (await store.resolveKey(hasher.hash(row(50).key)))?.client
    assert.equal(noDomain?.name, 'legacy-50')
    const bound = (await store.resolveKey(hasher.hash(row(11).key)))?.client
    assert.deepEqual(bound?.allowedIps, ['127.0.0.1', '10.0.0.0/8'])
    assert.equal(await store.countClients(), importable + 1)
  })

  await t.test('a re-run imports nothing and skips every imported row', async () => {
    const started = performance.now()
    const again = JSON.parse(ok(await importLegacy('--json'), 1).stdout) as ImportJson
    t.diagnostic(`re-run over ${ROWS} rows: ${((performance.now() - started) / 1000).toFixed(2)} s`)
    assert.equal(again.imported, 0)
    assert.equal(again.skipped, importable)
    assert.equal(again.failed, failedIds.length)
    assert.equal(await store.countClients(), importable + 1)
    const text = ok(await importLegacy(), 1).stdout
    assert.match(text, /imported 0, skipped 9996 \(imported before\), failed 4/)
  })

  await t.test('keys list marks legacy clients', async () => {
    const list = JSON.parse(ok(await runGerbang(['keys', 'list', '--search', 'app-1.bantenprov', '--limit', '1', '--json'], env)).stdout) as Array<Client & { status: string }>
    assert.equal(list[0]?.legacy?.id, '1')
    const text = ok(await runGerbang(['keys', 'list', '--search', 'app-1.bantenprov', '--limit', '1'], env)).stdout
    assert.match(text, /LEGACY/)
    assert.match(text, /app-1\.bantenprov\.go\.id +active +legacy #1 /)
  })

  // The upstream: what it was sent, bodies included.
  const seen: Seen[] = []
  const origin = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString()
      if (req.headers['content-length'] !== undefined) assert.equal(Number(req.headers['content-length']), Buffer.byteLength(body))
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ status: true, body }))
    })
  })
  origin.listen(0, '127.0.0.1')
  await once(origin, 'listening')
  t.after(() => { origin.close() })
  const dir = await mkdtemp(join(tmpdir(), 'gerbang-legacy-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const routes = join(dir, 'routes.yaml')
  await writeFile(routes, [
    'integrations:',
    '  yankes:',
    `    upstream: http://127.0.0.1:${(origin.address() as AddressInfo).port}/api/v1`,
    '    apiKeyQuery: X-API-KEY',
    '    apiKeyForm: X-API-KEY',
    '  satu-data:',
    `    upstream: http://127.0.0.1:${(origin.address() as AddressInfo).port}`,
    ''
  ].join('\n'))
  const gw = await startGatewayProcess(t, routes, env)
  let stderr = ''
  gw.child.stderr?.on('data', (c: Buffer) => { stderr += c.toString() })

  const sample: string[] = []
  for (let i = 0; i < 100; i++) {
    const id = 20 + i * 97
    if (!failedIds.includes(String(id))) sample.push(row(id).key)
  }

  await t.test('100 sampled old keys answer 200 in the header, the query and the form field; none reaches the upstream', async () => {
    for (const [i, key] of sample.entries()) {
      const header = await fetch(`${gw.url}/yankes/dokter?page=${i}`, { headers: { 'X-API-KEY': key } })
      assert.equal(header.status, 200, await header.text())
      const query = await fetch(`${gw.url}/yankes/faskes?X-API-KEY=${key}&page=2`)
      assert.equal(query.status, 200, await query.text())
      const form = await fetch(`${gw.url}/yankes/kamar`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `nama=RSUD%20Banten&X-API-KEY=${key}&kelas=B`
      })
      assert.equal(form.status, 200, await form.text())
    }
    assert.equal(seen.length, sample.length * 3)
    const lastForm = seen.at(-1) as Seen
    assert.equal(lastForm.body, 'nama=RSUD%20Banten&kelas=B', 'the field is taken out, the rest as sent')
    assert.equal(lastForm.url, '/api/v1/kamar')
    assert.equal(seen.at(-2)?.url, '/api/v1/faskes?page=2')
    assert.ok(seen.every((s) => s.headers['x-client-id'] !== undefined))
    const upstreamText = JSON.stringify(seen)
    for (const key of sample) assert.equal(upstreamText.includes(key), false, 'a key reached the upstream')
  })

  await t.test('an imported key bound to ip_addresses answers 403 from another address; one bound to this address works', async () => {
    const elsewhere = await fetch(`${gw.url}/yankes/dokter`, { headers: { 'x-api-key': row(10).key } })
    assert.equal(elsewhere.status, 403)
    assert.match((await elsewhere.json() as { detail: string }).detail, /may not call from this address/)
    const here = await fetch(`${gw.url}/yankes/dokter`, { headers: { 'x-api-key': row(11).key } })
    assert.equal(here.status, 200)
  })

  await t.test('refused: a 40-hex key never imported, a failed row\'s key, a key of another integration, non-form and oversized bodies', async () => {
    const unknown = await fetch(`${gw.url}/yankes/dokter`, { headers: { 'x-api-key': oldKey('never-imported') } })
    assert.equal(unknown.status, 401)
    assert.equal((await unknown.json() as { code: string }).code, 'CREDENTIALS_INVALID')
    const shared = await fetch(`${gw.url}/yankes/dokter`, { headers: { 'x-api-key': row(13).key } })
    assert.equal(shared.status, 401)
    const other = await fetch(`${gw.url}/satu-data/getGroup`, { headers: { 'x-api-key': row(1).key } })
    assert.equal(other.status, 403, 'imported with --integrations yankes')
    const json = await fetch(`${gw.url}/yankes/kamar`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ 'X-API-KEY': row(1).key })
    })
    assert.equal(json.status, 401)
    const big = await fetch(`${gw.url}/yankes/kamar`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `X-API-KEY=${row(1).key}&data=${'a'.repeat(1024 * 1024)}`
    })
    assert.equal(big.status, 401)
    assert.match((await big.json() as { detail: string }).detail, /form bodies over 1 MiB are not searched for the X-API-KEY field/)
    const bigWithHeader = await fetch(`${gw.url}/yankes/kamar`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-api-key': row(1).key },
      body: `data=${'a'.repeat(1024 * 1024)}`
    })
    assert.equal(bigWithHeader.status, 200, 'a large form with the key in the header streams on')
  })

  await t.test('no key appears in clear in a Redis dump or in the logs; the week\'s legacy callers are counted', async () => {
    // Last uses and legacy calls reach the store every 10 s: polled until they have.
    const calling = sample.length + 1 + 1
    await waitUntil('the week\'s legacy calls to reach the store', async () => (await legacyProgress(store)).callingThisWeek >= calling,
      { timeoutMs: 20_000, intervalMs: 250 })
    const dump = await redisText(store)
    const logs = JSON.stringify(gw.logs) + stderr
    for (const key of [...sample, row(10).key, row(13).key]) {
      assert.equal(dump.includes(key), false, 'a key in clear in Redis')
      assert.equal(logs.includes(key), false, 'a key in the logs')
    }
    const progress = await legacyProgress(store)
    assert.equal(progress.clients, importable)
    assert.equal(progress.callingThisWeek, calling, 'the sample, the bound key called from here, and row 1')
  })
})

test('gerbang import legacy refuses bad sources clearly and changes nothing', async (t) => {
  const redis = await startRedis(t, { own: true })
  const env = { REDIS_URL: redis.url, GERBANG_KEY_PEPPER: PEPPER }
  const store = new RedisStore({ url: redis.url })
  await storeConnected(store)
  t.after(async () => { await store.close() })

  await t.test('an unreachable database, without its password in the message', async () => {
    const result = await runGerbang(['import', 'legacy', '--mysql', 'mysql://root:s3cret-pass@127.0.0.1:1/legacy'], env)
    assert.equal(result.code, 1)
    assert.match(result.stderr, /^gerbang import legacy: cannot reach the legacy database at mysql:\/\/root:\*\*\*@127\.0\.0\.1:1\/legacy: .*nothing was imported\n$/)
    assert.equal(result.stderr.includes('s3cret-pass'), false)
  })

  await t.test('a database without a keys table', async () => {
    const db = await createLegacyDatabase(t, { table: false })
    const result = await runGerbang(['import', 'legacy', '--mysql', db.url], env)
    assert.equal(result.code, 1)
    assert.match(result.stderr, /has no `keys` table .*nothing was imported/)
  })

  await t.test('a keys table with only id and key imports, the optional columns absent', async () => {
    const db = await createLegacyDatabase(t, { table: false })
    await db.connection.query('CREATE TABLE `keys` (`id` INT PRIMARY KEY, `key` VARCHAR(64) NOT NULL)')
    await db.connection.query('INSERT INTO `keys` VALUES (1, ?), (2, ?)', [oldKey('a'), 'Zx9-custom_key.of+30chars!!!!!'])
    const result = JSON.parse(ok(await runGerbang(['import', 'legacy', '--mysql', db.url, '--json'], env)).stdout) as ImportJson
    assert.equal(result.imported, 2)
    assert.deepEqual(result.clients.map((c) => c.name), ['legacy-1', 'legacy-2'])
    const client = (await store.resolveKey(new SecretHasher(PEPPER).hash('Zx9-custom_key.of+30chars!!!!!')))?.client
    assert.deepEqual(client?.integrations, '*', 'the default is every integration')
    assert.deepEqual((await store.legacySummary()).keyLengths, [30, 40])
  })

  await t.test('usage errors', async () => {
    const missing = await runGerbang(['import', 'legacy'], env)
    assert.equal(missing.code, 2)
    assert.match(missing.stderr, /--mysql is required/)
    const wrong = await runGerbang(['import', 'legacy', '--mysql', 'postgres://x@y/z'], env)
    assert.equal(wrong.code, 2)
  })
})
