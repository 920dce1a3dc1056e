import { createDecipheriv, createHash, createHmac, createSecretKey, type Hash } from 'node:crypto'
import { Type } from '@sinclair/typebox'
import LZString from 'lz-string'
import { definePlugin, PluginFailure, type PluginHooks } from '../src/upstream-plugins/types.js'

// BPJS Kesehatan VClaim: every request carries the consumer ID, a timestamp
// and an HMAC of both, so clients never hold the BPJS credentials. VClaim 2.0
// also encrypts `response` with a key derived from that same timestamp, which
// `decrypt: true` undoes so clients get plain JSON.

const ENCRYPTED_BODY_LIMIT = 10 * 1024 * 1024

const options = Type.Object({
  // YAML reads `consId: 12345` as a number, `${BPJS_CONS_ID}` as a string.
  consId: Type.Union([
    Type.String({ pattern: '^[0-9]+$', description: 'a string of digits' }),
    Type.Integer({ minimum: 0 })
  ], { description: 'a BPJS consumer ID (digits)' }),
  secret: Type.String({ minLength: 1, description: 'a non-empty string' }),
  userKey: Type.Optional(Type.String({ minLength: 1, description: 'a non-empty string' })),
  decrypt: Type.Optional(Type.Boolean({ default: false }))
}, { additionalProperties: false })

export default definePlugin({
  name: 'bpjs-vclaim',
  options,
  responseBodyLimit: ENCRYPTED_BODY_LIMIT,
  create (opts) {
    const consId = String(opts.consId)
    const hmacKey = createSecretKey(Buffer.from(opts.secret, 'utf8'))
    // The AES key is SHA-256(consId + secret + timestamp): hash the fixed
    // prefix once and copy its state per answer.
    const keyPrefix = createHash('sha256').update(consId + opts.secret, 'utf8')
    const decrypt = opts.decrypt ?? false
    // The core prefixes the integration and plugin names to this message.
    const failure = (why: string): PluginFailure => new PluginFailure(`could not decrypt the response of BPJS: ${why}`)

    return {
      onRequest (request) {
        const timestamp = String(Math.floor(Date.now() / 1000))
        const signature = createHmac('sha256', hmacKey).update(`${consId}&${timestamp}`, 'utf8').digest('base64')
        request.headers.set('X-cons-id', consId)
        request.headers.set('X-timestamp', timestamp)
        request.headers.set('X-signature', signature)
        // The gateway owns the BPJS credentials: a client must not choose the user_key either.
        if (opts.userKey === undefined) request.headers.delete('user_key')
        else request.headers.set('user_key', opts.userKey)
        // A compressed body would have to be inflated before it can be decrypted.
        if (decrypt) request.headers.set('accept-encoding', 'identity')
      },

      // Only with decrypt: the core buffers an answer for plugins that have an onResponse.
      ...(decrypt ? { onResponse: decryptResponse(keyPrefix, failure) } : {})
    }
  }
})

/** `decrypt: true`'s hook: VClaim's `response`, encrypted with this request's timestamp, made plain JSON. */
function decryptResponse (keyPrefix: Hash, failure: (why: string) => PluginFailure): NonNullable<PluginHooks['onResponse']> {
  return (response, request) => {
    // BPJS answers every outcome with 200 and a metaData code; any
    // other status is not an encrypted VClaim answer.
    if (response.status < 200 || response.status > 299) return
    const envelope = parseEnvelope(response.body)
    if (envelope === undefined || typeof envelope.response !== 'string' || envelope.response === '') return
    const encoding = response.headers.get('content-encoding')
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
      throw failure(`the upstream sent it with Content-Encoding ${encoding} although identity was asked for`)
    }
    // The upstream encrypted with the timestamp it received, which is
    // the one this request carried.
    const timestamp = request.headers.get('x-timestamp')
    if (timestamp === undefined) throw failure('the request carried no X-timestamp')
    envelope.response = decryptPayload(envelope.response, keyPrefix.copy().update(timestamp, 'utf8').digest(), failure)
    response.body = Buffer.from(JSON.stringify(envelope), 'utf8')
    response.headers.set('content-type', 'application/json')
  }
}

type Envelope = Record<string, unknown> & { response?: unknown }

/** The answer as a VClaim envelope ({ metaData, response }), or undefined when it is not one. */
function parseEnvelope (body: Buffer): Envelope | undefined {
  // Decide by the body, not Content-Type: BPJS does not label its answers reliably.
  let start = 0
  while (start < body.length && (body[start] === 0x20 || body[start] === 0x0a || body[start] === 0x0d ||
    body[start] === 0x09)) start++
  if (body[start] !== 0x7b) return undefined // '{'
  let value: unknown
  try {
    value = JSON.parse(body.toString('utf8'))
  } catch {
    return undefined
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined
  // VClaim writes metaData; the sibling Antrean API writes metadata.
  if (!('metaData' in value) && !('metadata' in value)) return undefined
  return value as Envelope
}

function decryptPayload (ciphertext: string, key: Buffer, failure: (why: string) => PluginFailure): unknown {
  let compressed: string
  try {
    const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16))
    compressed = Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64')), decipher.final()]).toString('utf8')
  } catch {
    // No cause: an OpenSSL error says nothing the reason below does not.
    throw failure('AES-256-CBC decryption failed (wrong consId or secret, or a corrupt answer)')
  }
  let text: string | null
  try {
    text = LZString.decompressFromEncodedURIComponent(compressed)
  } catch {
    text = null
  }
  if (text === null || text === '') throw failure('the decrypted payload is not LZ-string data')
  try {
    return JSON.parse(text)
  } catch {
    // No cause: JSON.parse quotes the text, which is a patient's data.
    throw failure('the decompressed payload is not JSON')
  }
}
