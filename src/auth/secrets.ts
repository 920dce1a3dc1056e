import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto'

// API keys and tokens: 32 random bytes (256 bits), base64url, behind a
// recognisable prefix so secret scanners can find leaked ones. Only their
// HMAC-SHA256 under GERBANG_KEY_PEPPER is ever stored: a leaked store dump
// cannot be turned back into working keys without the pepper.

export const KEY_PREFIX = 'gb_'
export const TOKEN_PREFIX = 'gbt_'
const SECRET_BYTES = 32
// Prefix plus 43 base64url characters; anything else cannot be ours.
const KEY_SHAPE = /^gb_[A-Za-z0-9_-]{43}$/
const TOKEN_SHAPE = /^gbt_[A-Za-z0-9_-]{43}$/

export function generateKey (): string {
  return KEY_PREFIX + randomBytes(SECRET_BYTES).toString('base64url')
}

export function generateToken (): string {
  return TOKEN_PREFIX + randomBytes(SECRET_BYTES).toString('base64url')
}

/** Whether a string could be a Gerbang key; anything else is refused without a store lookup. */
export function looksLikeKey (text: string): boolean {
  return KEY_SHAPE.test(text)
}

export function looksLikeToken (text: string): boolean {
  return TOKEN_SHAPE.test(text)
}

/** Hashes secrets with the pepper; one per process, built from the configuration. */
export class SecretHasher {
  // A KeyObject, made once: on Node 24, createHmac given a Buffer key spends
  // ~12 µs turning it into one on every call (1.5 µs with a KeyObject), and
  // every keyed request hashes its key (bench: a quarter of the gateway's CPU).
  readonly #pepper: KeyObject

  constructor (pepper: string | Buffer) {
    const bytes = typeof pepper === 'string' ? Buffer.from(pepper, 'utf8') : pepper
    if (bytes.length < 16) throw new Error('GERBANG_KEY_PEPPER must be at least 16 bytes')
    this.#pepper = createSecretKey(bytes)
  }

  /** HMAC-SHA256 of the secret, hex. */
  hash (secret: string): string {
    return createHmac('sha256', this.#pepper).update(secret).digest('hex')
  }

  /** Constant-time comparison of two hashes made by hash(). */
  static equal (a: string, b: string): boolean {
    const left = Buffer.from(a, 'hex')
    const right = Buffer.from(b, 'hex')
    return left.length === right.length && timingSafeEqual(left, right)
  }
}

/** A random pepper for the embedded store, whose keys die with the process anyway. */
export function ephemeralPepper (): Buffer {
  return randomBytes(32)
}
