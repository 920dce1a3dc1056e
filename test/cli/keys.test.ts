import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runGerbang, type RunResult } from '../helpers/process.js'
import { startRedis, storeConnected } from '../helpers/redis.js'
import { RedisStore } from '../../src/store/redis-store.js'
import { SecretHasher } from '../../src/auth/secrets.js'
import type { Client } from '../../src/store/types.js'
import { sleepUntil } from '../helpers/time.js'

// `gerbang keys …` run as users run it, against a redis-server of this file's
// own: the CLI has no key prefix option, so it writes under the default `gb:`.

const PEPPER = 'cli-test-pepper-0123456789abcdef'
const KEY_SHAPE = /^gb_[A-Za-z0-9_-]{43}$/
const ANY_KEY = /gb_[A-Za-z0-9_-]{43}/g

interface KeyJson {
  id: string
  key: string
  client: string
  description: string
  integrations: string[] | '*'
  rateLimit: string | null
  expiresAt: string | null
  allowedIps: string[] | null
  createdAt: string
  oldKeysValidUntil?: string | null
}

function ok (result: RunResult): RunResult {
  assert.equal(result.code, 0, `exit ${String(result.code)}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`)
  return result
}

/** The one line of stderr a refused command prints. */
function oneLine (result: RunResult, code: number): string {
  assert.equal(result.code, code, `exit ${String(result.code)}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`)
  const lines = result.stderr.trim().split('\n')
  assert.equal(lines.length, 1, `one line expected:\n${result.stderr}`)
  return lines[0] as string
}

test('gerbang keys', async (t) => {
  const redis = await startRedis(t, { own: true })
  const env = { REDIS_URL: redis.url, GERBANG_KEY_PEPPER: PEPPER }
  const keys = async (...args: string[]): Promise<RunResult> => await runGerbang(['keys', ...args], env)
  const hasher = new SecretHasher(PEPPER)
  const store = new RedisStore({ url: redis.url })
  await storeConnected(store)
  const resolve = async (key: string): Promise<Client | undefined> => (await store.resolveKey(hasher.hash(key)))?.client
  // Every secret the CLI printed: listing must never show one again.
  const secrets: string[] = []

  try {
    let rsud: KeyJson | undefined

    await t.test('create prints the key once, with a warning, and the key works', async () => {
      const result = ok(await keys('create', '--client', 'RSUD Banten', '--integrations', 'yankes,bpjs',
        '--description', 'RSUD milik Provinsi Banten', '--rate-limit', '100/1m'))
      const printed = result.stdout.match(ANY_KEY) ?? []
      assert.equal(printed.length, 1, result.stdout)
      const key = printed[0] as string
      assert.match(key, KEY_SHAPE)
      assert.ok(result.stdout.split('\n').some((line) => line.trim() === key), 'the key sits on a line of its own, easy to copy')
      assert.match(result.stdout, /shown this once and cannot be shown again/)
      assert.doesNotMatch(result.stderr, /hint/)
      secrets.push(key)

      const client = await resolve(key)
      assert.ok(client !== undefined, 'the key resolves through the store with the same pepper')
      assert.equal(client.name, 'RSUD Banten')
      assert.deepEqual(client.integrations, ['yankes', 'bpjs'])
      assert.equal(client.rateLimit, '100/1m')
      assert.equal(client.description, 'RSUD milik Provinsi Banten')
      assert.ok(result.stdout.includes(client.id), 'the id is shown')
      rsud = { id: client.id, key, client: client.name, description: client.description, integrations: client.integrations, rateLimit: '100/1m', expiresAt: null, allowedIps: null, createdAt: client.createdAt }
    })

    await t.test('create --json prints one JSON object with the key and the client', async () => {
      const result = ok(await keys('create', '--client', 'Dinkes Kota Serang', '--integrations', '*',
        '--expires', '2099-12-31T23:59:59Z', '--allowed-ips', '10.20.0.0/16,192.168.1.7', '--json'))
      const lines = result.stdout.trim().split('\n')
      assert.equal(lines.length, 1, result.stdout)
      const created = JSON.parse(lines[0] as string) as KeyJson
      assert.match(created.key, KEY_SHAPE)
      assert.equal(created.client, 'Dinkes Kota Serang')
      assert.equal(created.integrations, '*')
      assert.equal(created.description, '')
      assert.equal(created.rateLimit, null)
      assert.equal(created.expiresAt, '2099-12-31T23:59:59.000Z')
      assert.deepEqual(created.allowedIps, ['10.20.0.0/16', '192.168.1.7'])
      assert.ok(!Number.isNaN(Date.parse(created.createdAt)))
      assert.match(result.stderr, /shown this once/)
      secrets.push(created.key)
      assert.equal((await resolve(created.key))?.id, created.id)
    })

    await t.test('create without --integrations grants nothing and says so', async () => {
      const result = ok(await keys('create', '--client', 'Puskesmas Ciruas', '--json'))
      const created = JSON.parse(result.stdout) as KeyJson
      secrets.push(created.key)
      assert.deepEqual(created.integrations, [])
      assert.match(result.stderr, /hint: .*may call no integration/)
    })

    await t.test('a name taken in another case is refused with one line', async () => {
      const line = oneLine(await keys('create', '--client', 'rsud BANTEN', '--integrations', 'yankes'), 1)
      assert.match(line, /^gerbang keys create: a client named 'rsud BANTEN' already exists/)
      const list = JSON.parse(ok(await keys('list', '--search', 'banten', '--json')).stdout) as Client[]
      assert.equal(list.length, 1)
    })

    await t.test('input the client service refuses exits 1 with one line', async () => {
      // Independent refusals: side by side.
      const [rate, name, cidr, date, past] = await Promise.all([
        keys('create', '--client', 'RS Sari Asih', '--rate-limit', '100 per minute'),
        keys('create', '--client', 'RS Sari Asih', '--integrations', 'Yankes_Baru'),
        keys('create', '--client', 'RS Sari Asih', '--allowed-ips', '10.0.0.0/99'),
        keys('create', '--client', 'RS Sari Asih', '--expires', 'besok'),
        keys('create', '--client', 'RS Sari Asih', '--expires', '2001-01-01T00:00:00Z')
      ])
      assert.match(oneLine(rate, 1), /rate limit '100 per minute'/)
      assert.match(oneLine(name, 1), /'Yankes_Baru' is not an integration name/)
      assert.match(oneLine(cidr, 1), /not an IP address or CIDR/)
      assert.match(oneLine(date, 1), /ISO 8601/)
      assert.match(oneLine(past, 1), /in the past/)
      const list = JSON.parse(ok(await keys('list', '--search', 'sari', '--json')).stdout) as Client[]
      assert.deepEqual(list, [], 'nothing was created')
    })

    await t.test('unknown flags and missing arguments are usage errors', async () => {
      const [unknown, missing, noId, twoIds, unknownSub, help] = await Promise.all([
        keys('create', '--client', 'X', '--integration', 'yankes'),
        keys('create', '--integrations', 'yankes'),
        keys('revoke'),
        keys('rotate', 'a', 'b'),
        keys('frobnicate'),
        runGerbang(['--help'])
      ])
      assert.equal(unknown.code, 2)
      assert.match(unknown.stderr, /unknown option '--integration'/)
      assert.match(unknown.stderr, /usage:\n.*gerbang keys create --client NAME/)
      assert.equal(missing.code, 2)
      assert.match(missing.stderr, /--client is required/)
      assert.equal(noId.code, 2)
      assert.match(noId.stderr, /the client ID is required/)
      assert.equal(twoIds.code, 2)
      assert.match(twoIds.stderr, /unexpected argument 'b'/)
      assert.equal(unknownSub.code, 2)
      ok(help)
      assert.match(help.stdout, /gerbang keys create --client NAME/)
      assert.match(help.stdout, /gerbang users create --email E --role/)
    })

    await t.test('list shows every client and never a secret', async () => {
      const text = ok(await keys('list'))
      const lines = text.stdout.trim().split('\n')
      assert.match(lines[0] as string, /^ID +NAME +STATUS +INTEGRATIONS +CREATED \(UTC\) +LAST USED \(UTC\)$/)
      assert.equal(lines.length, 4)
      // Sorted by name.
      assert.match(lines[1] as string, /Dinkes Kota Serang +active +\* \(all\)/)
      assert.match(lines[2] as string, /Puskesmas Ciruas +active +\(none\)/)
      assert.match(lines[3] as string, new RegExp(`^${rsud?.id ?? ''} +RSUD Banten +active +yankes, bpjs +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d +never$`))

      const json = ok(await keys('list', '--json'))
      const clients = JSON.parse(json.stdout) as Array<Client & { status: string }>
      assert.deepEqual(clients.map((c) => c.name), ['Dinkes Kota Serang', 'Puskesmas Ciruas', 'RSUD Banten'])
      assert.ok(clients.every((c) => c.status === 'active' && !('key' in c)))

      for (const output of [text.stdout + text.stderr, json.stdout + json.stderr]) {
        assert.doesNotMatch(output, /gb_[A-Za-z0-9_-]{20,}/)
        for (const secret of secrets) assert.ok(!output.includes(secret))
      }
    })

    await t.test('list --search finds a fragment of the name in any case; --limit cuts', async () => {
      const found = ok(await keys('list', '--search', 'KOTA ser'))
      assert.match(found.stdout, /Dinkes Kota Serang/)
      assert.doesNotMatch(found.stdout, /RSUD Banten|Puskesmas/)

      const json = JSON.parse(ok(await keys('list', '--search', 'ciru', '--json')).stdout) as Client[]
      assert.deepEqual(json.map((c) => c.name), ['Puskesmas Ciruas'])

      const none = ok(await keys('list', '--search', 'tidak ada'))
      assert.match(none.stdout, /no client's name contains 'tidak ada'/)

      const limited = ok(await keys('list', '--limit', '2', '--json'))
      assert.equal((JSON.parse(limited.stdout) as Client[]).length, 2)
      assert.match(limited.stderr, /showing the first 2/)
      assert.equal(oneLine(await keys('list', '--limit', 'many'), 1).includes('--limit'), true)
    })

    await t.test('rotate prints a new key; the old one stops working at once', async () => {
      assert.ok(rsud !== undefined)
      const result = ok(await keys('rotate', rsud.id))
      const printed = result.stdout.match(ANY_KEY) ?? []
      assert.equal(printed.length, 1)
      const fresh = printed[0] as string
      assert.notEqual(fresh, rsud.key)
      assert.match(result.stdout, /shown this once/)
      assert.match(result.stdout, /old key stopped working now/)
      secrets.push(fresh)
      assert.equal(await resolve(rsud.key), undefined)
      assert.equal((await resolve(fresh))?.id, rsud.id)
      rsud.key = fresh
    })

    await t.test('rotate --grace keeps the old key for a while; --json', async () => {
      assert.ok(rsud !== undefined)
      const result = ok(await keys('rotate', rsud.id, '--grace', '1h', '--json'))
      const rotated = JSON.parse(result.stdout) as KeyJson
      assert.equal(rotated.id, rsud.id)
      assert.equal(rotated.client, 'RSUD Banten')
      assert.deepEqual(rotated.integrations, ['yankes', 'bpjs'])
      assert.match(rotated.key, KEY_SHAPE)
      assert.notEqual(rotated.key, rsud.key)
      secrets.push(rotated.key)
      const until = Date.parse(rotated.oldKeysValidUntil ?? '')
      assert.ok(Math.abs(until - (Date.now() + 3_600_000)) < 60_000, String(rotated.oldKeysValidUntil))

      const old = await store.resolveKey(hasher.hash(rsud.key))
      assert.equal(old?.client.id, rsud.id, 'the old key works during the grace period')
      assert.ok(old?.expiresAt !== undefined && Math.abs(old.expiresAt - until) < 60_000)
      assert.equal((await resolve(rotated.key))?.id, rsud.id)

      assert.match(oneLine(await keys('rotate', rsud.id, '--grace', 'a day'), 1), /--grace must be a duration/)
    })

    await t.test('revoke: unknown ids, then the client stops resolving as active', async () => {
      assert.ok(rsud !== undefined)
      assert.match(oneLine(await keys('revoke', '00000000-0000-4000-8000-000000000000'), 1),
        /^gerbang keys revoke: no client with id '00000000-0000-4000-8000-000000000000'/)
      assert.match(oneLine(await keys('rotate', 'RSUD Banten'), 1), /no client with id 'RSUD Banten'/)

      const result = ok(await keys('revoke', rsud.id))
      assert.match(result.stdout, /revoked client 'RSUD Banten'/)
      const client = await resolve(rsud.key)
      assert.ok(client?.revokedAt !== undefined, 'the gateway sees the client as revoked')

      assert.match(ok(await keys('revoke', rsud.id)).stdout, /already revoked/)
      assert.match(oneLine(await keys('rotate', rsud.id), 1), /is revoked/)

      const list = JSON.parse(ok(await keys('list', '--search', 'rsud', '--json')).stdout) as Array<Client & { status: string }>
      assert.equal(list[0]?.status, 'revoked')
      assert.match(ok(await keys('list')).stdout, /RSUD Banten +revoked/)
    })

    await t.test('an expired client is listed as expired', async () => {
      const expiresAt = Date.now() + 1500
      const created = JSON.parse(ok(await keys('create', '--client', 'RS Sebentar', '--integrations', 'yankes',
        '--expires', new Date(expiresAt).toISOString(), '--json')).stdout) as KeyJson
      secrets.push(created.key)
      // The create command itself took most of that; only the rest is waited for.
      await sleepUntil(expiresAt + 100)
      assert.match(ok(await keys('list', '--search', 'sebentar')).stdout, /RS Sebentar +expired/)
    })
  } finally {
    await store.close()
  }
})

test('keys commands need a store: REDIS_URL with GERBANG_KEY_PEPPER, or an embedded store in GERBANG_DATA_DIR', { concurrency: true }, async (t) => {
  const checks: Array<Promise<void>> = []
  checks.push(t.test('without REDIS_URL, in a GERBANG_DATA_DIR with no store (list makes none)', async () => {
    const result = await runGerbang(['keys', 'list'], { REDIS_URL: '', GERBANG_KEY_PEPPER: PEPPER })
    assert.equal(result.code, 1)
    assert.match(result.stderr, /^gerbang keys list: there is no embedded store in /)
    assert.match(result.stderr, /set GERBANG_DATA_DIR to the gateway's data directory, or REDIS_URL/)
  }))

  checks.push(t.test('without GERBANG_KEY_PEPPER', async () => {
    const result = await runGerbang(['keys', 'create', '--client', 'X'], { REDIS_URL: 'redis://127.0.0.1:1', GERBANG_KEY_PEPPER: '' })
    assert.equal(result.code, 2)
    assert.match(result.stderr, /GERBANG_KEY_PEPPER is required/)
    assert.match(result.stderr, /same value the gateways use/)
  }))

  checks.push(t.test('with a pepper too short', async () => {
    const result = await runGerbang(['keys', 'list'], { REDIS_URL: 'redis://127.0.0.1:1', GERBANG_KEY_PEPPER: 'short' })
    assert.equal(result.code, 2)
    assert.match(result.stderr, /at least 16 bytes/)
  }))

  checks.push(t.test('with a dead store: fails within a few seconds', async () => {
    const started = Date.now()
    const result = await runGerbang(['keys', 'list'], { REDIS_URL: 'redis://:sekret@127.0.0.1:1', GERBANG_KEY_PEPPER: PEPPER })
    const took = Date.now() - started
    assert.equal(result.code, 1)
    assert.match(result.stderr, /^gerbang keys list: cannot reach the store at redis:\/\/:\*\*\*@127\.0\.0\.1:1/)
    assert.doesNotMatch(result.stderr, /sekret/)
    // The command gives up by CONNECT_DEADLINE_MS (3 s); the rest is a
    // process start, which a loaded 2-core CI machine can stretch to seconds.
    assert.ok(took < 12_000, `took ${took} ms`)
  }))
  await Promise.all(checks)
})
