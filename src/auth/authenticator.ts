import { hash } from 'node:crypto'
import { BlockList } from 'node:net'
import type { FastifyBaseLogger } from 'fastify'
import type { Integration } from '../config/routes-loader.js'
import { parseRate } from '../config/units.js'
import { policy, type Policy } from '../limits/rate-limiter.js'
import { GerbangError } from '../errors.js'
import { StoreUnavailableError, type ResolvedCredential, type Store } from '../store/types.js'
import { addCidr } from './clients.js'
import { FAILURE_POLICY, FailureThrottle, type FailureThrottleOptions } from './failure-throttle.js'
import { looksLikeKey, looksLikeToken, type SecretHasher } from './secrets.js'
import { LEGACY_CALLS_TTL_MS, legacyCallsBucket, mayBeLegacyKey } from './legacy.js'
import { authorizationScheme, bearerToken } from './bearer.js'

/** Who is calling, as the hot path needs it: everything precomputed once per credential. */
export interface Principal {
  readonly id: string
  readonly name: string
  /** The name as a header value: printable ASCII, else percent-encoded. */
  readonly headerName: string
  readonly integrations: ReadonlySet<string> | '*'
  readonly allowedIps: BlockList | null
  readonly revoked: boolean
  /** Epoch ms past which the credential no longer works (client expiry, token expiry or key grace), or Infinity. */
  readonly expiresAt: number
  /** The client's own rate, overriding every integration's; its quota across all of them. */
  readonly ratePolicy: Policy | undefined
  readonly quotaPolicy: Policy | undefined
  /** Imported from the old API manager: only such a client's key may have the legacy shape. */
  readonly legacy: boolean
}

export type CredentialKind = 'key' | 'token'

interface CacheEntry {
  principal: Principal
  /** Past this, the entry is refreshed from the store; kept and used while the store is down. */
  freshUntil: number
}

export interface AuthenticatorOptions {
  /** How many credentials one process remembers. */
  maxEntries?: number
  /** How long a cached credential is trusted without asking the store (pub/sub makes changes faster). */
  freshMs?: number
  /** How long an unknown credential is remembered as unknown. */
  unknownMs?: number
  /** How often last-use times are written to the store. */
  touchIntervalMs?: number
  /** Invalid credentials per address before they are answered 429; defaults in failure-throttle.ts. */
  failures?: Omit<FailureThrottleOptions, 'onLimit'>
  logger?: FastifyBaseLogger
}

const WWW_AUTHENTICATE_MISSING = 'Bearer realm="gerbang", ApiKey header="x-api-key"'
const WWW_AUTHENTICATE_INVALID = 'Bearer realm="gerbang", error="invalid_token"'

const INVALID_DETAIL: Record<CredentialKind, string> = { key: 'the API key is not valid', token: 'the bearer token is not valid' }
const CREDENTIAL_NAME: Record<CredentialKind, string> = { key: 'the API key', token: 'the bearer token' }

function invalid (detail: string): GerbangError {
  return new GerbangError('CREDENTIALS_INVALID', detail, undefined, { 'www-authenticate': WWW_AUTHENTICATE_INVALID })
}

const MISSING = (): GerbangError => new GerbangError('CREDENTIALS_MISSING',
  'send an API key in the x-api-key header, or a bearer token from POST /oauth2/v1/accesstoken',
  undefined, { 'www-authenticate': WWW_AUTHENTICATE_MISSING })

/** An Authorization header the gateway cannot use, and no other credential: say which scheme it was. */
function unknownScheme (authorization: string): GerbangError {
  return new GerbangError('CREDENTIALS_MISSING',
    `the Authorization scheme '${authorizationScheme(authorization)}' is not accepted here: send Bearer <token> ` +
    '(from POST /oauth2/v1/accesstoken) or an API key in the x-api-key header',
    undefined, { 'www-authenticate': WWW_AUTHENTICATE_MISSING })
}

function policyOf (name: string, text: string | undefined): Policy | undefined {
  const rate = text === undefined ? undefined : parseRate(text)
  return rate === undefined ? undefined : policy(name, rate)
}

function toPrincipal (resolved: ResolvedCredential): Principal {
  const { client } = resolved
  let allowedIps: BlockList | null = null
  if (client.allowedIps !== undefined && client.allowedIps.length > 0) {
    allowedIps = new BlockList()
    for (const cidr of client.allowedIps) addCidr(allowedIps, cidr)
  }
  const clientExpiry = client.expiresAt === undefined ? Infinity : Date.parse(client.expiresAt)
  return {
    id: client.id,
    name: client.name,
    headerName: /^[\x20-\x7e]*$/.test(client.name) ? client.name : encodeURIComponent(client.name),
    integrations: client.integrations === '*' ? '*' : new Set(client.integrations),
    allowedIps,
    revoked: client.revokedAt !== undefined,
    expiresAt: Math.min(clientExpiry, resolved.expiresAt ?? Infinity),
    ratePolicy: policyOf('default', client.rateLimit),
    quotaPolicy: policyOf('daily', client.quota),
    legacy: client.legacy !== undefined
  }
}

/**
 * Resolves API keys and bearer tokens to clients, with a bounded per-process
 * cache so that a known credential costs no store round trip. Changes
 * published by any process (revoke, rotate, create) evict entries within
 * the pub/sub latency; a lost connection marks everything for refresh.
 * While the store is down, cached credentials keep working and unknown
 * ones answer 503 STORE_UNAVAILABLE, never 401.
 *
 * Invalid credentials (malformed, unknown, remembered as unknown, revoked,
 * expired) are counted per client address in this process: past the
 * FailureThrottle's limit, further invalid ones from that address answer
 * 429 RATE_LIMITED with Retry-After instead of 401. Valid credentials never
 * touch the count, so they cost nothing more and are never refused by it.
 *
 * Keys of the old API manager (src/auth/legacy.ts) take the same path once
 * an import brought keys of their length in: an unknown one costs one store
 * lookup and is then remembered as unknown for unknownMs (5 s), like an
 * unknown Gerbang key; one that resolves to a client the import did not
 * mark as legacy is refused as unknown. Their use is counted per client and
 * day for the dashboard's switch-over progress.
 */
export class Authenticator {
  readonly #store: Store
  readonly #hasher: SecretHasher
  readonly #maxEntries: number
  readonly #freshMs: number
  readonly #unknownMs: number
  readonly #logger: FastifyBaseLogger | undefined
  // Map iteration order is insertion order: re-inserting on use makes it an LRU.
  readonly #known = new Map<string, CacheEntry>()
  readonly #unknown = new Map<string, number>()
  readonly #lastUsed = new Map<string, number>()
  /** Calls with a legacy key per client since the last flush. */
  readonly #legacyCalls = new Map<string, number>()
  /** The lengths of imported legacy keys (Store.legacySummary); empty: no legacy key is looked up. */
  #legacyLengths: ReadonlySet<number> = new Set()
  readonly #touchTimer: NodeJS.Timeout
  readonly #failures: FailureThrottle
  /** Bumped by every eviction: a lookup that saw it change while in flight does not cache its answer. */
  #generation = 0
  /** Told of every change once the cache has dropped it (src/proxy/websocket.ts checks its open sockets again). */
  readonly #changeListeners: Array<(clientId: string | undefined) => void> = []

  constructor (store: Store, hasher: SecretHasher, options: AuthenticatorOptions = {}) {
    this.#store = store
    this.#hasher = hasher
    this.#maxEntries = options.maxEntries ?? 10_000
    this.#freshMs = options.freshMs ?? 60_000
    this.#unknownMs = options.unknownMs ?? 5_000
    this.#logger = options.logger
    this.#failures = new FailureThrottle({
      ...options.failures,
      onLimit: (address, waitMs) => {
        this.#logger?.warn({ address, limit: this.#failures.limit, windowMs: this.#failures.windowMs, retryAfterMs: waitMs },
          'too many invalid credentials from one address; refusing its invalid ones with 429 until its window ends')
      }
    })
    this.#touchTimer = setInterval(() => { this.flushLastUsed().catch(() => {}) }, options.touchIntervalMs ?? 10_000)
    this.#touchTimer.unref()
  }

  /** Starts listening for changes made by other processes. */
  async start (): Promise<void> {
    await this.#store.subscribe((change) => {
      if (change.legacyImport === true) this.#legacyImported()
      else this.evictClient(change.clientId)
    }, () => {
      this.#markAllStale()
      this.#refreshLegacy()
    })
    await this.#loadLegacy()
  }

  /** Rereads which legacy key lengths exist; a store that cannot answer leaves them as they were. */
  async #loadLegacy (): Promise<void> {
    try {
      this.#legacyLengths = new Set((await this.#store.legacySummary()).keyLengths)
    } catch (err) {
      this.#logger?.warn({ err: (err as Error).message }, 'could not read the imported legacy keys; legacy keys are refused until the store answers')
    }
  }

  #refreshLegacy (): void {
    this.#loadLegacy().catch(() => {})
  }

  #legacyImported (): void {
    // The new clients' keys may have been remembered as unknown.
    this.#generation++
    this.#unknown.clear()
    this.#refreshLegacy()
  }

  async close (): Promise<void> {
    clearInterval(this.#touchTimer)
    await this.flushLastUsed()
  }

  /** How many credentials are cached (for metrics and tests). */
  get size (): number {
    return this.#known.size
  }

  /**
   * Authenticates a request for an integration. Synchronous when the
   * credential is cached, so a cache hit costs no promise.
   * `query` is the request's query string (without `?`), for apiKeyQuery;
   * `formKey` the apiKeyForm field of the request's form body, when it was read.
   */
  authenticate (headers: Record<string, string | string[] | undefined>, query: string, integration: Integration,
    remoteAddress: string | undefined, formKey?: string): Principal | GerbangError | Promise<Principal | GerbangError> {
    let kind: CredentialKind
    let secret: string | undefined
    const apiKey = headers['x-api-key']
    if (typeof apiKey === 'string') {
      kind = 'key'
      secret = apiKey
    } else {
      const authorization = headers.authorization
      const token = typeof authorization === 'string' ? bearerToken(authorization) : undefined
      if (token !== undefined) {
        kind = 'token'
        secret = token
      } else {
        kind = 'key'
        secret = integration.apiKeyQuery === undefined ? undefined : queryParam(query, integration.apiKeyQuery)
        if (secret === undefined || secret === '') secret = formKey
        if ((secret === undefined || secret === '') && typeof authorization === 'string') return unknownScheme(authorization)
      }
    }
    if (secret === undefined || secret === '') return MISSING()
    // A key of the old API manager: only an imported client's.
    let legacy = false
    if (kind === 'key' ? !looksLikeKey(secret) : !looksLikeToken(secret)) {
      legacy = kind === 'key' && mayBeLegacyKey(secret, this.#legacyLengths)
      if (!legacy) return this.#refuse(INVALID_DETAIL[kind], remoteAddress)
    }

    // The cache is keyed by a plain SHA-256 of the secret, five times cheaper
    // than the peppered HMAC the store is keyed by (made on a miss only). It
    // lives only in this process's memory, which holds the pepper anyway.
    const cacheKey = hash('sha256', secret, 'base64url')
    const entry = this.#known.get(cacheKey)
    const now = Date.now()
    if (entry !== undefined && (entry.freshUntil > now || !this.#store.isAvailable())) {
      // LRU: most recently used last.
      this.#known.delete(cacheKey)
      this.#known.set(cacheKey, entry)
      return this.#authorize(entry.principal, kind, integration, remoteAddress, now, legacy)
    }
    const unknownUntil = this.#unknown.get(cacheKey)
    if (unknownUntil !== undefined && unknownUntil > now) return this.#refuse(INVALID_DETAIL[kind], remoteAddress)

    return this.#lookup(this.#hasher.hash(secret), cacheKey, kind).then((principal) => principal === undefined
      ? this.#refuse(INVALID_DETAIL[kind], remoteAddress)
      : this.#authorize(principal, kind, integration, remoteAddress, Date.now(), legacy),
    (err: unknown) => {
      if (entry !== undefined) return this.#authorize(entry.principal, kind, integration, remoteAddress, Date.now(), legacy)
      if (err instanceof StoreUnavailableError) {
        return new GerbangError('STORE_UNAVAILABLE', 'credentials cannot be checked right now: the store is unavailable; retry shortly',
          undefined, { 'retry-after': '1' })
      }
      throw err
    })
  }

  /** Drops every cached credential of a client (it was revoked, rotated or changed). */
  evictClient (clientId: string): void {
    this.#generation++
    for (const [key, entry] of this.#known) {
      if (entry.principal.id === clientId) this.#known.delete(key)
    }
    // A new client's key may have been remembered as unknown.
    this.#unknown.clear()
    for (const listener of this.#changeListeners) listener(clientId)
  }

  /**
   * Calls `listener` after each change to a client has been applied here
   * (its next authentication asks the store), with undefined when changes
   * may have been missed and every client is to be checked again.
   */
  onChange (listener: (clientId: string | undefined) => void): void {
    this.#changeListeners.push(listener)
  }

  /** Writes the batched last-use times; failures are logged and forgotten. */
  async flushLastUsed (): Promise<void> {
    if (this.#legacyCalls.size > 0) {
      const counts = new Map(this.#legacyCalls)
      this.#legacyCalls.clear()
      try {
        await this.#store.addCounts([{ bucket: legacyCallsBucket(Date.now()), ttlMs: LEGACY_CALLS_TTL_MS, counts }])
      } catch (err) {
        this.#logger?.debug({ err: (err as Error).message }, 'could not record legacy key use')
      }
    }
    if (this.#lastUsed.size === 0) return
    const batch = new Map<string, string>()
    for (const [id, at] of this.#lastUsed) batch.set(id, new Date(at).toISOString())
    this.#lastUsed.clear()
    try {
      await this.#store.touchClients(batch)
    } catch (err) {
      this.#logger?.debug({ err: (err as Error).message }, 'could not record client last use')
    }
  }

  #authorize (principal: Principal, kind: CredentialKind, integration: Integration, remoteAddress: string | undefined, now: number,
    legacy = false): Principal | GerbangError {
    // A legacy-shaped key of a client the import did not bring in is no key at all.
    if (legacy && !principal.legacy) return this.#refuse(INVALID_DETAIL[kind], remoteAddress)
    if (principal.revoked) return this.#refuse(`${CREDENTIAL_NAME[kind]} has been revoked`, remoteAddress)
    if (principal.expiresAt <= now) return this.#refuse(`${CREDENTIAL_NAME[kind]} has expired`, remoteAddress)
    if (principal.integrations !== '*' && !principal.integrations.has(integration.name)) {
      return new GerbangError('INTEGRATION_FORBIDDEN', `client ${principal.name} may not call ${integration.name}`)
    }
    if (principal.allowedIps !== null && (remoteAddress === undefined || !ipAllowed(principal.allowedIps, remoteAddress))) {
      return new GerbangError('INTEGRATION_FORBIDDEN', `client ${principal.name} may not call from this address`)
    }
    this.#lastUsed.set(principal.id, now)
    if (legacy) this.#legacyCalls.set(principal.id, (this.#legacyCalls.get(principal.id) ?? 0) + 1)
    return principal
  }

  /** 401 CREDENTIALS_INVALID, or 429 RATE_LIMITED once the address has had too many. */
  #refuse (detail: string, remoteAddress: string | undefined): GerbangError {
    const waitMs = this.#failures.fail(remoteAddress)
    if (waitMs === 0) return invalid(detail)
    const seconds = Math.max(1, Math.ceil(waitMs / 1000))
    return new GerbangError('RATE_LIMITED',
      `too many invalid credentials from this address (more than ${this.#failures.limit} in ${Math.ceil(this.#failures.windowMs / 1000)} s); retry after ${seconds} s`,
      { violatedPolicies: [FAILURE_POLICY] }, { 'retry-after': String(seconds) })
  }

  /** Asks the store for the secret whose peppered hash is `storeHash`; remembers the answer under `cacheKey`. */
  async #lookup (storeHash: string, cacheKey: string, kind: CredentialKind): Promise<Principal | undefined> {
    const generation = this.#generation
    const resolved = kind === 'key' ? await this.#store.resolveKey(storeHash) : await this.#store.resolveToken(storeHash)
    // A change announced while the store was answering (a rotation, a
    // revocation, a new client) may postdate what it read: answer this
    // request as found, but remember nothing from it.
    const current = generation === this.#generation
    this.#known.delete(cacheKey)
    if (resolved === undefined) {
      if (!current) return undefined
      if (this.#unknown.size >= this.#maxEntries) this.#unknown.clear()
      this.#unknown.set(cacheKey, Date.now() + this.#unknownMs)
      return undefined
    }
    const principal = toPrincipal(resolved)
    if (!current) return principal
    if (this.#known.size >= this.#maxEntries) {
      const oldest = this.#known.keys().next()
      if (oldest.done !== true) this.#known.delete(oldest.value)
    }
    this.#known.set(cacheKey, { principal, freshUntil: Date.now() + this.#freshMs })
    return principal
  }

  #markAllStale (): void {
    this.#generation++
    this.#unknown.clear()
    for (const entry of this.#known.values()) entry.freshUntil = 0
    for (const listener of this.#changeListeners) listener(undefined)
  }
}

function ipAllowed (list: BlockList, address: string): boolean {
  // Node reports IPv4 peers on dual-stack sockets as ::ffff:a.b.c.d.
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address
  return v4.includes(':') ? list.check(v4, 'ipv6') : list.check(v4, 'ipv4')
}

/** The value of one query parameter, decoded; undefined when absent. */
export function queryParam (query: string, name: string): string | undefined {
  if (query === '') return undefined
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=')
    const key = eq === -1 ? pair : pair.slice(0, eq)
    if (safeDecode(key) === name) return eq === -1 ? '' : safeDecode(pair.slice(eq + 1))
  }
  return undefined
}

/** The query string without the named parameter, every other byte as sent. */
export function withoutQueryParam (query: string, name: string): string {
  return query.split('&').filter((pair) => {
    const eq = pair.indexOf('=')
    return safeDecode(eq === -1 ? pair : pair.slice(0, eq)) !== name
  }).join('&')
}

function safeDecode (text: string): string {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '))
  } catch {
    return text
  }
}
