import type { Redis, Cluster } from 'ioredis'
import { connectRedis, type RedisClient } from './redis-connection.js'
import {
  AUDIT_KEEP, StoreConflictError, StoreUnavailableError,
  type Client, type ListClientsOptions, type ResolvedCredential, type Store, type StoreChange, type User,
  type Lease, type WindowCounter, type Role, type Session, type AuditEntry, type CounterBucket,
  type LegacyImportOutcome, type LegacyMark, type LegacySummary, type ClientChanges, applyClientChanges
} from './types.js'
import { RedisKeyRequests } from './key-requests-redis.js'

// Key layout. Every credential key shares the `{c}` hash tag, and every user
// and role key the `{u}` one, so the scripts and MGETs that touch several of
// them stay in one Redis Cluster slot. Traffic buckets have no hash tag: they
// are written independently and spread over the cluster.
//   <p>{c}:client:<id>      the client, JSON
//   <p>{c}:name:<lower>     client id by lowercased name (uniqueness)
//   <p>{c}:names            sorted set of "<lower name>\0<id>", for listing and search
//   <p>{c}:key:<hmac>       client id by key hash (a TTL while a rotated key is in grace)
//   <p>{c}:keys:<id>        set of the client's key hashes
//   <p>{c}:tok:<hmac>       "<client id> <key hash>" by token hash, with the token's TTL
//   <p>{c}:lastused         hash: client id → last use
//   <p>{c}:legacy           set of the ids of clients imported from the old API manager
//   <p>{c}:legacylen        set of the lengths of their keys
//   <p>{u}:user:<lower>     admin user, JSON
//   <p>{u}:users            set of lowercased user emails, for listing without SCAN
//   <p>{u}:roles            hash: role name → role, JSON
//   <p>{s}:sess:<sha256>    admin session by the SHA-256 of its cookie, JSON, with the session's TTL
//   <p>{a}:audit            list of audit entries, JSON, newest first, capped
//   <p>tr:<bucket>          hash: counter → count (traffic analytics), with the bucket's TTL
//   <p>rl:{<group>}:<key>   a fixed rate-limit window's count, with the window's TTL
//   <p>{procs}              sorted set of live process ids by expiry
//   <p>changes              pub/sub channel of StoreChange
//   <p>{k}:…                key requests (src/store/key-requests-redis.ts)

const RESOLVE = `
local id = redis.call('GET', KEYS[1])
if not id then return nil end
local client = redis.call('GET', ARGV[1] .. id)
if not client then return nil end
return { client, redis.call('PTTL', KEYS[1]) }`

// A token resolves only while the key it was minted with is still its
// client's (rotation deletes the key, or gives it its grace period's TTL),
// and reports the earlier of the two expiries. A token saved before tokens
// named their key (no space in the value) resolves no more.
// ARGV: client key prefix, key prefix.
const RESOLVE_TOKEN = `
local value = redis.call('GET', KEYS[1])
if not value then return nil end
local space = string.find(value, ' ', 1, true)
if not space then return nil end
local id = string.sub(value, 1, space - 1)
local key = ARGV[2] .. string.sub(value, space + 1)
if redis.call('GET', key) ~= id then return nil end
local client = redis.call('GET', ARGV[1] .. id)
if not client then return nil end
local ttl = redis.call('PTTL', KEYS[1])
local keyTtl = redis.call('PTTL', key)
if keyTtl > 0 and (ttl < 0 or keyTtl < ttl) then ttl = keyTtl end
return { client, ttl }`

const CREATE = `
if not redis.call('SET', KEYS[1], ARGV[1], 'NX') then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[3])
redis.call('ZADD', KEYS[5], 0, ARGV[4])
return 1`

// A client of the old API manager: created like CREATE, but only when its
// key hash is nobody's yet (an imported key is not random: it may be
// imported twice), and not at all in a dry run (ARGV[6] = '1').
const IMPORT = `
local owner = redis.call('GET', KEYS[3])
if owner then return { 'key-taken', owner } end
local named = redis.call('GET', KEYS[1])
if named then return { 'name-taken', named } end
if ARGV[6] == '1' then return { 'created' } end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[3])
redis.call('ZADD', KEYS[5], 0, ARGV[4])
redis.call('SADD', KEYS[6], ARGV[1])
redis.call('SADD', KEYS[7], ARGV[5])
return { 'created' }`

// Replaces the client's JSON only if it is still what the caller read
// (the caller retries): cjson would turn empty lists into objects.
const REPLACE_CLIENT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1`

// Deletes a revoked client with its keys, name and index entries.
// KEYS: client, name, keys set, names, legacy set, lastused. ARGV: key prefix, names member, id.
const DELETE_CLIENT = `
local client = redis.call('GET', KEYS[1])
if not client or cjson.decode(client)['revokedAt'] == nil then return 0 end
for _, hash in ipairs(redis.call('SMEMBERS', KEYS[3])) do redis.call('DEL', ARGV[1] .. hash) end
redis.call('DEL', KEYS[1], KEYS[3])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
redis.call('ZREM', KEYS[4], ARGV[2])
redis.call('SREM', KEYS[5], ARGV[3])
redis.call('HDEL', KEYS[6], ARGV[3])
return 1`

// Old keys get a TTL of graceMs (or go at once); expired ones leave the set.
const ROTATE = `
local client = redis.call('GET', KEYS[1])
if not client or cjson.decode(client)['revokedAt'] ~= nil then return 0 end
local grace = tonumber(ARGV[3])
for _, hash in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local key = ARGV[4] .. hash
  local ttl = redis.call('PTTL', key)
  if ttl == -2 or grace <= 0 then
    redis.call('DEL', key)
    redis.call('SREM', KEYS[2], hash)
  elseif ttl == -1 or ttl > grace then
    redis.call('PEXPIRE', key, grace)
  end
end
redis.call('SET', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
return 1`

// Sets revokedAt once, atomically; the JSON is extended as text because
// cjson would turn an empty integrations list into an object.
const REVOKE = `
local client = redis.call('GET', KEYS[1])
if not client then return nil end
if cjson.decode(client)['revokedAt'] ~= nil then return client end
client = string.sub(client, 1, -2) .. ',"revokedAt":' .. cjson.encode(ARGV[1]) .. '}'
redis.call('SET', KEYS[1], client)
return client`

// A plain substring search over one slice of the names set: matches on the
// name part only (before the NUL), no glob rules. Returns the slice's size
// first, so the caller knows when the set is exhausted.
const SEARCH = `
local members = redis.call('ZRANGE', KEYS[1], ARGV[1], ARGV[2])
local out = { #members }
local fragment = ARGV[3]
local wanted = tonumber(ARGV[4])
local length = #fragment
for i = 1, #members do
  local member = members[i]
  local at = string.find(member, fragment, 1, true)
  if at and at + length - 1 < string.find(member, '\\0', 1, true) then
    out[#out + 1] = member
    -- Enough matches: the rest of the slice need not be searched or sent.
    if #out > wanted then break end
  end
end
return out`

// Leases tokens from fixed windows that start at a counter's first token
// (see Store.lease). ARGV: liveProcesses, cap, then limit and window per key.
// Returns the grant, then remaining and ms-to-reset per counter.
const LEASE = `
local processes = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
local used, ttl = {}, {}
local room = nil
for i = 1, #KEYS do
  local limit = tonumber(ARGV[1 + i * 2])
  local t = redis.call('PTTL', KEYS[i])
  local u = 0
  if t > 0 then u = tonumber(redis.call('GET', KEYS[i]) or '0') else t = tonumber(ARGV[2 + i * 2]) end
  used[i] = u
  ttl[i] = t
  if room == nil or limit - u < room then room = limit - u end
end
if room < 0 then room = 0 end
local want = math.floor(room / (4 * processes))
if want < 1 then want = 1 end
if want > cap then want = cap end
local grant = math.min(want, room)
local out = { grant }
for i = 1, #KEYS do
  if grant > 0 then
    if redis.call('INCRBY', KEYS[i], grant) == grant then redis.call('PEXPIRE', KEYS[i], ttl[i]) end
  end
  out[#out + 1] = tonumber(ARGV[1 + i * 2]) - used[i] - grant
  out[#out + 1] = ttl[i]
end
return out`

const RELEASE = `
for i = 1, #KEYS do
  local count = tonumber(redis.call('GET', KEYS[i]) or '0')
  if count > 0 then redis.call('DECRBY', KEYS[i], math.min(count, tonumber(ARGV[1]))) end
end
return 1`

// Redis's clock, so gateways on machines with skewed clocks still agree.
const HEARTBEAT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return redis.call('ZCARD', KEYS[1])`

// The user and the index entry that lists it appear and go together. ARGV[3]
// is NX (create) or XX (replace); on a replace, SADD heals the index for a
// user written before there was one.
const SAVE_USER = `
if not redis.call('SET', KEYS[1], ARGV[1], ARGV[3]) then return 0 end
redis.call('SADD', KEYS[2], ARGV[2])
return 1`

const DELETE_USER = `
local deleted = redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return deleted`

// Trimmed in the same call, so the log can never be left past its cap.
const APPEND_AUDIT = `
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
return 1`

type ScriptResult = [string, number] | null

interface Scripts {
  gerbangResolve: (key: string, clientPrefix: string) => Promise<ScriptResult>
  gerbangResolveToken: (key: string, clientPrefix: string, keyPrefix: string) => Promise<ScriptResult>
  gerbangCreate: (nameKey: string, clientKey: string, keyKey: string, keysKey: string, namesKey: string,
    id: string, json: string, keyHash: string, member: string) => Promise<number>
  gerbangRevoke: (clientKey: string, at: string) => Promise<string | null>
  gerbangImport: (nameKey: string, clientKey: string, keyKey: string, keysKey: string, namesKey: string, legacyKey: string, lengthsKey: string,
    id: string, json: string, keyHash: string, member: string, keyLength: number, dryRun: string) => Promise<[string, string?]>
  gerbangReplaceClient: (clientKey: string, before: string, after: string) => Promise<number>
  gerbangDeleteClient: (clientKey: string, nameKey: string, keysKey: string, namesKey: string, legacyKey: string, lastUsedKey: string,
    keyPrefix: string, member: string, id: string) => Promise<number>
  gerbangLease: (...args: Array<string | number>) => Promise<number[]>
  gerbangRelease: (...args: Array<string | number>) => Promise<number>
  gerbangHeartbeat: (key: string, id: string, ttlMs: number) => Promise<number>
  gerbangSearch: (namesKey: string, start: number, stop: number, fragment: string, wanted: number) => Promise<[number, ...string[]]>
  gerbangRotate: (clientKey: string, keysKey: string, newKeyKey: string,
    id: string, newHash: string, graceMs: string, keyPrefix: string) => Promise<number>
  gerbangSaveUser: (userKey: string, usersKey: string, json: string, email: string, mode: 'NX' | 'XX') => Promise<number>
  gerbangDeleteUser: (userKey: string, usersKey: string, email: string) => Promise<number>
  gerbangAppendAudit: (auditKey: string, json: string, keep: number) => Promise<number>
}

const DEFAULT_LIST_LIMIT = 100
const SEARCH_SLICE = 10_000

export interface RedisStoreOptions {
  url: string
  /** Namespace for every key and the channel; default `gb:`. Tests use their own. */
  prefix?: string
}

export class RedisStore implements Store {
  readonly kind = 'redis'
  readonly #redis: RedisClient & Scripts
  #subscriber: RedisClient | undefined
  readonly #p: string
  readonly #channel: string
  // Key requests: src/store/key-requests-redis.ts.
  readonly #keyRequests: RedisKeyRequests
  readonly createKeyRequest: Store['createKeyRequest'] = async (request, maxPending) => await this.#keyRequests.create(request, maxPending)
  readonly getKeyRequest: Store['getKeyRequest'] = async (id) => await this.#keyRequests.get(id)
  readonly listKeyRequests: Store['listKeyRequests'] = async (options) => await this.#keyRequests.list(options)
  readonly countKeyRequests: Store['countKeyRequests'] = async () => await this.#keyRequests.count()
  readonly updateKeyRequest: Store['updateKeyRequest'] = async (id, from, changes) => await this.#keyRequests.update(id, from, changes)
  readonly findKeyRequestByLink: Store['findKeyRequestByLink'] = async (linkHash) => await this.#keyRequests.findByLink(linkHash)

  constructor (options: RedisStoreOptions) {
    this.#p = options.prefix ?? 'gb:'
    this.#channel = `${this.#p}changes`
    const redis = connectRedis(options.url)
    // Registered once; ioredis sends EVALSHA and falls back to EVAL once per script.
    redis.defineCommand('gerbangResolve', { numberOfKeys: 1, lua: RESOLVE })
    redis.defineCommand('gerbangResolveToken', { numberOfKeys: 1, lua: RESOLVE_TOKEN })
    redis.defineCommand('gerbangCreate', { numberOfKeys: 5, lua: CREATE })
    redis.defineCommand('gerbangRotate', { numberOfKeys: 3, lua: ROTATE })
    redis.defineCommand('gerbangRevoke', { numberOfKeys: 1, lua: REVOKE })
    redis.defineCommand('gerbangImport', { numberOfKeys: 7, lua: IMPORT })
    redis.defineCommand('gerbangReplaceClient', { numberOfKeys: 1, lua: REPLACE_CLIENT })
    redis.defineCommand('gerbangDeleteClient', { numberOfKeys: 6, lua: DELETE_CLIENT })
    redis.defineCommand('gerbangHeartbeat', { numberOfKeys: 1, lua: HEARTBEAT })
    // The number of keys varies: it is passed as the first argument.
    redis.defineCommand('gerbangLease', { lua: LEASE })
    redis.defineCommand('gerbangRelease', { lua: RELEASE })
    redis.defineCommand('gerbangSearch', { numberOfKeys: 1, lua: SEARCH })
    redis.defineCommand('gerbangSaveUser', { numberOfKeys: 2, lua: SAVE_USER })
    redis.defineCommand('gerbangDeleteUser', { numberOfKeys: 2, lua: DELETE_USER })
    redis.defineCommand('gerbangAppendAudit', { numberOfKeys: 1, lua: APPEND_AUDIT })
    // Errors surface through the commands that fail; an 'error' listener keeps
    // ioredis from reporting each reconnect attempt as unhandled.
    redis.on('error', () => {})
    this.#redis = redis as RedisClient & Scripts
    this.#keyRequests = new RedisKeyRequests(redis, this.#p, async (command) => await this.#run(command))
  }

  /** The underlying connection, for health checks and tests. */
  get redis (): Redis | Cluster {
    return this.#redis
  }

  #c (suffix: string): string {
    return `${this.#p}{c}:${suffix}`
  }

  #u (suffix: string): string {
    return `${this.#p}{u}:${suffix}`
  }

  #sess (idHash: string): string {
    return `${this.#p}{s}:sess:${idHash}`
  }

  #tr (bucket: string): string {
    return `${this.#p}tr:${bucket}`
  }

  async createClient (client: Client, keyHash: string): Promise<void> {
    const lower = client.name.toLowerCase()
    const created = await this.#run(async () => await this.#redis.gerbangCreate(
      this.#c(`name:${lower}`), this.#c(`client:${client.id}`), this.#c(`key:${keyHash}`),
      this.#c(`keys:${client.id}`), this.#c('names'),
      client.id, JSON.stringify(client), keyHash, `${lower}\u0000${client.id}`))
    if (created !== 1) throw new StoreConflictError(`a client named '${client.name}' already exists`)
  }

  async getClient (id: string): Promise<Client | undefined> {
    const [json, lastUsed] = await this.#run(async () => await Promise.all([
      this.#redis.get(this.#c(`client:${id}`)),
      this.#redis.hget(this.#c('lastused'), id)
    ]))
    return json === null ? undefined : withLastUsed(JSON.parse(json) as Client, lastUsed)
  }

  async listClients (options: ListClientsOptions = {}): Promise<Client[]> {
    const limit = options.limit ?? DEFAULT_LIST_LIMIT
    const offset = Math.max(0, options.offset ?? 0)
    // ZRANGE 0 -1 would be the whole set, not nothing.
    if (limit <= 0) return []
    const members = await this.#run(async () => options.search === undefined || options.search === ''
      ? await this.#redis.zrange(this.#c('names'), offset, offset + limit - 1)
      : (await this.#searchNames(options.search.toLowerCase(), offset + limit)).slice(offset))
    if (members.length === 0) return []
    const ids = members.map((m) => m.slice(m.indexOf('\u0000') + 1))
    const [jsons, lastUsed] = await this.#run(async () => await Promise.all([
      this.#redis.mget(ids.map((id) => this.#c(`client:${id}`))),
      this.#redis.hmget(this.#c('lastused'), ...ids)
    ]))
    const clients: Client[] = []
    jsons.forEach((json, i) => {
      if (json !== null) clients.push(withLastUsed(JSON.parse(json) as Client, lastUsed[i] ?? null))
    })
    return clients
  }

  // One sorted set holds every name, in name order. It is searched inside
  // Redis a slice at a time: a plain substring match costs about half of a
  // ZSCAN glob (bench/clients.ts), and no single call blocks Redis for long.
  async #searchNames (fragment: string, limit: number): Promise<string[]> {
    const found: string[] = []
    for (let start = 0; ; start += SEARCH_SLICE) {
      const [size, ...matches] = await this.#redis.gerbangSearch(this.#c('names'), start, start + SEARCH_SLICE - 1, fragment, limit - found.length)
      found.push(...matches)
      // Slices come in name order, so the first `limit` matches are the answer.
      if (found.length >= limit || size < SEARCH_SLICE) break
    }
    return found.slice(0, limit)
  }

  async countClients (): Promise<number> {
    return await this.#run(async () => await this.#redis.zcard(this.#c('names')))
  }

  async revokeClient (id: string, at: string): Promise<Client | undefined> {
    const [json, lastUsed] = await this.#run(async () => await Promise.all([
      this.#redis.gerbangRevoke(this.#c(`client:${id}`), at),
      this.#redis.hget(this.#c('lastused'), id)
    ]))
    return json === null ? undefined : withLastUsed(JSON.parse(json) as Client, lastUsed)
  }

  async rotateKey (id: string, newKeyHash: string, graceMs: number): Promise<boolean> {
    const done = await this.#run(async () => await this.#redis.gerbangRotate(
      this.#c(`client:${id}`), this.#c(`keys:${id}`), this.#c(`key:${newKeyHash}`),
      id, newKeyHash, String(Math.max(0, Math.round(graceMs))), this.#c('key:')))
    return done === 1
  }

  async resolveKey (keyHash: string): Promise<ResolvedCredential | undefined> {
    return await this.#resolve(this.#c(`key:${keyHash}`))
  }

  async touchClients (lastUsed: ReadonlyMap<string, string>): Promise<void> {
    if (lastUsed.size === 0) return
    await this.#run(async () => await this.#redis.hset(this.#c('lastused'), Object.fromEntries(lastUsed)))
  }

  async updateClient (id: string, changes: ClientChanges): Promise<Client | undefined> {
    return await this.#replaceClient(id, (client) => applyClientChanges(client, changes), 'edited')
  }

  /**
   * Compare and set of one client's JSON: `change` is applied to what was
   * read, and a write landing in between (a revoke) makes it read again.
   */
  async #replaceClient (id: string, change: (client: Client) => Client, what: string): Promise<Client | undefined> {
    const key = this.#c(`client:${id}`)
    for (let attempt = 0; attempt < 10; attempt++) {
      const [before, lastUsed] = await this.#run(async () => await Promise.all([
        this.#redis.get(key),
        this.#redis.hget(this.#c('lastused'), id)
      ]))
      if (before === null) return undefined
      const client = change(JSON.parse(before) as Client)
      if (await this.#run(async () => await this.#redis.gerbangReplaceClient(key, before, JSON.stringify(client))) === 1) {
        return withLastUsed(client, lastUsed)
      }
    }
    throw new StoreUnavailableError(`the client ${id} kept changing while it was being ${what}`)
  }

  async deleteClient (id: string): Promise<boolean> {
    const json = await this.#run(async () => await this.#redis.get(this.#c(`client:${id}`)))
    if (json === null) return false
    const lower = (JSON.parse(json) as Client).name.toLowerCase()
    const deleted = await this.#run(async () => await this.#redis.gerbangDeleteClient(
      this.#c(`client:${id}`), this.#c(`name:${lower}`), this.#c(`keys:${id}`), this.#c('names'), this.#c('legacy'), this.#c('lastused'),
      this.#c('key:'), `${lower}\u0000${id}`, id))
    return deleted === 1
  }

  async importClient (client: Client, keyHash: string, keyLength: number, dryRun: boolean): Promise<LegacyImportOutcome> {
    const lower = client.name.toLowerCase()
    const [outcome, clientId] = await this.#run(async () => await this.#redis.gerbangImport(
      this.#c(`name:${lower}`), this.#c(`client:${client.id}`), this.#c(`key:${keyHash}`),
      this.#c(`keys:${client.id}`), this.#c('names'), this.#c('legacy'), this.#c('legacylen'),
      client.id, JSON.stringify(client), keyHash, `${lower}\u0000${client.id}`, keyLength, dryRun ? '1' : '0'))
    if (outcome === 'key-taken' || outcome === 'name-taken') return { outcome, clientId: clientId ?? '' }
    return { outcome: 'created' }
  }

  async legacySummary (): Promise<LegacySummary> {
    const [clients, lengths] = await this.#run(async () => await Promise.all([
      this.#redis.scard(this.#c('legacy')),
      this.#redis.smembers(this.#c('legacylen'))
    ]))
    return { clients, keyLengths: lengths.map(Number).sort((a, b) => a - b) }
  }

  async setLegacyMark (id: string, mark: LegacyMark): Promise<Client | undefined> {
    return await this.#replaceClient(id, (client) => ({ ...client, legacy: mark }), 'given its legacy mark')
  }

  async saveToken (tokenHash: string, clientId: string, keyHash: string, ttlMs: number): Promise<void> {
    await this.#run(async () => await this.#redis.set(this.#c(`tok:${tokenHash}`), `${clientId} ${keyHash}`, 'PX', ms(ttlMs)))
  }

  async resolveToken (tokenHash: string): Promise<ResolvedCredential | undefined> {
    const found = await this.#run(async () => await this.#redis.gerbangResolveToken(this.#c(`tok:${tokenHash}`), this.#c('client:'), this.#c('key:')))
    return resolved(found)
  }

  async createUser (user: User): Promise<void> {
    const email = user.email.toLowerCase()
    const created = await this.#run(async () =>
      await this.#redis.gerbangSaveUser(this.#u(`user:${email}`), this.#u('users'), JSON.stringify(user), email, 'NX'))
    if (created !== 1) throw new StoreConflictError(`a user with email '${user.email}' already exists`)
  }

  async getUser (email: string): Promise<User | undefined> {
    const json = await this.#run(async () => await this.#redis.get(this.#u(`user:${email.toLowerCase()}`)))
    return json === null ? undefined : JSON.parse(json) as User
  }

  async listUsers (): Promise<User[]> {
    const emails = (await this.#run(async () => await this.#redis.smembers(this.#u('users')))).sort()
    if (emails.length === 0) return []
    const jsons = await this.#run(async () => await this.#redis.mget(emails.map((email) => this.#u(`user:${email}`))))
    return jsons.filter((json) => json !== null).map((json) => JSON.parse(json) as User)
  }

  async updateUser (user: User): Promise<boolean> {
    const email = user.email.toLowerCase()
    const updated = await this.#run(async () =>
      await this.#redis.gerbangSaveUser(this.#u(`user:${email}`), this.#u('users'), JSON.stringify(user), email, 'XX'))
    return updated === 1
  }

  async deleteUser (email: string): Promise<boolean> {
    const lower = email.toLowerCase()
    const deleted = await this.#run(async () =>
      await this.#redis.gerbangDeleteUser(this.#u(`user:${lower}`), this.#u('users'), lower))
    return deleted === 1
  }

  async listRoles (): Promise<Role[]> {
    const jsons = await this.#run(async () => await this.#redis.hvals(this.#u('roles')))
    return jsons.map((json) => JSON.parse(json) as Role).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  }

  async getRole (name: string): Promise<Role | undefined> {
    const json = await this.#run(async () => await this.#redis.hget(this.#u('roles'), name))
    return json === null ? undefined : JSON.parse(json) as Role
  }

  async saveRole (role: Role): Promise<void> {
    await this.#run(async () => await this.#redis.hset(this.#u('roles'), role.name, JSON.stringify(role)))
  }

  async deleteRole (name: string): Promise<boolean> {
    return await this.#run(async () => await this.#redis.hdel(this.#u('roles'), name)) === 1
  }

  async saveSession (idHash: string, session: Session, ttlMs: number): Promise<void> {
    await this.#run(async () => await this.#redis.set(this.#sess(idHash), JSON.stringify(session), 'PX', ms(ttlMs)))
  }

  async getSession (idHash: string): Promise<Session | undefined> {
    const json = await this.#run(async () => await this.#redis.get(this.#sess(idHash)))
    return json === null ? undefined : JSON.parse(json) as Session
  }

  async touchSession (idHash: string, ttlMs: number): Promise<void> {
    await this.#run(async () => await this.#redis.pexpire(this.#sess(idHash), ms(ttlMs)))
  }

  async deleteSession (idHash: string): Promise<void> {
    await this.#run(async () => await this.#redis.del(this.#sess(idHash)))
  }

  async appendAudit (entry: AuditEntry): Promise<void> {
    await this.#run(async () => await this.#redis.gerbangAppendAudit(`${this.#p}{a}:audit`, JSON.stringify(entry), AUDIT_KEEP))
  }

  async listAudit (offset: number, limit: number): Promise<AuditEntry[]> {
    // LRANGE with a stop of -1 would read to the end, not nothing.
    if (limit <= 0) return []
    const start = Math.max(0, offset)
    const jsons = await this.#run(async () => await this.#redis.lrange(`${this.#p}{a}:audit`, start, start + limit - 1))
    return jsons.map((json) => JSON.parse(json) as AuditEntry)
  }

  async addCounts (buckets: readonly CounterBucket[]): Promise<void> {
    // One command at a time, never a MULTI: buckets may live in different
    // Cluster slots. Auto-pipelining sends them together all the same.
    await this.#run(async () => {
      const sent: Array<Promise<unknown>> = []
      for (const { bucket, ttlMs, counts } of buckets) {
        const key = this.#tr(bucket)
        let written = false
        for (const [field, count] of counts) {
          if (count === 0) continue
          sent.push(this.#redis.hincrby(key, field, count))
          written = true
        }
        // After the increments on the same connection, so the hash exists by then.
        if (written) sent.push(this.#redis.pexpire(key, ms(ttlMs)))
      }
      await Promise.all(sent)
    })
  }

  async readCounts (buckets: readonly string[]): Promise<Array<Map<string, number>>> {
    const hashes = await this.#run(async () => await Promise.all(buckets.map(async (bucket) => await this.#redis.hgetall(this.#tr(bucket)))))
    return hashes.map((hash) => new Map(Object.entries(hash).map(([field, count]) => [field, Number(count)])))
  }

  async readCountFields (bucket: string, fields: readonly string[]): Promise<number[]> {
    // HMGET needs at least one field.
    if (fields.length === 0) return []
    const counts = await this.#run(async () => await this.#redis.hmget(this.#tr(bucket), ...fields))
    return counts.map((count) => count === null ? 0 : Number(count))
  }

  async lease (group: string, counters: readonly WindowCounter[], liveProcesses: number, cap: number): Promise<Lease> {
    // <p>rl:{<group>}:<key>: one hash tag per client, so a client's counters
    // share a Cluster slot while different clients spread over the cluster.
    const args: Array<string | number> = [counters.length]
    for (const c of counters) args.push(`${this.#p}rl:{${group}}:${c.key}`)
    args.push(Math.max(1, liveProcesses), cap)
    for (const c of counters) args.push(c.limit, c.windowMs)
    const flat = await this.#run(async () => await this.#redis.gerbangLease(...args))
    const remaining: number[] = []
    const resetMs: number[] = []
    for (let i = 1; i < flat.length; i += 2) {
      remaining.push(flat[i] as number)
      resetMs.push(flat[i + 1] as number)
    }
    return { granted: flat[0] as number, remaining, resetMs }
  }

  async release (group: string, keys: readonly string[], tokens: number): Promise<void> {
    if (keys.length === 0 || tokens <= 0) return
    await this.#run(async () => await this.#redis.gerbangRelease(keys.length, ...keys.map((k) => `${this.#p}rl:{${group}}:${k}`), tokens))
  }

  async heartbeat (processId: string, ttlMs: number): Promise<number> {
    return await this.#run(async () => await this.#redis.gerbangHeartbeat(`${this.#p}{procs}`, processId, ttlMs))
  }

  async publishChange (change: StoreChange): Promise<void> {
    await this.#run(async () => await this.#redis.publish(this.#channel, JSON.stringify(change)))
  }

  async subscribe (onChange: (change: StoreChange) => void, onResync: () => void): Promise<void> {
    const subscriber = this.#redis.duplicate()
    this.#subscriber = subscriber
    subscriber.on('error', () => {})
    // With the offline queue off, SUBSCRIBE before the connection is up would
    // be dropped: subscribe on every 'ready', and treat every 'ready' after
    // the first as a gap in which changes may have been missed.
    let connectedBefore = false
    let subscribed: () => void = () => {}
    const listen = (): void => {
      subscriber.subscribe(this.#channel).then(() => { subscribed() }, () => {})
    }
    subscriber.on('ready', () => {
      listen()
      if (connectedBefore) onResync()
      connectedBefore = true
    })
    subscriber.on('message', (_channel: string, message: string) => {
      try {
        onChange(JSON.parse(message) as StoreChange)
      } catch { /* not ours */ }
    })
    // Returns once subscribed, so a change published right after is seen;
    // with Redis down it returns after a while and subscribes when it can.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2000)
      subscribed = () => { clearTimeout(timer); resolve() }
      if (subscriber.status === 'ready') {
        connectedBefore = true
        listen()
      }
    })
  }

  isAvailable (): boolean {
    return this.#redis.status === 'ready'
  }

  async close (): Promise<void> {
    await Promise.all([this.#redis, this.#subscriber].map(async (r) => {
      if (r === undefined) return
      try {
        await r.quit()
      } catch {
        r.disconnect()
      }
    }))
  }

  async #resolve (key: string): Promise<ResolvedCredential | undefined> {
    return resolved(await this.#run(async () => await this.#redis.gerbangResolve(key, this.#c('client:'))))
  }

  /** Runs a command; connection failures and timeouts become StoreUnavailableError. */
  async #run<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command()
    } catch (err) {
      if (err instanceof StoreConflictError) throw err
      const message = (err as Error).message
      // Script and data errors are bugs, not outages.
      if (/^(ERR|WRONGTYPE|NOSCRIPT)/.test(message)) throw err
      throw new StoreUnavailableError(`the store is unavailable: ${message}`, { cause: err })
    }
  }
}

/** A client and the remaining life of the credential it was found by, as the resolve scripts answer. */
function resolved (found: ScriptResult): ResolvedCredential | undefined {
  if (found === null) return undefined
  const [json, pttl] = found
  return { client: JSON.parse(json) as Client, expiresAt: pttl > 0 ? Date.now() + pttl : undefined }
}

/** A TTL Redis accepts: a whole number of ms, at least 1. */
function ms (ttlMs: number): number {
  return Math.max(1, Math.round(ttlMs))
}

function withLastUsed (client: Client, lastUsed: string | null): Client {
  if (lastUsed !== null) client.lastUsedAt = lastUsed
  return client
}
