// The store contract: everything Gerbang keeps outside one process (clients,
// their key hashes, OAuth2 tokens, admin users; later roles and counters).
// Three implementations pass the same contract suite (test/store/): Redis for
// several machines, the embedded one on disk (SQLite, src/store/disk-store.ts)
// for one server and the demo, and an in-memory one for in-process tests.
//
// Secrets never reach the store: keys and tokens arrive as HMAC-SHA256 hashes
// (src/auth/secrets.ts), passwords as scrypt hashes.

import type { KeyRequest, KeyRequestChanges, KeyRequestStatus, ListKeyRequestsOptions } from './key-requests.js'

export { KEY_REQUEST_STATUSES, type KeyRequest, type KeyRequestChanges, type KeyRequestStatus, type ListKeyRequestsOptions } from './key-requests.js'

/** A client application allowed to call integrations. Dates are ISO 8601 UTC with milliseconds. */
export interface Client {
  id: string
  name: string
  description: string
  /** Integration names it may call, or '*' for all. */
  integrations: string[] | '*'
  /** Overrides the integration's rate limit for this client, e.g. `100/1m`. */
  rateLimit?: string
  /** A quota across all integrations, e.g. `10000/1d`, reported as the `daily` policy. */
  quota?: string
  expiresAt?: string
  /** CIDRs the client may call from; absent means anywhere. */
  allowedIps?: string[]
  createdAt: string
  revokedAt?: string
  lastUsedAt?: string
  /** Set on clients imported from the old API manager (`gerbang import legacy`, CONTRACT.md section 10). */
  legacy?: LegacyMark
  /** The last 4 characters of its newest key, shown as `gb_…joL8` so people can tell keys apart; never more. */
  keyHint?: string
}

/** What updateClient may change; a field set to null is removed (no rate limit, no expiry…). */
export type ClientChanges = {
  [K in 'description' | 'integrations' | 'rateLimit' | 'quota' | 'expiresAt' | 'allowedIps' | 'keyHint']?: Client[K] | null
}

/** Applies ClientChanges to a copy of a client (every store implementation does it the same way). */
export function applyClientChanges (client: Client, changes: ClientChanges): Client {
  const next: Record<string, unknown> = { ...client }
  for (const [field, value] of Object.entries(changes)) {
    if (value === undefined) continue
    if (value === null) delete next[field]
    else next[field] = value
  }
  return next as unknown as Client
}

/**
 * What an import from the old API manager leaves on a client: its old key
 * (stored only as its HMAC, like any key) is accepted because of this mark.
 */
export interface LegacyMark {
  /** The row's `id` in the old manager's `keys` table. */
  id: string
  /** When it was imported. */
  importedAt: string
  /** When an operator rotated it to a Gerbang key. */
  rotatedAt?: string
  /** Until when the old key keeps working after that rotation (its grace). */
  oldKeyUntil?: string
}

/** What importClient did, or in a dry run would do. */
export type LegacyImportOutcome =
  | { outcome: 'created' }
  /** The key hash already belongs to a client (imported before, or a clash). */
  | { outcome: 'key-taken', clientId: string }
  /** Another client has the name, compared case-insensitively. */
  | { outcome: 'name-taken', clientId: string }

/** The imported clients as the gateway needs to know them. */
export interface LegacySummary {
  /** How many clients were ever imported (revoked ones included). */
  clients: number
  /** The lengths of the imported keys: a key of another length cannot be one. */
  keyLengths: number[]
}

/** A client found through one of its credentials, and how long that credential lives. */
export interface ResolvedCredential {
  client: Client
  /** Epoch ms at which the credential (token, or rotated key in its grace period) dies; undefined for none. */
  expiresAt: number | undefined
}

/** Every permission an admin role can grant; each admin API route needs one. */
export const PERMISSIONS = [
  'clients:read', 'clients:write', 'users:read', 'users:write', 'roles:write', 'audit:read', 'routes:read'
] as const
export type Permission = typeof PERMISSIONS[number]

/** A named set of permissions. The built-in roles live in code (src/admin/rbac.ts); the store holds the others. */
export interface Role {
  name: string
  description: string
  permissions: Permission[]
  createdAt: string
  updatedAt?: string
}

/** An admin-UI user. */
export interface User {
  email: string
  name: string
  /** A built-in role (`admin`, `operator`, `viewer`) or a stored one. */
  role: string
  /** `scrypt$N$r$p$salt$hash`, base64 parts (src/auth/passwords.ts). */
  passwordHash: string
  createdAt: string
  updatedAt?: string
  /** Bumped when the password changes, so older sessions end. */
  sessionEpoch?: number
}

/** A signed-in admin session, found by the hash of its cookie. */
export interface Session {
  email: string
  /** Sent back in `x-csrf-token` on every state-changing request. */
  csrfToken: string
  /** The user's sessionEpoch when the session began. */
  epoch: number
  createdAt: string
  /** Epoch ms after which the session ends whatever its activity. */
  absoluteExpiry: number
}

/** One line of the audit log: who did what to which thing, when. */
export interface AuditEntry {
  /** ISO 8601 UTC with milliseconds. */
  at: string
  /** The admin's email, `cli` for the command line, or `system` for the gateway itself (the first admin). */
  actor: string
  /** e.g. `client.create`, `client.revoke`, `client.rotate`, `user.create`, `user.update`, `user.delete`, `role.create`, `role.update`, `role.delete`, `session.login`, `keyRequest.create`. */
  action: string
  targetType: 'client' | 'user' | 'role' | 'session' | 'keyRequest'
  targetId: string
  /** A readable name for the target (the client's name, the user's email). */
  targetName: string
  /** What changed, never a secret. */
  details?: Record<string, string | number | boolean | string[]>
}

/** How many audit entries a store keeps: the newest ones. */
export const AUDIT_KEEP = 100_000

/** Counter increments for one bucket (a hash of named counters) that lives ttlMs after its last write. */
export interface CounterBucket {
  bucket: string
  ttlMs: number
  counts: ReadonlyMap<string, number>
}

export interface ListClientsOptions {
  /** A case-insensitive fragment of the client's name. */
  search?: string
  /** At most this many clients, sorted by name; default 100. */
  limit?: number
  /** Skips this many (matching) clients first; default 0. */
  offset?: number
}

/** What changed, announced to every gateway process so their caches drop it. */
export interface StoreChange {
  clientId: string
  /**
   * Set (with clientId '') once `gerbang import legacy` created clients:
   * processes reread legacySummary and forget the keys they remember as unknown.
   */
  legacyImport?: boolean
}

/** One fixed-window counter: its key, limit and window. */
export interface WindowCounter {
  key: string
  limit: number
  windowMs: number
}

/** What a lease got: tokens granted, and each counter's remaining room and time to reset after it. */
export interface Lease {
  granted: number
  remaining: number[]
  resetMs: number[]
}

export interface Store {
  /** 'redis', 'disk' or 'memory', for logs and /readyz. */
  readonly kind: string

  /**
   * Creates a client with its first key. Fails with StoreConflictError when
   * another client has the same name, compared case-insensitively.
   */
  createClient: (client: Client, keyHash: string) => Promise<void>
  getClient: (id: string) => Promise<Client | undefined>
  listClients: (options?: ListClientsOptions) => Promise<Client[]>
  /** Marks the client revoked; its keys and tokens stop resolving. Undefined when it does not exist. */
  revokeClient: (id: string, at: string) => Promise<Client | undefined>
  /**
   * Gives the client a new key. Its current keys keep working for `graceMs`
   * (0: they stop at once). False when the client does not exist or is revoked.
   */
  rotateKey: (id: string, newKeyHash: string, graceMs: number) => Promise<boolean>
  /** The client a key hash belongs to, in one round trip. Revoked clients resolve too: the caller decides. */
  resolveKey: (keyHash: string) => Promise<ResolvedCredential | undefined>
  /** Records when clients were last seen (batched by the caller). */
  touchClients: (lastUsed: ReadonlyMap<string, string>) => Promise<void>
  /**
   * Changes a client's editable fields (ClientChanges; null removes one),
   * revoked ones too (an edit never undoes a revoke). The client as it is
   * now, or undefined when it does not exist.
   */
  updateClient: (id: string, changes: ClientChanges) => Promise<Client | undefined>
  /**
   * Deletes a revoked client with its key hashes (its tokens stop resolving)
   * and frees its name. False when it does not exist or is not revoked.
   */
  deleteClient: (id: string) => Promise<boolean>

  /**
   * Creates a client imported from the old API manager, with its old key's
   * hash, atomically and only when neither the key hash nor the name
   * (case-insensitively) is taken; `dryRun` checks the same and writes
   * nothing. Records the client as legacy and `keyLength` among the
   * imported keys' lengths (legacySummary).
   */
  importClient: (client: Client, keyHash: string, keyLength: number, dryRun: boolean) => Promise<LegacyImportOutcome>
  /** How many clients were imported, and the lengths of their keys. */
  legacySummary: () => Promise<LegacySummary>
  /** Replaces a client's legacy mark; the client as it is now, or undefined when it does not exist. */
  setLegacyMark: (id: string, mark: LegacyMark) => Promise<Client | undefined>

  /**
   * Saves an OAuth2 token for ttlMs, bound to the key it was minted with
   * (`keyHash`, a key of `clientId`): rotating a key ends its tokens
   * (CONTRACT.md section 15).
   */
  saveToken: (tokenHash: string, clientId: string, keyHash: string, ttlMs: number) => Promise<void>
  /**
   * The client a token hash belongs to, in one round trip; undefined once
   * the token expired, and once the key it was minted with no longer
   * resolves to the same client (rotated away, or past its grace period).
   * `expiresAt` is the earlier of the token's expiry and that key's.
   */
  resolveToken: (tokenHash: string) => Promise<ResolvedCredential | undefined>

  /** How many clients exist, revoked ones included. */
  countClients: () => Promise<number>

  /** Fails with StoreConflictError when the email exists (compared ignoring case). */
  createUser: (user: User) => Promise<void>
  getUser: (email: string) => Promise<User | undefined>
  /** Every user, sorted by email. */
  listUsers: () => Promise<User[]>
  /** Replaces an existing user (matched by email, ignoring case); false when there is none. */
  updateUser: (user: User) => Promise<boolean>
  /** False when there was no such user. */
  deleteUser: (email: string) => Promise<boolean>

  /** The stored (non-built-in) roles, sorted by name. */
  listRoles: () => Promise<Role[]>
  getRole: (name: string) => Promise<Role | undefined>
  /** Creates or replaces a role. */
  saveRole: (role: Role) => Promise<void>
  /** False when there was no such role. */
  deleteRole: (name: string) => Promise<boolean>

  /** Sessions by the hash of their cookie value; they vanish ttlMs after the last save or touch. */
  saveSession: (idHash: string, session: Session, ttlMs: number) => Promise<void>
  getSession: (idHash: string) => Promise<Session | undefined>
  touchSession: (idHash: string, ttlMs: number) => Promise<void>
  deleteSession: (idHash: string) => Promise<void>

  /** Appends to the audit log, which keeps the newest AUDIT_KEEP entries. */
  appendAudit: (entry: AuditEntry) => Promise<void>
  /** Newest first. */
  listAudit: (offset: number, limit: number) => Promise<AuditEntry[]>

  /**
   * Adds to named counters (traffic analytics), written in batches off the
   * hot path. Each bucket's TTL restarts with every write.
   */
  addCounts: (buckets: readonly CounterBucket[]) => Promise<void>
  /** Every counter of each bucket (empty maps for missing buckets), in the order asked. */
  readCounts: (buckets: readonly string[]) => Promise<Array<Map<string, number>>>
  /** Chosen counters of one bucket (0 when missing), in the order asked. */
  readCountFields: (bucket: string, fields: readonly string[]) => Promise<number[]>

  /**
   * Takes tokens from every counter at once, atomically and in one round
   * trip: as many as all of them have room for, up to a share of that room
   * (room ÷ (4 × liveProcesses), at least 1, at most `cap`) so that processes
   * sharing a limit each get some. Windows start at a counter's first token.
   * All keys of one call share a partition (`group`), so they stay in one
   * Redis Cluster slot.
   */
  lease: (group: string, counters: readonly WindowCounter[], liveProcesses: number, cap: number) => Promise<Lease>
  /**
   * Gives back tokens leased but not spent, to counters whose windows are
   * still running (a daily quota outlives the minute window of its lease).
   */
  release: (group: string, keys: readonly string[], tokens: number) => Promise<void>
  /** Announces this process as alive for ttlMs and answers how many are alive now. */
  heartbeat: (processId: string, ttlMs: number) => Promise<number>

  /** Tells every process sharing the store (this one included) that a client changed. */
  publishChange: (change: StoreChange) => Promise<void>
  /**
   * Listens for changes. `onResync` is called when changes may have been
   * missed (the connection to the store was lost and is back): drop everything cached.
   */
  subscribe: (onChange: (change: StoreChange) => void, onResync: () => void) => Promise<void>

  /**
   * Adds a pending key request, unless `maxPending` requests are pending
   * already (false then, nothing written); atomic, so a flood cannot pass it.
   */
  createKeyRequest: (request: KeyRequest, maxPending: number) => Promise<boolean>
  getKeyRequest: (id: string) => Promise<KeyRequest | undefined>
  /** Newest first (ties: by id, descending). */
  listKeyRequests: (options?: ListKeyRequestsOptions) => Promise<KeyRequest[]>
  /** How many requests are in each status. */
  countKeyRequests: () => Promise<Record<KeyRequestStatus, number>>
  /**
   * Applies `changes` to a request only while it is still in status `from`,
   * atomically (two operators deciding at once, a link opened twice at
   * once: one wins). The request as it is now, or undefined when it does not
   * exist or has left `from`. A new `linkHash` replaces the old one in the
   * index findKeyRequestByLink reads.
   */
  updateKeyRequest: (id: string, from: KeyRequestStatus, changes: KeyRequestChanges) => Promise<KeyRequest | undefined>
  /** The request whose current one-time link has this hash. */
  findKeyRequestByLink: (linkHash: string) => Promise<KeyRequest | undefined>

  /** Whether the store answers right now (no waiting). */
  isAvailable: () => boolean
  close: () => Promise<void>
}

export class StoreConflictError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'StoreConflictError'
  }
}

/** The store could not be reached or did not answer in time. */
export class StoreUnavailableError extends Error {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StoreUnavailableError'
  }
}
