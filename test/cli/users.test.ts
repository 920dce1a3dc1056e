import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DiskStore } from '../../src/store/disk-store.js'
import { GERBANG_BIN, type RunResult } from '../helpers/process.js'
import { startRedis, storeConnected } from '../helpers/redis.js'
import { RedisStore } from '../../src/store/redis-store.js'
import { verifyPassword } from '../../src/auth/passwords.js'

// `gerbang users create`, with the password piped in as an operator's script does.

/** Runs `gerbang <args>` with `input` on its stdin (undefined: an empty stdin). */
async function runWithStdin (args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<RunResult> {
  const child = spawn(GERBANG_BIN, args, {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  // The command may exit before reading stdin (a usage error): no EPIPE then.
  child.stdin.on('error', () => {})
  child.stdin.end(input ?? '')
  // 'close', not 'exit': the output may still be in the pipes when the process has exited.
  const [code, signal] = await once(child, 'close') as [number | null, NodeJS.Signals | null]
  return { code, signal, stdout, stderr }
}

const PASSWORD = 'Kuat-dan-Panjang-2026'

test('gerbang users create', async (t) => {
  const redis = await startRedis(t, { own: true })
  // Users need no pepper: passwords are scrypt-hashed with their own salt.
  const env = { REDIS_URL: redis.url, GERBANG_KEY_PEPPER: '' }
  const users = async (input: string | undefined, ...args: string[]): Promise<RunResult> =>
    await runWithStdin(['users', 'create', ...args], env, input)
  const store = new RedisStore({ url: redis.url })
  await storeConnected(store)

  try {
    await t.test('stores the user with an scrypt hash and never the password', async () => {
      const result = await users(`${PASSWORD}\n`, '--email', 'Admin@BantenProv.go.id', '--role', 'admin', '--name', 'Admin Diskominfo')
      assert.equal(result.code, 0, result.stderr)
      assert.match(result.stdout, /created admin user Admin@BantenProv.go.id/)
      assert.ok(!(result.stdout + result.stderr).includes(PASSWORD))

      const user = await store.getUser('admin@bantenprov.go.id')
      assert.ok(user !== undefined)
      assert.equal(user.role, 'admin')
      assert.equal(user.name, 'Admin Diskominfo')
      assert.match(user.passwordHash, /^scrypt\$/)
      assert.ok(await verifyPassword(PASSWORD, user.passwordHash), 'the trailing newline is not part of the password')
      assert.ok(!await verifyPassword(`${PASSWORD}\n`, user.passwordHash))

      // Nothing in the whole store holds the password in clear.
      const keys = await store.redis.keys('*')
      assert.ok(keys.length > 0)
      for (const key of keys) {
        const type = await store.redis.type(key)
        const value = type === 'string'
          ? await store.redis.get(key)
          : type === 'list'
            ? (await store.redis.lrange(key, 0, -1)).join('\n')
            : type === 'set' ? (await store.redis.smembers(key)).join('\n') : ''
        assert.ok(!(value ?? '').includes(PASSWORD), key)
      }
      // The command line is an actor in the audit log too.
      const [entry] = await store.listAudit(0, 1)
      assert.equal(entry?.actor, 'cli')
      assert.equal(entry?.action, 'user.create')
    })

    await t.test('a password without a trailing newline, and CRLF, work too', async () => {
      assert.equal((await users(PASSWORD, '--email', 'operator@bantenprov.go.id', '--role', 'operator')).code, 0)
      const operator = await store.getUser('operator@bantenprov.go.id')
      assert.ok(operator !== undefined && await verifyPassword(PASSWORD, operator.passwordHash))
      assert.equal(operator.role, 'operator')

      assert.equal((await users(`${PASSWORD}\r\n`, '--email', 'viewer@bantenprov.go.id', '--role', 'viewer')).code, 0)
      const viewer = await store.getUser('viewer@bantenprov.go.id')
      assert.ok(viewer !== undefined && await verifyPassword(PASSWORD, viewer.passwordHash))
    })

    await t.test('an email taken in another case is refused', async () => {
      const result = await users(`${PASSWORD}\n`, '--email', 'admin@bantenprov.go.id', '--role', 'viewer')
      assert.equal(result.code, 1)
      assert.match(result.stderr, /^gerbang users create: a user with email 'admin@bantenprov.go.id' already exists/)
      assert.equal((await store.getUser('admin@bantenprov.go.id'))?.role, 'admin', 'the first one is untouched')
    })

    await t.test('weak, missing or multi-line passwords are refused and nothing is stored', async () => {
      const weak = await users('pendek\n', '--email', 'weak@bantenprov.go.id', '--role', 'viewer')
      assert.equal(weak.code, 1)
      assert.match(weak.stderr, /at least 12 characters/)

      const none = await users(undefined, '--email', 'weak@bantenprov.go.id', '--role', 'viewer')
      assert.equal(none.code, 1)
      assert.match(none.stderr, /no password on stdin/)

      const two = await users(`${PASSWORD}\n${PASSWORD}\n`, '--email', 'weak@bantenprov.go.id', '--role', 'viewer')
      assert.equal(two.code, 1)
      assert.match(two.stderr, /one line/)

      assert.equal(await store.getUser('weak@bantenprov.go.id'), undefined)
    })

    await t.test('bad flags', async () => {
      const role = await users(`${PASSWORD}\n`, '--email', 'x@bantenprov.go.id', '--role', 'superuser')
      assert.equal(role.code, 1)
      assert.match(role.stderr, /there is no role 'superuser': use admin, operator, viewer or one made in the admin UI/)
      const badName = await users(`${PASSWORD}\n`, '--email', 'x@bantenprov.go.id', '--role', 'Super User')
      assert.equal(badName.code, 1)
      assert.match(badName.stderr, /--role must be a role name/)

      const email = await users(`${PASSWORD}\n`, '--email', 'bukan-email', '--role', 'viewer')
      assert.equal(email.code, 1)
      assert.match(email.stderr, /not an email address/)

      const missing = await users(`${PASSWORD}\n`, '--email', 'x@bantenprov.go.id')
      assert.equal(missing.code, 2)
      assert.match(missing.stderr, /--role is required\nusage:/)

      const unknown = await users(`${PASSWORD}\n`, '--email', 'x@bantenprov.go.id', '--role', 'viewer', '--password', 'x')
      assert.equal(unknown.code, 2)
      assert.match(unknown.stderr, /unknown option '--password'/)
      assert.equal(await store.getUser('x@bantenprov.go.id'), undefined)
    })
  } finally {
    await store.close()
  }
})

test('users create without REDIS_URL makes the user in the embedded store in GERBANG_DATA_DIR', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gerbang-users-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const data = join(dir, 'data')
  const result = await runWithStdin(['users', 'create', '--email', 'a@bantenprov.go.id', '--role', 'admin'],
    { REDIS_URL: '', GERBANG_DATA_DIR: data }, `${PASSWORD}\n`)
  assert.equal(result.code, 0, result.stderr)
  const store = new DiskStore({ dir: data, create: false })
  try {
    assert.equal((await store.getUser('a@bantenprov.go.id'))?.role, 'admin')
    assert.equal((await store.listAudit(0, 1))[0]?.action, 'user.create')
  } finally {
    await store.close()
  }
})
