import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'

// Admin passwords: scrypt with OWASP's minimum for scrypt (N=2^17, r=8, p=1),
// a 16-byte salt, stored as scrypt$N$r$p$salt$hash.

const PARAMS = { N: 2 ** 17, r: 8, p: 1 }
const KEY_LENGTH = 32
const MAX_MEMORY = 256 * 1024 * 1024

async function derive (password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return await new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, { ...options, maxmem: MAX_MEMORY }, (err, key) => {
      if (err !== null) reject(err)
      else resolve(key)
    })
  })
}

/** The stored form: scrypt$N$r$p$salt$hash with the current parameters. */
function storedForm (salt: Buffer, key: Buffer): string {
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64'), key.toString('base64')].join('$')
}

export async function hashPassword (password: string): Promise<string> {
  const salt = randomBytes(16)
  return storedForm(salt, await derive(password, salt, PARAMS))
}

/**
 * A stored-hash string in the current format and parameters that no password
 * verifies against: a random salt and a random key, so checking a password
 * against it costs exactly what checking one against a real user's hash does.
 * For sign-ins with an unknown email, which must take as long as a wrong
 * password; it costs nothing to make, unlike hashing a random password.
 */
export function decoyHash (): string {
  return storedForm(randomBytes(16), randomBytes(KEY_LENGTH))
}

export async function verifyPassword (password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$')
  if (scheme !== 'scrypt' || salt === undefined || hash === undefined) return false
  const expected = Buffer.from(hash, 'base64')
  const key = await derive(password, Buffer.from(salt, 'base64'), { N: Number(n), r: Number(r), p: Number(p) })
  return key.length === expected.length && timingSafeEqual(key, expected)
}

/** The weakest password the CLI and the admin UI accept. */
export function passwordProblem (password: string): string | undefined {
  if (password.length < 12) return 'the password must be at least 12 characters long'
  return undefined
}

/** Admin users sign in with an email address: one @, no spaces, at most 254 characters. */
export function isEmailAddress (text: string): boolean {
  return text.length <= 254 && /^[^\s@]+@[^\s@]+$/.test(text)
}
