// The CredentialStore role (src/store/types.ts): client applications, the
// hashes of their keys, their OAuth2 tokens, and the clients imported from the
// old API manager. Implemented by src/store/{memory,redis,disk}/credentials.ts;
// its contract tests: test/store/contract/credentials.ts.
//
// Secrets never reach the store: keys and tokens arrive as HMAC-SHA256 hashes
// (src/auth/secrets.ts).

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
  /** Set on clients imported from the old API manager (`gerbang import legacy`, docs/contract.md section 10). */
  legacy?: LegacyMark
  /** The last 4 characters of its newest key, shown as `gb_…joL8` so people can tell keys apart; never more. */
  keyHint?: string
}

/** What updateClient may change; a field set to null is removed (no rate limit, no expiry…). */
export type ClientChanges = {
  [K in 'description' | 'integrations' | 'rateLimit' | 'quota' | 'expiresAt' | 'allowedIps' | 'keyHint']?: Client[K] | null
}

export interface ListClientsOptions {
  /** A case-insensitive fragment of the client's name. */
  search?: string
  /** At most this many clients, sorted by name; default 100. */
  limit?: number
  /** Skips this many (matching) clients first; default 0. */
  offset?: number
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

/** Clients, their keys and tokens, and the legacy import: what authentication and client management need. */
export interface CredentialStore {
  /**
   * Creates a client with its first key. Fails with StoreConflictError when
   * another client has the same name, compared case-insensitively.
   */
  createClient (client: Client, keyHash: string): Promise<void>
  getClient (id: string): Promise<Client | undefined>
  listClients (options?: ListClientsOptions): Promise<Client[]>
  /** How many clients exist, revoked ones included. */
  countClients (): Promise<number>
  /** Marks the client revoked; its keys and tokens stop resolving. Undefined when it does not exist. */
  revokeClient (id: string, at: string): Promise<Client | undefined>
  /**
   * Gives the client a new key. Its current keys keep working for `graceMs`
   * (0: they stop at once). False when the client does not exist or is revoked.
   */
  rotateKey (id: string, newKeyHash: string, graceMs: number): Promise<boolean>
  /** The client a key hash belongs to, in one round trip. Revoked clients resolve too: the caller decides. */
  resolveKey (keyHash: string): Promise<ResolvedCredential | undefined>
  /** Records when clients were last seen (batched by the caller). */
  touchClients (lastUsed: ReadonlyMap<string, string>): Promise<void>
  /**
   * Changes a client's editable fields (ClientChanges; null removes one),
   * revoked ones too (an edit never undoes a revoke). The client as it is
   * now, or undefined when it does not exist.
   */
  updateClient (id: string, changes: ClientChanges): Promise<Client | undefined>
  /**
   * Deletes a revoked client with its key hashes (its tokens stop resolving)
   * and frees its name. False when it does not exist or is not revoked.
   */
  deleteClient (id: string): Promise<boolean>

  /**
   * Creates a client imported from the old API manager, with its old key's
   * hash, atomically and only when neither the key hash nor the name
   * (case-insensitively) is taken; `dryRun` checks the same and writes
   * nothing. Records the client as legacy and `keyLength` among the
   * imported keys' lengths (legacySummary).
   */
  importClient (client: Client, keyHash: string, keyLength: number, dryRun: boolean): Promise<LegacyImportOutcome>
  /** How many clients were imported, and the lengths of their keys. */
  legacySummary (): Promise<LegacySummary>
  /** Replaces a client's legacy mark; the client as it is now, or undefined when it does not exist. */
  setLegacyMark (id: string, mark: LegacyMark): Promise<Client | undefined>

  /**
   * Saves an OAuth2 token for ttlMs, bound to the key it was minted with
   * (`keyHash`, a key of `clientId`): rotating a key ends its tokens
   * (docs/contract.md section 15).
   */
  saveToken (tokenHash: string, clientId: string, keyHash: string, ttlMs: number): Promise<void>
  /**
   * The client a token hash belongs to, in one round trip; undefined once
   * the token expired, and once the key it was minted with no longer
   * resolves to the same client (rotated away, or past its grace period).
   * `expiresAt` is the earlier of the token's expiry and that key's.
   */
  resolveToken (tokenHash: string): Promise<ResolvedCredential | undefined>
}
