import { hash } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { Integration } from '../config/routes-loader.js'
import { GerbangError } from '../errors.js'
import { StoreUnavailableError, type ChangeFeed, type CounterStore, type CredentialStore, type StoreStatus } from '../store/types.js'
import { FailureThrottle, type FailureThrottleOptions } from './failure-throttle.js'
import { looksLikeKey, looksLikeToken, type SecretHasher } from './secrets.js'
import { LEGACY_CALLS_TTL_MS, legacyCallsBucket, mayBeLegacyKey } from './legacy.js'
import { bearerToken } from './bearer.js'
import { CREDENTIAL_NAME, type CredentialKind, INVALID_DETAIL, invalid, MISSING, tooManyInvalid, unknownScheme } from './credential-refusals.js'
import { ipAllowed, toPrincipal, type Principal } from './principal.js'
import { queryParam } from './query-params.js'

/** What the authenticator uses of the store. */
export type AuthenticatorStore = CredentialStore & ChangeFeed & CounterStore & StoreStatus

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
  readonly #store: AuthenticatorStore
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

  constructor (store: AuthenticatorStore, hasher: SecretHasher, options: AuthenticatorOptions = {}) {
    this.#store = store
    this.#hasher = hasher
    this.#maxEntries = options.maxEntries ?? 10_000
    this.#freshMs = options.freshMs ?? 60_000
    this.#unknownMs = options.unknownMs ?? 5_000
    this.#logger = options.logger
    this.#failures = new FailureThrottle({
      ...options.failures,
      onLimit: (address, waitMs) => {
        this.#logger?.warn(
          { address, limit: this.#failures.limit, windowMs: this.#failures.windowMs, retryAfterMs: waitMs },
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
      if (entry !== undefined) {
        return this.#authorize(entry.principal, kind, integration, remoteAddress, Date.now(), legacy)
      }
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

  #authorize (principal: Principal, kind: CredentialKind, integration: Integration,
    remoteAddress: string | undefined, now: number, legacy = false): Principal | GerbangError {
    // A legacy-shaped key of a client the import did not bring in is no key at all.
    if (legacy && !principal.legacy) return this.#refuse(INVALID_DETAIL[kind], remoteAddress)
    if (principal.revoked) return this.#refuse(`${CREDENTIAL_NAME[kind]} has been revoked`, remoteAddress)
    if (principal.expiresAt <= now) return this.#refuse(`${CREDENTIAL_NAME[kind]} has expired`, remoteAddress)
    if (principal.integrations !== '*' && !principal.integrations.has(integration.name)) {
      return new GerbangError('INTEGRATION_FORBIDDEN', `client ${principal.name} may not call ${integration.name}`)
    }
    if (principal.allowedIps !== null &&
      (remoteAddress === undefined || !ipAllowed(principal.allowedIps, remoteAddress))) {
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
    return tooManyInvalid(this.#failures.limit, this.#failures.windowMs, waitMs)
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
