// The admin sign-in guard behind a load balancer (docs/contract.md section 13,
// issue 12): failures count per client address as GERBANG_TRUST_PROXY
// defines it, one address cannot lock out the others, and knowing an
// admin's email is not enough to lock that admin out.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { postLogin, startAdminGateway, USERS } from '../helpers/admin.js'
import { accountDelayMs, ACCOUNT_DELAY_MAX_MS } from '../../src/admin/login-guard.js'

const from = (address: string): Record<string, string> => ({ 'x-forwarded-for': address })

test('25 failed sign-ins from one forwarded address do not block a sign-in from another', async (t) => {
  const gw = await startAdminGateway(t, { trustProxy: '127.0.0.1/32' })
  const statuses: number[] = []
  for (let i = 0; i < 25; i++) {
    // Five at the admin's account, then twenty at other names.
    const res = await postLogin(gw.url, i < 5 ? USERS.admin : `tamu-${i}@contoh.id`, `salah-${i}`, from('203.0.113.9'))
    statuses.push(res.status)
  }
  assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401])
  assert.equal(statuses.at(-1), 429, 'the guessing address is stopped')
  // The admin, from their own address, with the right password.
  const admin = await postLogin(gw.url, USERS.admin, undefined, from('198.51.100.20'))
  assert.equal(admin.status, 200)
  // Anyone else from yet another address.
  assert.equal((await postLogin(gw.url, USERS.viewer, undefined, from('198.51.100.21'))).status, 200)
  // The guessing address stays stopped, even with a right password.
  assert.equal((await postLogin(gw.url, USERS.viewer, undefined, from('203.0.113.9'))).status, 429)
})

test('an account guessed at from many addresses is slowed, never locked', async (t) => {
  const gw = await startAdminGateway(t, { trustProxy: '127.0.0.1/32' })
  for (let i = 0; i < 8; i++) {
    assert.equal((await postLogin(gw.url, USERS.operator, `salah-${i}`, from(`203.0.113.${i + 1}`))).status, 401)
  }
  const started = Date.now()
  const right = await postLogin(gw.url, USERS.operator, undefined, from('198.51.100.30'))
  assert.equal(right.status, 200, 'the right password still signs in')
  assert.ok(Date.now() - started >= accountDelayMs(8) - 50, 'the attempt was slowed')
  assert.ok(accountDelayMs(1000) <= ACCOUNT_DELAY_MAX_MS)
})

test('without GERBANG_TRUST_PROXY, X-Forwarded-For changes nothing: the peer is the client', async (t) => {
  const gw = await startAdminGateway(t)
  const statuses: number[] = []
  for (let i = 0; i < 6; i++) {
    statuses.push((await postLogin(gw.url, USERS.admin, `salah-${i}`, from(`203.0.113.${i + 1}`))).status)
  }
  assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429])
})
