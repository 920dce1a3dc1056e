// Admin sessions' own timing: the idle and absolute limits, and how long a
// session seen lately survives a store outage. A session manager on a
// MemoryStore: `t.mock.timers` moves Date for both (the store keeps the idle
// TTL); the outage test gives the manager a clock of its own.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { SESSION_COOKIE, SESSION_IDLE_MS, SESSION_MAX_MS, SessionManager } from '../../src/admin/sessions.js'
import { GerbangError } from '../../src/errors.js'
import { MemoryStore } from '../../src/store/memory-store.js'
import { StoreUnavailableError, type Store } from '../../src/store/types.js'
import { PASSWORD, SEEDED_HASH } from '../helpers/admin.js'
import { flakyStore } from '../helpers/flaky-store.js'

const EMAIL = 'admin@bantenprov.go.id'
const MINUTE = 60_000

async function withAdmin (store: Store): Promise<void> {
  await store.createUser({ email: EMAIL, name: 'Pak Admin', role: 'admin', passwordHash: SEEDED_HASH, createdAt: new Date().toISOString() })
}

/** Signs in; returns the Cookie header that carries the session. */
async function signIn (sessions: SessionManager): Promise<string> {
  const result = await sessions.login(EMAIL, PASSWORD, '127.0.0.1')
  assert.ok(!(result instanceof GerbangError), String(result))
  return `${SESSION_COOKIE}=${result.cookieValue}`
}

function mockDate (t: TestContext): void {
  // Date only: scrypt and the login guard keep real timers.
  t.mock.timers.enable({ apis: ['Date'], now: Date.parse('2026-01-05T08:00:00Z') })
}

test('a session idle for SESSION_IDLE_MS ends; each request starts the idle time again', async (t) => {
  mockDate(t)
  const store = new MemoryStore()
  await withAdmin(store)
  const sessions = new SessionManager(store)
  const cookie = await signIn(sessions)
  for (let i = 0; i < 3; i++) {
    t.mock.timers.tick(SESSION_IDLE_MS - MINUTE)
    assert.equal((await sessions.resolve(cookie))?.user.email, EMAIL, `active, request ${i + 1}`)
  }
  t.mock.timers.tick(SESSION_IDLE_MS)
  assert.equal(await sessions.resolve(cookie), undefined, 'idle for the whole idle time')
})

test('an active session ends SESSION_MAX_MS after the sign-in all the same', async (t) => {
  mockDate(t)
  const store = new MemoryStore()
  await withAdmin(store)
  const sessions = new SessionManager(store)
  const signedInAt = Date.now()
  const cookie = await signIn(sessions)
  while (Date.now() + 30 * MINUTE < signedInAt + SESSION_MAX_MS) {
    t.mock.timers.tick(30 * MINUTE)
    const context = await sessions.resolve(cookie)
    assert.ok(context !== undefined, `active ${(Date.now() - signedInAt) / MINUTE} minutes after the sign-in`)
    assert.equal(context.session.absoluteExpiry, signedInAt + SESSION_MAX_MS)
    assert.equal(context.session.createdAt, new Date(signedInAt).toISOString())
  }
  t.mock.timers.tick(signedInAt + SESSION_MAX_MS - Date.now() + 1)
  assert.equal(await sessions.resolve(cookie), undefined)
})

test('past its absolute expiry a session is refused and deleted, even while the store still holds it', async () => {
  // The manager's clock jumps; the store's (real) idle TTL keeps the session meanwhile.
  const clock = { now: Date.now() }
  const store = new MemoryStore()
  await withAdmin(store)
  const sessions = new SessionManager(store, { now: () => clock.now })
  const cookie = await signIn(sessions)
  const context = await sessions.resolve(cookie)
  assert.ok(context !== undefined)
  clock.now += SESSION_MAX_MS - 10 * MINUTE
  assert.ok(await sessions.resolve(cookie) !== undefined, '10 minutes before its absolute expiry, still valid')
  clock.now += 10 * MINUTE + 1
  assert.equal(await sessions.resolve(cookie), undefined)
  assert.equal(await store.getSession(context.idHash), undefined, 'deleted from the store')
})

test('with the store down, a session seen lately stays signed in until it would have idled out', async () => {
  const clock = { now: Date.parse('2026-01-05T08:00:00Z') }
  const store = flakyStore()
  await withAdmin(store)
  const sessions = new SessionManager(store, { now: () => clock.now })
  const cookie = await signIn(sessions)
  assert.equal((await sessions.resolve(cookie))?.user.email, EMAIL)

  store.down = true
  clock.now += SESSION_IDLE_MS
  assert.equal((await sessions.resolve(cookie))?.user.email, EMAIL, 'seen within the idle time')
  clock.now += 1
  await assert.rejects(sessions.resolve(cookie), StoreUnavailableError)
  // A session this process never saw cannot be vouched for.
  await assert.rejects(sessions.resolve(`${SESSION_COOKIE}=${'A'.repeat(43)}`), StoreUnavailableError)
})
