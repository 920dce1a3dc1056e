// Admin password hashes (src/auth/passwords.ts): the format and parameters
// stored, and the decoy an unknown email is checked against.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decoyHash, verifyPassword } from '../../src/auth/passwords.js'

const FORMAT = /^scrypt\$131072\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/

test('the decoy has a real hash\'s format and parameters, differs every time, and no password verifies against it', async () => {
  const decoy = decoyHash()
  assert.match(decoy, FORMAT)
  assert.notEqual(decoyHash(), decoy)
  // The shape of a real hash (test/admin/security.test.ts holds a stored one to the same pattern).
  assert.equal(await verifyPassword('rahasia-banten-2026', decoy), false)
})
