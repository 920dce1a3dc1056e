import type { RedisClient } from './connection.js'

// Every Lua script of RedisStore, and the commands they become (ioredis
// sends EVALSHA, and EVAL once per script when Redis does not know it yet).
// Each touches keys of one hash tag only (src/store/redis/keys.ts), so it
// stays in one Redis Cluster slot. The JSON a script writes is built in
// JavaScript and swapped by compare-and-set where cjson would turn an empty
// list into an object.

// --- Credentials (redis/credentials.ts) ---

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

// --- Rate-limit windows and the heartbeat (redis/limits.ts) ---

// Leases tokens from fixed windows that start at a counter's first token
// (see LimitStore.lease, src/store/limits.ts). ARGV: liveProcesses, cap,
// then limit and window per key. Returns the grant, then remaining and
// ms-to-reset per counter.
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

// --- Users and the audit log (redis/admin.ts) ---

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

// --- Key requests (redis/key-requests.ts) ---

// KEYS: request, every request, pending. ARGV: json, id, score, max pending.
const CREATE_KEY_REQUEST = `
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[4]) then return 0 end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX') then return -1 end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
return 1`

// KEYS: request, its status's set, the new status's set, the old link, the new link.
// ARGV: JSON read, JSON to write, id, score, drop the old link ('1'), index the new one ('1').
const UPDATE_KEY_REQUEST = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
if KEYS[2] ~= KEYS[3] then
  redis.call('ZREM', KEYS[2], ARGV[3])
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
end
if ARGV[5] == '1' then redis.call('DEL', KEYS[4]) end
if ARGV[6] == '1' then redis.call('SET', KEYS[5], ARGV[3]) end
return 1`

/** A client and the PTTL of the credential it was found by, as the resolve scripts answer. */
export type ScriptResult = [string, number] | null

/** The commands defineScripts adds. */
export interface Scripts {
  gerbangResolve: (key: string, clientPrefix: string) => Promise<ScriptResult>
  gerbangResolveToken: (key: string, clientPrefix: string, keyPrefix: string) => Promise<ScriptResult>
  gerbangCreate: (nameKey: string, clientKey: string, keyKey: string, keysKey: string, namesKey: string,
    id: string, json: string, keyHash: string, member: string) => Promise<number>
  gerbangRevoke: (clientKey: string, at: string) => Promise<string | null>
  gerbangImport: (nameKey: string, clientKey: string, keyKey: string, keysKey: string, namesKey: string,
    legacyKey: string, lengthsKey: string,
    id: string, json: string, keyHash: string, member: string, keyLength: number,
    dryRun: string) => Promise<[string, string?]>
  gerbangReplaceClient: (clientKey: string, before: string, after: string) => Promise<number>
  gerbangDeleteClient: (clientKey: string, nameKey: string, keysKey: string, namesKey: string, legacyKey: string,
    lastUsedKey: string,
    keyPrefix: string, member: string, id: string) => Promise<number>
  gerbangLease: (...args: Array<string | number>) => Promise<number[]>
  gerbangRelease: (...args: Array<string | number>) => Promise<number>
  gerbangHeartbeat: (key: string, id: string, ttlMs: number) => Promise<number>
  gerbangSearch: (namesKey: string,
    start: number, stop: number, fragment: string, wanted: number) => Promise<[number, ...string[]]>
  gerbangRotate: (clientKey: string, keysKey: string, newKeyKey: string,
    id: string, newHash: string, graceMs: string, keyPrefix: string) => Promise<number>
  gerbangSaveUser: (userKey: string, usersKey: string, json: string, email: string, mode: 'NX' | 'XX') => Promise<number>
  gerbangDeleteUser: (userKey: string, usersKey: string, email: string) => Promise<number>
  gerbangAppendAudit: (auditKey: string, json: string, keep: number) => Promise<number>
  gerbangCreateKeyRequest: (request: string, all: string, pending: string,
    json: string, id: string, score: number, maxPending: number) => Promise<number>
  gerbangUpdateKeyRequest: (request: string, from: string, to: string, oldLink: string, newLink: string,
    before: string, after: string, id: string, score: number, dropLink: string, setLink: string) => Promise<number>
}

/** A connection that has the scripts as commands. */
export type ScriptedRedis = RedisClient & Scripts

/** Registers every script on `redis`, once per connection. */
export function defineScripts (redis: RedisClient): ScriptedRedis {
  redis.defineCommand('gerbangResolve', { numberOfKeys: 1, lua: RESOLVE })
  redis.defineCommand('gerbangResolveToken', { numberOfKeys: 1, lua: RESOLVE_TOKEN })
  redis.defineCommand('gerbangCreate', { numberOfKeys: 5, lua: CREATE })
  redis.defineCommand('gerbangRotate', { numberOfKeys: 3, lua: ROTATE })
  redis.defineCommand('gerbangRevoke', { numberOfKeys: 1, lua: REVOKE })
  redis.defineCommand('gerbangImport', { numberOfKeys: 7, lua: IMPORT })
  redis.defineCommand('gerbangReplaceClient', { numberOfKeys: 1, lua: REPLACE_CLIENT })
  redis.defineCommand('gerbangDeleteClient', { numberOfKeys: 6, lua: DELETE_CLIENT })
  redis.defineCommand('gerbangSearch', { numberOfKeys: 1, lua: SEARCH })
  redis.defineCommand('gerbangHeartbeat', { numberOfKeys: 1, lua: HEARTBEAT })
  // The number of keys varies: it is passed as the first argument.
  redis.defineCommand('gerbangLease', { lua: LEASE })
  redis.defineCommand('gerbangRelease', { lua: RELEASE })
  redis.defineCommand('gerbangSaveUser', { numberOfKeys: 2, lua: SAVE_USER })
  redis.defineCommand('gerbangDeleteUser', { numberOfKeys: 2, lua: DELETE_USER })
  redis.defineCommand('gerbangAppendAudit', { numberOfKeys: 1, lua: APPEND_AUDIT })
  redis.defineCommand('gerbangCreateKeyRequest', { numberOfKeys: 3, lua: CREATE_KEY_REQUEST })
  redis.defineCommand('gerbangUpdateKeyRequest', { numberOfKeys: 5, lua: UPDATE_KEY_REQUEST })
  return redis as ScriptedRedis
}
