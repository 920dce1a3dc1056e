// RedisStore's key layout, in one place for its parts and for `gerbang
// migrate --to-redis` (src/store/migrate.ts). Every credential key shares
// the `{c}` hash tag, and every user and role key the `{u}` one, so the
// scripts and MGETs that touch several of them stay in one Redis Cluster
// slot. Traffic buckets have no hash tag: they are written independently and
// spread over the cluster. Existing stores are read with these names: they
// never change.
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
//   <p>{k}:req:<id>         a key request, JSON
//   <p>{k}:reqs             sorted set of every key request id by creation time (ms)
//   <p>{k}:reqs:<status>    the same, per status (ZCARD of pending is the queue's length)
//   <p>{k}:link:<sha256>    key request id by its one-time link's hash
//   <p>tr:<bucket>          hash: counter → count (traffic analytics), with the bucket's TTL
//   <p>rl:{<group>}:<key>   a fixed rate-limit window's count, with the window's TTL
//   <p>{procs}              sorted set of live process ids by expiry
//   <p>changes              pub/sub channel of StoreChange

/** The names of one RedisStore's keys, under its prefix (`gb:` unless told). */
export class RedisKeys {
  readonly prefix: string

  constructor (prefix: string) {
    this.prefix = prefix
  }

  /** A credential key: `<p>{c}:<suffix>`. */
  c (suffix: string): string {
    return `${this.prefix}{c}:${suffix}`
  }

  /** A user or role key: `<p>{u}:<suffix>`. */
  u (suffix: string): string {
    return `${this.prefix}{u}:${suffix}`
  }

  /** A key-request key: `<p>{k}:<suffix>`. */
  k (suffix: string): string {
    return `${this.prefix}{k}:${suffix}`
  }

  session (idHash: string): string {
    return `${this.prefix}{s}:sess:${idHash}`
  }

  audit (): string {
    return `${this.prefix}{a}:audit`
  }

  traffic (bucket: string): string {
    return `${this.prefix}tr:${bucket}`
  }

  /**
   * One hash tag per group (a client), so a client's counters share a Cluster slot while clients spread over the
   * cluster.
   */
  window (group: string, key: string): string {
    return `${this.prefix}rl:{${group}}:${key}`
  }

  processes (): string {
    return `${this.prefix}{procs}`
  }

  channel (): string {
    return `${this.prefix}changes`
  }
}

/** The member of `<p>{c}:names` for a client: its lowercased name, NUL, its id. */
export function nameMember (lowerName: string, id: string): string {
  return `${lowerName}\u0000${id}`
}
