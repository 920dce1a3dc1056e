// Issue 20, finding 3: rotating a key ends every token minted with the old
// key, when the old key itself stops working (docs/contract.md section 15).
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { Authenticator } from '../../src/auth/authenticator.js'
import { SecretHasher } from '../../src/auth/secrets.js'
import { MemoryStore } from '../../src/store/memory-store.js'
import { RedisStore } from '../../src/store/redis-store.js'
import type { ResolvedCredential, Store } from '../../src/store/types.js'
import { startEchoOrigin } from '../helpers/origin.js'
import { routesFrom, startGateway, type TestGateway } from '../helpers/gateway.js'
import type { Problem } from '../helpers/problem.js'
import { startRedis, storeConnected, type TestRedis } from '../helpers/redis.js'
import { sleep, sleepUntil, waitFor } from '../helpers/time.js'

const PEPPER = 'token-rotation-test-pepper-0123456789'
const TOKEN_URL = '/oauth2/v1/accesstoken?grant_type=client_credentials'

function routes (upstream: string): string {
  return ['integrations:', '  yankes:', `    upstream: ${upstream}`, ''].join('\n')
}

type Kind = 'memory' | 'redis'

async function connectedRedisStore (redis: TestRedis, prefix = redis.prefix): Promise<RedisStore> {
  const store = new RedisStore({ url: redis.url, prefix })
  await storeConnected(store)
  return store
}

/** A real gateway (it owns and closes its store) in front of an echo origin. */
async function gateway (t: TestContext, kind: Kind, redis?: TestRedis): Promise<TestGateway> {
  const origin = await startEchoOrigin()
  t.after(origin.close)
  let store: Store
  if (kind === 'memory') {
    store = new MemoryStore()
  } else {
    store = await connectedRedisStore(redis ?? await startRedis(t))
  }
  return await startGateway(t, routes(origin.url), {}, { store, hasher: new SecretHasher(PEPPER) })
}

async function token (gw: TestGateway, clientId: string, secret: string): Promise<string> {
  const res = await fetch(gw.url + TOKEN_URL, { method: 'POST', body: new URLSearchParams({ client_id: clientId, client_secret: secret }) })
  const body = await res.json() as { access_token?: string }
  assert.equal(res.status, 200, JSON.stringify(body))
  assert.equal(typeof body.access_token, 'string')
  return body.access_token as string
}

async function call (gw: TestGateway, bearer: string): Promise<{ status: number, code: string | undefined }> {
  const res = await fetch(`${gw.url}/yankes/kamar`, { headers: { authorization: `Bearer ${bearer}` } })
  const text = await res.text()
  if (res.status === 200) return { status: 200, code: undefined }
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/)
  return { status: res.status, code: (JSON.parse(text) as Problem).code }
}

const OK = { status: 200, code: undefined }
const INVALID = { status: 401, code: 'CREDENTIALS_INVALID' }

for (const kind of ['memory', 'redis'] as const) {
  test(`${kind}: a token minted before \`keys rotate\` with grace 0 answers 401 CREDENTIALS_INVALID; a token from the new key works`, async (t) => {
    const gw = await gateway(t, kind)
    const { client, key } = await gw.app.clients.create({ name: 'RSUD Balaraja', integrations: '*' })
    const old = await token(gw, client.id, key)
    // Used (and so cached by the authenticator) before the rotation.
    assert.deepEqual(await call(gw, old), OK)
    assert.deepEqual(await call(gw, old), OK)

    const rotated = await gw.app.clients.rotate(client.id, 0)
    assert.ok(rotated !== undefined)
    assert.deepEqual(await call(gw, old), INVALID)
    // It stays dead: the store refuses it, not just a cold cache.
    await sleep(50)
    assert.deepEqual(await call(gw, old), INVALID)

    const fresh = await token(gw, client.id, rotated.key)
    assert.deepEqual(await call(gw, fresh), OK)
    // The old key itself gets no new token either.
    const refused = await fetch(gw.url + TOKEN_URL, { method: 'POST', body: new URLSearchParams({ client_id: client.id, client_secret: key }) })
    assert.equal(refused.status, 401)
  })

  test(`${kind}: with a 300 ms grace, a token minted before rotation works during the grace period and answers 401 after it`, async (t) => {
    const gw = await gateway(t, kind)
    const { client, key } = await gw.app.clients.create({ name: 'Puskesmas Cikande', integrations: '*' })
    const old = await token(gw, client.id, key)
    assert.deepEqual(await call(gw, old), OK)

    const rotatedAt = Date.now()
    const rotated = await gw.app.clients.rotate(client.id, 300)
    assert.ok(rotated !== undefined)
    assert.deepEqual(await call(gw, old), OK)
    // Minted with the old key during the grace period: lives no longer than it.
    const duringGrace = await token(gw, client.id, key)
    assert.deepEqual(await call(gw, duringGrace), OK)
    assert.ok(Date.now() - rotatedAt < 250, 'the checks above ran inside the grace period')
    const fresh = await token(gw, client.id, rotated.key)

    await sleepUntil(rotatedAt + 400)
    assert.deepEqual(await call(gw, old), INVALID)
    assert.deepEqual(await call(gw, duringGrace), INVALID)
    assert.deepEqual(await call(gw, fresh), OK)
  })
}

test('redis: a second gateway on the same Redis that cached the old token refuses it within 1 s of the rotation', async (t) => {
  const redis = await startRedis(t)
  const issuer = await gateway(t, 'redis', redis)
  const origin = await startEchoOrigin()
  t.after(origin.close)
  const other = await startGateway(t, routes(origin.url), {}, {
    store: await connectedRedisStore(redis),
    hasher: new SecretHasher(PEPPER)
  })
  const { client, key } = await issuer.app.clients.create({ name: 'Dinkes Pandeglang', integrations: '*' })
  const old = await token(issuer, client.id, key)
  assert.deepEqual(await call(other, old), OK)

  assert.ok(await issuer.app.clients.rotate(client.id, 0) !== undefined)
  const last = await waitFor('the other gateway to refuse the old token (within 1 s)', async () => {
    const answer = await call(other, old)
    return answer.status === 200 ? undefined : answer
  }, 1000)
  assert.deepEqual(last, INVALID)
})

// ---------------------------------------------------------------------------
// The authenticator's cache

/** A store whose token lookups, once `pauseLookups()` was called, wait for `resumeLookups()`. */
class GatedStore extends MemoryStore {
  #gate: Promise<void> | undefined
  #open: () => void = () => {}
  lookups = 0

  pauseLookups (): void {
    this.#gate = new Promise((resolve) => { this.#open = resolve })
  }

  resumeLookups (): void {
    this.#open()
    this.#gate = undefined
  }

  override async resolveToken (tokenHash: string): Promise<ResolvedCredential | undefined> {
    this.lookups++
    const found = await super.resolveToken(tokenHash)
    if (this.#gate !== undefined) await this.#gate
    return found
  }
}

test('a change that arrives while a token lookup is in flight keeps that lookup\'s answer out of the cache', async (t) => {
  const store = new GatedStore()
  const hasher = new SecretHasher(PEPPER)
  const auth = new Authenticator(store, hasher)
  t.after(async () => { await auth.close(); await store.close() })
  await auth.start()
  const [integration] = routesFrom(routes('http://127.0.0.1:9')).integrations
  assert.ok(integration !== undefined)

  const keyHash = hasher.hash('gb_' + 'k'.repeat(43))
  const client = { id: 'c-1', name: 'Klinik Anyer', description: '', integrations: '*' as const, createdAt: new Date().toISOString() }
  await store.createClient(client, keyHash)
  const secret = 'gbt_' + 't'.repeat(43)
  await store.saveToken(hasher.hash(secret), client.id, keyHash, 60_000)
  const headers = { authorization: `Bearer ${secret}` }

  // The lookup reads the store before the rotation and answers after its change.
  store.pauseLookups()
  const pending = auth.authenticate(headers, '', integration, '127.0.0.1')
  assert.ok(pending instanceof Promise)
  await store.rotateKey(client.id, hasher.hash('gb_' + 'n'.repeat(43)), 0)
  await store.publishChange({ clientId: client.id })
  store.resumeLookups()
  const first = await pending
  assert.equal('id' in first ? first.id : undefined, client.id, 'the lookup that began before the rotation answers as it found')

  // The next request asks the store again, which has the token dead.
  const second = await auth.authenticate(headers, '', integration, '127.0.0.1')
  assert.equal(store.lookups, 2)
  assert.ok(!('id' in second) && second.code === 'CREDENTIALS_INVALID')
})
