import { timingSafeEqual } from 'node:crypto'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Rate } from '../config/units.js'
import { GerbangError } from '../errors.js'
import { sendProblem } from '../http/problem.js'
import { StoreUnavailableError, type Client, type CredentialStore, type LimitStore, type ResolvedCredential } from '../store/types.js'
import { FAILURE_POLICY, FailureThrottle, type FailureThrottleOptions } from './failure-throttle.js'
import { generateToken, looksLikeKey, type SecretHasher } from './secrets.js'

// The OAuth2 client-credentials token endpoint (RFC 6749 section 4.4),
// answering the way SATUSEHAT's does so that the clients hospitals wrote for
// SATUSEHAT work unchanged (docs/contract.md section 4; SATUSEHAT's conventions: test/helpers/satusehat.ts):
//
//   POST /oauth2/v1/accesstoken?grant_type=client_credentials
//   Content-Type: application/x-www-form-urlencoded
//   client_id=<client id>&client_secret=<API key>
//
// Client authentication by HTTP Basic (RFC 6749 2.3.1) works too, and
// grant_type may sit in the body instead of the query string. Errors in the
// OAuth exchange are RFC 6749 5.2 JSON; errors of the gateway itself (store
// down, body too large, wrong method) are problem+json like everywhere else.
// Neither the secret nor the token is ever logged or echoed.
//
// Floods (docs/contract.md section 15): a client gets at most TOKEN_RATE tokens,
// counted in the store so the limit holds across gateway processes (one
// round trip per issued token; this is not the hot path). Failed client
// authentications are counted per address, in this process: past the
// FailureThrottle's limit, further failures from that address are answered
// 429 RATE_LIMITED instead of 401, while correct credentials still get tokens.

export const TOKEN_PATH = '/oauth2/v1/accesstoken'
/** SATUSEHAT's token lifetime: 14399 seconds, just under four hours. */
export const DEFAULT_TOKEN_TTL_MS = 14_399_000
/** A token request is a few hundred bytes; anything near this is not one. */
export const TOKEN_BODY_LIMIT = 8 * 1024
export const REALM = 'gerbang'
const ORGANIZATION_NAME = 'Gerbang'
const FORM_TYPE = 'application/x-www-form-urlencoded'
/** At most 60 tokens a minute per client (docs/contract.md section 15). */
export const TOKEN_RATE: Rate = { limit: 60, windowMs: 60_000 }
/** The name the token limit goes by in RateLimit headers and violatedPolicies. */
const TOKEN_POLICY = 'tokens'

export interface OAuth2Options {
  store: CredentialStore & LimitStore
  hasher: SecretHasher
  /** Lifetime of an issued token; default DEFAULT_TOKEN_TTL_MS. */
  tokenTtlMs?: number
  /** Tokens per client and window; default TOKEN_RATE. */
  tokenRate?: Rate
  /** Failed client authentications per address before 429; defaults in failure-throttle.ts. */
  failures?: FailureThrottleOptions
}

type OAuthErrorCode = 'invalid_request' | 'invalid_client' | 'unsupported_grant_type'

/** An RFC 6749 5.2 error answer, raised inside the handler and sent by it. */
class OAuthError extends Error {
  readonly error: OAuthErrorCode
  /** Whether the client authenticated with HTTP Basic: a 401 then carries WWW-Authenticate. */
  readonly basic: boolean

  constructor (error: OAuthErrorCode, description: string, basic = false) {
    super(description)
    this.error = error
    this.basic = basic
  }
}

/** SATUSEHAT's answer: every value a string, except the two that never were. */
export interface TokenResponse {
  access_token: string
  token_type: 'BearerToken'
  expires_in: string
  issued_at: string
  client_id: string
  application_name: string
  organization_name: string
  scope: string
  status: 'approved'
  refresh_count: string
  developer: { email: string }
  api_product_list: string
  api_product_list_json: string[]
}

function validateOptions (opts: OAuth2Options): { tokenTtlMs: number, tokenRate: Rate } {
  const ttl = opts.tokenTtlMs ?? DEFAULT_TOKEN_TTL_MS
  if (!Number.isFinite(ttl) || ttl <= 0) {
    throw new Error(`tokenTtlMs must be a positive number of milliseconds (got ${String(opts.tokenTtlMs)})`)
  }
  const rate = opts.tokenRate ?? TOKEN_RATE
  if (!Number.isInteger(rate.limit) || rate.limit < 1 || !Number.isInteger(rate.windowMs) || rate.windowMs < 1000) {
    throw new Error(`tokenRate must be a whole number of tokens (at least 1) per whole number of ms (at least 1000) (got ${rate.limit}/${rate.windowMs})`)
  }
  return { tokenTtlMs: ttl, tokenRate: rate }
}

/** POST /oauth2/v1/accesstoken, in its own encapsulated context. */
export async function oauth2Plugin (app: FastifyInstance, opts: OAuth2Options): Promise<void> {
  const { tokenTtlMs, tokenRate } = validateOptions(opts)
  const { store, hasher } = opts
  const failures = new FailureThrottle({
    ...opts.failures,
    onLimit: (address, waitMs) => {
      app.log.warn({ address, limit: failures.limit, windowMs: failures.windowMs, retryAfterMs: waitMs },
        'oauth2: too many failed client authentications from one address; refusing its failures with 429 until its window ends')
    }
  })
  const policyHeader = `"${TOKEN_POLICY}";q=${tokenRate.limit};w=${Math.ceil(tokenRate.windowMs / 1000)}`

  // Only form bodies here: the parsers inherited from the parent (JSON, the
  // proxy's pass-through) are dropped in this context alone.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser(FORM_TYPE, { parseAs: 'string', bodyLimit: TOKEN_BODY_LIMIT }, (_request, body, done) => {
    done(null, new URLSearchParams(body as string))
  })

  app.setErrorHandler((error: FastifyError | GerbangError, request, reply) => {
    if (error instanceof GerbangError) {
      sendProblem(request, reply, error)
      return
    }
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      sendOAuthError(request, reply, new OAuthError('invalid_request',
        `the body must be ${FORM_TYPE} (RFC 6749 section 4.4.2)`))
      return
    }
    const status = error.statusCode ?? 500
    if (status === 413) {
      sendProblem(request, reply, new GerbangError('PAYLOAD_TOO_LARGE', `a token request body may be at most ${TOKEN_BODY_LIMIT} bytes`))
      return
    }
    if (status >= 500) {
      request.log.error({ err: error }, 'oauth2 token endpoint failed')
      sendProblem(request, reply, new GerbangError('INTERNAL_ERROR', 'an internal error occurred'))
      return
    }
    sendProblem(request, reply, new GerbangError('BAD_REQUEST', error.message))
  })

  app.post(TOKEN_PATH, async (request, reply) => {
    let resolved: ResolvedCredential | undefined
    try {
      const grant = readRequest(request)
      const keyHash = hasher.hash(grant.clientSecret)
      resolved = await authenticate(store, keyHash, grant)
      const ttlMs = tokenLifetime(tokenTtlMs, resolved, grant.basic)
      const { client } = resolved

      // One store round trip: takes one of the client's tokens for this window, or none.
      const lease = await store.lease(`oauth2:${client.id}`, [{ key: TOKEN_POLICY, limit: tokenRate.limit, windowMs: tokenRate.windowMs }], 1, 1)
      const remaining = Math.max(0, lease.remaining[0] ?? 0)
      const resetSeconds = Math.max(1, Math.ceil((lease.resetMs[0] ?? tokenRate.windowMs) / 1000))
      reply.headers({
        'ratelimit-policy': policyHeader,
        ratelimit: `"${TOKEN_POLICY}";r=${remaining};t=${resetSeconds}`,
        'x-ratelimit-limit': String(tokenRate.limit),
        'x-ratelimit-remaining': String(remaining),
        'x-ratelimit-reset': String(resetSeconds)
      })
      if (lease.granted < 1) {
        request.log.info({ clientId: client.id, retryAfterS: resetSeconds }, 'oauth2 token refused: over the token rate')
        sendProblem(request, reply, new GerbangError('RATE_LIMITED',
          `at most ${tokenRate.limit} tokens per ${Math.ceil(tokenRate.windowMs / 1000)} s for a client; retry after ${resetSeconds} s`,
          { violatedPolicies: [TOKEN_POLICY] }, { 'retry-after': String(resetSeconds), 'cache-control': 'no-store' }))
        return reply
      }

      const token = generateToken()
      const issuedAt = Date.now()
      await store.saveToken(hasher.hash(token), client.id, keyHash, ttlMs)
      request.log.info({ clientId: client.id, expiresInMs: ttlMs }, 'oauth2 token issued')
      noStore(request, reply)
      return tokenResponse(token, client, ttlMs, issuedAt)
    } catch (err) {
      if (err instanceof OAuthError) {
        if (err.error === 'invalid_client') {
          request.log.info({ clientId: resolved?.client.id, reason: err.message }, 'oauth2 client authentication failed')
          const waitMs = failures.fail(request.ip)
          if (waitMs > 0) {
            sendProblem(request, reply, tooManyFailures(waitMs, failures))
            return reply
          }
        }
        sendOAuthError(request, reply, err)
        return reply
      }
      if (err instanceof StoreUnavailableError) {
        request.log.warn({ err }, 'oauth2 token endpoint: store unavailable')
        sendProblem(request, reply, new GerbangError('STORE_UNAVAILABLE', 'the credential store is unavailable; try again shortly'))
        return reply
      }
      throw err
    }
  })

  const others = app.supportedMethods.filter((m) => m !== 'POST')
  app.route({
    method: others,
    url: TOKEN_PATH,
    handler: async (request, reply) => {
      sendProblem(request, reply, new GerbangError('METHOD_NOT_ALLOWED',
        `${request.method} is not allowed on ${TOKEN_PATH}; request a token with POST`, undefined, { allow: 'POST' }))
      return reply
    }
  })
}

// ---------------------------------------------------------------------------
// Reading the request

interface TokenRequest {
  clientId: string
  clientSecret: string
  /** Client authentication came by HTTP Basic. */
  basic: boolean
}

/**
 * Parameters must not repeat (RFC 6749 3.2), and a parameter sent empty
 * counts as absent (3.1). Returns the parameters, one value each.
 */
function singleValued (params: URLSearchParams, where: string): Map<string, string> {
  const values = new Map<string, string>()
  const seen = new Set<string>()
  for (const [name, value] of params) {
    if (seen.has(name)) throw new OAuthError('invalid_request', `parameter '${safeName(name)}' appears more than once in the ${where}`)
    seen.add(name)
    if (value !== '') values.set(name, value)
  }
  return values
}

/** A parameter name fit to quote back: short and printable. */
function safeName (name: string): string {
  return /^[A-Za-z0-9_.-]{1,40}$/.test(name) ? name : '(unprintable name)'
}

function readRequest (request: FastifyRequest): TokenRequest {
  const url = request.raw.url ?? ''
  const q = url.indexOf('?')
  const query = singleValued(new URLSearchParams(q === -1 ? '' : url.slice(q + 1)), 'query string')
  const body = singleValued(request.body instanceof URLSearchParams ? request.body : new URLSearchParams(), 'body')

  // Credentials in the URL end up in logs and browser histories (RFC 6749 2.3.1).
  for (const name of ['client_secret', 'client_id']) {
    if (query.has(name)) throw new OAuthError('invalid_request', `${name} must be sent in the request body or by HTTP Basic, never in the URL`)
  }

  const fromQuery = query.get('grant_type')
  const fromBody = body.get('grant_type')
  if (fromQuery !== undefined && fromBody !== undefined && fromQuery !== fromBody) {
    throw new OAuthError('invalid_request', 'grant_type is given twice, in the query string and the body, with different values')
  }
  const grantType = fromQuery ?? fromBody
  if (grantType === undefined) {
    throw new OAuthError('invalid_request', 'grant_type is missing; use ?grant_type=client_credentials')
  }
  if (grantType !== 'client_credentials') {
    throw new OAuthError('unsupported_grant_type', 'only grant_type=client_credentials is supported')
  }

  const basic = readBasic(request.headers.authorization)
  const formId = body.get('client_id')
  const formSecret = body.get('client_secret')
  if (basic !== undefined) {
    // One authentication method per request (RFC 6749 2.3).
    if (formId !== undefined || formSecret !== undefined) {
      throw new OAuthError('invalid_request', 'send the client credentials either by HTTP Basic or in the body, not both')
    }
    return { ...basic, basic: true }
  }
  if (formId === undefined) throw new OAuthError('invalid_request', 'client_id is missing')
  if (formSecret === undefined) throw new OAuthError('invalid_request', 'client_secret is missing')
  return { clientId: formId, clientSecret: formSecret, basic: false }
}

/**
 * `Authorization: Basic base64(client_id:client_secret)`, each part
 * form-urlencoded first (RFC 6749 2.3.1). Undefined when there is no
 * Authorization header.
 */
function readBasic (header: string | undefined): { clientId: string, clientSecret: string } | undefined {
  if (header === undefined) return undefined
  const match = /^([A-Za-z]+) +([A-Za-z0-9+/]+={0,2}) *$/.exec(header)
  if (match === null || match[1]?.toLowerCase() !== 'basic') {
    throw new OAuthError('invalid_client', 'the Authorization header must be Basic base64(client_id:client_secret)', true)
  }
  const decoded = Buffer.from(match[2] ?? '', 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon === -1) throw new OAuthError('invalid_request', 'the Basic credentials must be client_id:client_secret')
  const clientId = formDecode(decoded.slice(0, colon))
  const clientSecret = formDecode(decoded.slice(colon + 1))
  if (clientId === '') throw new OAuthError('invalid_request', 'client_id is missing from the Basic credentials')
  if (clientSecret === '') throw new OAuthError('invalid_request', 'client_secret is missing from the Basic credentials')
  return { clientId, clientSecret }
}

function formDecode (text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '))
  } catch {
    throw new OAuthError('invalid_request', 'the Basic credentials are not form-urlencoded correctly')
  }
}

// ---------------------------------------------------------------------------
// Authenticating the client

function sameId (a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8')
  const right = Buffer.from(b, 'utf8')
  return left.length === right.length && timingSafeEqual(left, right)
}

/**
 * The client the credentials belong to (`keyHash` is the secret's hash); OAuthError invalid_client for anything else.
 */
async function authenticate (
  store: CredentialStore, keyHash: string, grant: TokenRequest
): Promise<ResolvedCredential> {
  const failed = new OAuthError('invalid_client', 'client authentication failed', grant.basic)
  // Not the shape of a key: refused without a store round trip.
  if (!looksLikeKey(grant.clientSecret)) throw failed
  const resolved = await store.resolveKey(keyHash)
  if (resolved === undefined || !sameId(resolved.client.id, grant.clientId)) throw failed
  const { client } = resolved
  if (client.revokedAt !== undefined) throw new OAuthError('invalid_client', 'the client has been revoked', grant.basic)
  if (client.expiresAt !== undefined && Date.parse(client.expiresAt) <= Date.now()) {
    throw new OAuthError('invalid_client', `the client expired at ${client.expiresAt}`, grant.basic)
  }
  return resolved
}

/**
 * A token never outlives what it was issued on: the client's own expiry, or
 * a rotated key's grace period.
 */
function tokenLifetime (tokenTtlMs: number, resolved: ResolvedCredential, basic: boolean): number {
  const now = Date.now()
  let ttl = tokenTtlMs
  if (resolved.client.expiresAt !== undefined) ttl = Math.min(ttl, Date.parse(resolved.client.expiresAt) - now)
  if (resolved.expiresAt !== undefined) ttl = Math.min(ttl, resolved.expiresAt - now)
  if (ttl <= 0) throw new OAuthError('invalid_client', 'the client credentials have expired', basic)
  return ttl
}

// ---------------------------------------------------------------------------
// Answering

/** The answer to a failed authentication from an address past its limit of failures. */
function tooManyFailures (waitMs: number, failures: FailureThrottle): GerbangError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000))
  return new GerbangError('RATE_LIMITED',
    `too many failed client authentications from this address (more than ${failures.limit} in ${Math.ceil(failures.windowMs / 1000)} s); retry after ${seconds} s`,
    { violatedPolicies: [FAILURE_POLICY] }, { 'retry-after': String(seconds), 'cache-control': 'no-store' })
}

function noStore (request: FastifyRequest, reply: FastifyReply): void {
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache').header('x-request-id', request.id)
}

function tokenResponse (token: string, client: Client, ttlMs: number, issuedAt: number): TokenResponse {
  return {
    access_token: token,
    token_type: 'BearerToken',
    expires_in: String(Math.floor(ttlMs / 1000)),
    issued_at: String(issuedAt),
    client_id: client.id,
    application_name: client.name,
    organization_name: ORGANIZATION_NAME,
    scope: '',
    status: 'approved',
    refresh_count: '0',
    developer: { email: '' },
    api_product_list: '[]',
    api_product_list_json: []
  }
}

function sendOAuthError (request: FastifyRequest, reply: FastifyReply, err: OAuthError): void {
  const status = err.error === 'invalid_client' ? 401 : 400
  noStore(request, reply)
  reply.code(status).header('content-type', 'application/json; charset=utf-8')
  // RFC 6749 5.2: a client that tried the Authorization header gets a challenge in its scheme.
  if (status === 401 && err.basic) reply.header('www-authenticate', `Basic realm="${REALM}"`)
  // A body refused unread (wrong content type) is not read to the end for nothing.
  if (hasUnreadBody(request)) reply.header('connection', 'close')
  reply.send(JSON.stringify({ error: err.error, error_description: err.message }))
}

function hasUnreadBody (request: FastifyRequest): boolean {
  const { headers } = request.raw
  const declared = headers['transfer-encoding'] !== undefined ||
    (headers['content-length'] !== undefined && headers['content-length'] !== '0')
  return declared && !request.raw.complete
}
