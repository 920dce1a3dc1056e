import { Type } from '@sinclair/typebox'
import { request as undiciRequest } from 'undici'
import { classifyUpstreamError, upstreamErrorCode } from '../src/upstream-failure.js'
import { DURATION_PATTERN, parseDuration } from '../src/config/units.js'
import { definePlugin, PluginFailure, type UpstreamRequest } from '../src/upstream-plugins/types.js'

// OAuth 2.0 client credentials for an upstream (RFC 6749 §4.4): the gateway
// holds the client ID and secret, fetches an access token, caches it, and
// sends `Authorization: Bearer <token>` upstream on every request. A 401 from
// the upstream drops the token and asks for one more attempt with a fresh one.
//
// Two ways to ask for the token:
// - `satusehat` (the default): `POST tokenUrl?grant_type=client_credentials`
//   with a form body `client_id`, `client_secret`, as the Ministry of Health's
//   SATUSEHAT (an Apigee endpoint) wants it.
// - `rfc6749`: `POST tokenUrl` with a form body `grant_type=client_credentials`
//   and the client authenticated with HTTP Basic, as RFC 6749 §2.3.1 prefers.
// `clientAuth` overrides where the credentials go: `body` or `basic`.

const DEFAULT_TIMEOUT = '10s'
/** A token is dropped this long before the endpoint says it expires (SATUSEHAT's advice: expires_in - 60 s). */
const EXPIRY_MARGIN_MS = 60_000
/**
 * How long a token whose answer gives no usable expires_in is kept. Short
 * enough that a token issued for the common lifetimes (15 min to hours) is
 * replaced well before it lapses; and should the upstream refuse it sooner,
 * its 401 drops it and the request is retried with a fresh one anyway.
 */
const UNKNOWN_LIFETIME_MS = 5 * 60_000
/** A token answer is a few hundred bytes; anything past this is not one. */
const ANSWER_LIMIT = 64 * 1024
/** Visible ASCII only: a token goes into a header as it is. */
const TOKEN_RE = /^[\x21-\x7e]+$/

const nonEmpty = { minLength: 1, description: 'a non-empty string (quote it if it is all digits)' }

const options = Type.Object({
  tokenUrl: Type.String({ pattern: '^https?://[^\\s]+$', description: 'an http:// or https:// URL' }),
  clientId: Type.String(nonEmpty),
  clientSecret: Type.String(nonEmpty),
  style: Type.Optional(Type.Union([Type.Literal('satusehat'), Type.Literal('rfc6749')], {
    default: 'satusehat', description: "'satusehat' or 'rfc6749'"
  })),
  clientAuth: Type.Optional(Type.Union([Type.Literal('basic'), Type.Literal('body')], {
    description: "'basic' or 'body' (default: body for satusehat, basic for rfc6749)"
  })),
  scope: Type.Optional(Type.String({ minLength: 1, description: 'a non-empty string' })),
  timeout: Type.Optional(Type.String({ pattern: DURATION_PATTERN, description: 'a duration such as 10s or 500ms' }))
}, { additionalProperties: false })

interface CachedToken {
  /** The value sent upstream: `Bearer <token>`. */
  header: string
  /** Date.now() after which the token is fetched again. */
  refreshAt: number
}

export default definePlugin({
  name: 'oauth2-client-credentials',
  options,
  // Run by `gerbang routes check` and every load, so create() below can trust its options.
  check (opts) {
    const parsed = parseDuration(opts.timeout ?? DEFAULT_TIMEOUT)
    if (parsed === undefined || parsed <= 0) return "option 'timeout' must be a positive duration such as 10s"
    let url: URL
    try {
      url = new URL(opts.tokenUrl)
    } catch {
      return "option 'tokenUrl' is not a URL (expected http://host/path or https://host/path)"
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return "option 'tokenUrl' must be an http:// or https:// URL"
    return undefined
  },
  create (opts, { log }) {
    const style = opts.style ?? 'satusehat'
    const clientAuth = opts.clientAuth ?? (style === 'satusehat' ? 'body' : 'basic')
    const timeout = opts.timeout ?? DEFAULT_TIMEOUT
    const timeoutMs = parseDuration(timeout) as number
    const url = new URL(opts.tokenUrl)

    // The request is the same every time: build it once.
    const form = new URLSearchParams()
    if (style === 'satusehat') url.searchParams.set('grant_type', 'client_credentials')
    else form.set('grant_type', 'client_credentials')
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json'
    }
    if (clientAuth === 'basic') {
      // RFC 6749 §2.3.1: each part form-encoded, then joined by ':' and base64-encoded.
      const pair = `${formEncode(opts.clientId)}:${formEncode(opts.clientSecret)}`
      headers.authorization = 'Basic ' + Buffer.from(pair, 'utf8').toString('base64')
    } else {
      form.set('client_id', opts.clientId)
      form.set('client_secret', opts.clientSecret)
    }
    if (opts.scope !== undefined) form.set('scope', opts.scope)
    const target = url.href
    const body = form.toString()

    let cached: CachedToken | undefined
    /** The fetch under way, shared by every request that needs a token meanwhile (success or failure). */
    let inflight: Promise<CachedToken> | undefined

    async function fetchToken (): Promise<CachedToken> {
      const startedAt = Date.now()
      const signal = AbortSignal.timeout(timeoutMs)
      let status: number
      let text: string
      try {
        const res = await undiciRequest(target, { method: 'POST', headers, body, signal })
        status = res.statusCode
        if (status < 200 || status > 299) {
          // Never read further: such answers may echo the credentials.
          res.body.dump().catch(() => {})
          log.warn({ status }, 'the token endpoint answered with an error status')
          throw new PluginFailure(`the token endpoint answered ${status}`)
        }
        const read = await readLimited(res.body)
        if (read === undefined) {
          log.warn({ status }, 'the token endpoint answered too much')
          throw new PluginFailure(`the token endpoint's answer is larger than ${ANSWER_LIMIT / 1024} KiB`)
        }
        text = read
      } catch (err) {
        if (err instanceof PluginFailure) throw err
        if (signal.aborted) {
          log.warn({ code: 'timeout', timeoutMs }, 'the token endpoint did not answer in time')
          throw new PluginFailure(`the token endpoint did not answer within ${timeout}`, { timeout: true })
        }
        const failure = classifyUpstreamError(err)
        const code = upstreamErrorCode(err)
        log.warn({ code }, 'the token request failed')
        if (failure.kind === 'timeout') {
          throw new PluginFailure('the token endpoint did not answer in time', { timeout: true })
        }
        const reason = failure.kind === 'unavailable' ? failure.reason : 'failed'
        throw new PluginFailure(`the token endpoint ${reason}`)
      }

      let answer: unknown
      try {
        answer = JSON.parse(text)
      } catch {
        log.warn({ status }, 'the token endpoint answered something other than JSON')
        throw new PluginFailure(`the token endpoint answered ${status} with a body that is not JSON`)
      }
      const fields = (typeof answer === 'object' && answer !== null ? answer : {}) as Record<string, unknown>
      const token = fields.access_token
      if (typeof token !== 'string' || !TOKEN_RE.test(token)) {
        log.warn({ status }, 'the token endpoint answered without a usable access_token')
        throw new PluginFailure(`the token endpoint answered ${status} without a usable access_token`)
      }
      // token_type is not checked: SATUSEHAT says "BearerToken", others "Bearer" or "bearer".
      const lifetimeMs = cacheLifetime(fields.expires_in)
      log.info({ cacheSeconds: Math.round(lifetimeMs / 1000) }, 'fetched an upstream access token')
      return { header: 'Bearer ' + token, refreshAt: startedAt + lifetimeMs }
    }

    function currentToken (): CachedToken | Promise<CachedToken> {
      if (cached !== undefined && Date.now() < cached.refreshAt) return cached
      if (inflight === undefined) {
        const fetching = fetchToken().then(
          (fresh) => {
            inflight = undefined
            cached = fresh
            return fresh
          },
          (err: unknown) => {
            // A failure is not cached: the next request asks again.
            inflight = undefined
            throw err
          }
        )
        inflight = fetching
      }
      return inflight
    }

    return {
      onRequest (request: UpstreamRequest) {
        const now = currentToken()
        if (!(now instanceof Promise)) {
          request.headers.set('authorization', now.header)
          return
        }
        return now.then((fresh) => { request.headers.set('authorization', fresh.header) })
      },

      retryOn (status: number, request: UpstreamRequest) {
        if (status !== 401) return false
        // Drop the token this request carried, unless another request already
        // replaced it: many concurrent 401s still lead to one token fetch.
        if (cached !== undefined && request.headers.get('authorization') === cached.header) cached = undefined
        return request.attempt === 0
      }
    }
  }
})

/** How long to keep a token, from the answer's expires_in: a number or, as SATUSEHAT sends it, a numeric string. */
function cacheLifetime (expiresIn: unknown): number {
  const seconds = typeof expiresIn === 'number'
    ? expiresIn
    : typeof expiresIn === 'string' && /^\s*[0-9]+(\.[0-9]+)?\s*$/.test(expiresIn) ? Number(expiresIn) : NaN
  if (!Number.isFinite(seconds) || seconds < 0) return UNKNOWN_LIFETIME_MS
  const ms = seconds * 1000
  // A token that lives a minute or less is kept for half its life.
  return ms > EXPIRY_MARGIN_MS ? ms - EXPIRY_MARGIN_MS : ms / 2
}

/** The whole body as text; undefined (and the body destroyed) when it is larger than ANSWER_LIMIT. */
async function readLimited (body: AsyncIterable<Buffer> & { destroy: () => unknown }): Promise<string | undefined> {
  const parts: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += chunk.length
    if (size > ANSWER_LIMIT) {
      body.destroy()
      return undefined
    }
    parts.push(chunk)
  }
  return Buffer.concat(parts).toString('utf8')
}

/** application/x-www-form-urlencoded encoding of one value. */
function formEncode (value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2)
}
