import type { FastifyRequest } from 'fastify'
import { GerbangError } from '../errors.js'
import type { Integration } from '../config/routes-loader.js'

// `apiKeyForm: X-API-KEY` (docs/contract.md section 10): the old API manager also
// read the key from a form field of a POST body. For such an integration, an
// application/x-www-form-urlencoded body of at most 1 MiB is read whole, the
// field taken out, and the rest forwarded with its new Content-Length. Larger
// bodies are not read: they stream on untouched, and need another credential.

/** The largest form body searched for the key. */
export const FORM_KEY_BODY_LIMIT = 1024 * 1024
/** How long the body may take to arrive before the request is answered 408. */
export const FORM_BODY_DEADLINE_MS = 10_000

/** What the body gave: the key (undefined when the field is absent) and the body without it. */
export interface FormKey {
  key: string | undefined
  body: Buffer
}

/**
 * Whether this request's body is to be read for its key: the integration
 * opted in, and a form body of known size within the limit is coming (or
 * one sent chunked, which is read up to the limit).
 */
export function wantsFormKey (request: FastifyRequest, integration: Integration): 'read' | 'too-large' | 'no' {
  if (integration.apiKeyForm === undefined) return 'no'
  const type = request.headers['content-type']
  if (typeof type !== 'string' || !/^application\/x-www-form-urlencoded\s*(;|$)/i.test(type)) return 'no'
  const length = request.headers['content-length']
  if (length !== undefined) {
    if (length === '0') return 'no'
    return Number(length) > FORM_KEY_BODY_LIMIT ? 'too-large' : 'read'
  }
  return request.headers['transfer-encoding'] === undefined ? 'no' : 'read'
}

/** The detail of the 401 for a form too large to be searched. */
export function tooLargeDetail (field: string): string {
  return `no API key: form bodies over 1 MiB are not searched for the ${field} field; send the key in the x-api-key header instead`
}

/** Reads the body (at most FORM_KEY_BODY_LIMIT bytes, within the deadline) and takes the field out. */
export async function readFormKey (request: FastifyRequest, field: string): Promise<FormKey | GerbangError> {
  const req = request.raw
  const chunks: Buffer[] = []
  let size = 0
  const outcome = await new Promise<GerbangError | undefined>((resolve) => {
    const timer = setTimeout(() => { done(new GerbangError('REQUEST_TIMEOUT', `the form body did not arrive within ${FORM_BODY_DEADLINE_MS / 1000} s`, undefined, { connection: 'close' })) }, FORM_BODY_DEADLINE_MS)
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > FORM_KEY_BODY_LIMIT) {
        done(new GerbangError('PAYLOAD_TOO_LARGE', `a form body sent without Content-Length may be at most 1 MiB here (apiKeyForm: ${field}); send a Content-Length`,
          undefined, { connection: 'close' }))
        return
      }
      chunks.push(chunk)
    }
    const onEnd = (): void => { done(undefined) }
    const onError = (): void => { done(new GerbangError('BAD_REQUEST', 'the request body could not be read')) }
    function done (result: GerbangError | undefined): void {
      clearTimeout(timer)
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      if (result !== undefined) req.pause()
      resolve(result)
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
  })
  if (outcome !== undefined) return outcome
  return takeField(Buffer.concat(chunks, size), field)
}

/**
 * Takes every `field=` pair out of a urlencoded body, keeping every other
 * byte as sent; the key is the first such pair's decoded value.
 */
export function takeField (body: Buffer, field: string): FormKey {
  const text = body.toString('latin1')
  let key: string | undefined
  const kept: string[] = []
  let found = false
  for (const pair of text.split('&')) {
    const eq = pair.indexOf('=')
    const name = decode(eq === -1 ? pair : pair.slice(0, eq))
    if (name === field) {
      found = true
      key ??= eq === -1 ? '' : decode(pair.slice(eq + 1))
      continue
    }
    kept.push(pair)
  }
  if (!found) return { key: undefined, body }
  return { key, body: Buffer.from(kept.join('&'), 'latin1') }
}

function decode (text: string): string {
  try {
    // The body's bytes were read as latin1: turn them back into bytes before decoding UTF-8 escapes.
    return decodeURIComponent(Buffer.from(text.replaceAll('+', ' '), 'latin1').toString('utf8'))
  } catch {
    return text
  }
}
