// Self-service key requests as the store keeps them (issue 18, item 6), the
// KeyRequestStore part of the AdminStore role (src/store/admin.ts): the
// shapes every store implementation shares, and the little logic they must
// apply identically. The stores themselves: src/store/memory/key-requests.ts,
// src/store/redis/key-requests.ts, src/store/disk/key-requests.ts; the
// workflow around them: src/auth/key-requests.ts.

/** Where a self-service key request stands (src/auth/key-requests.ts, docs/portal.md). */
export const KEY_REQUEST_STATUSES = ['pending', 'approved', 'declined', 'issued', 'expired'] as const
export type KeyRequestStatus = typeof KEY_REQUEST_STATUSES[number]

/**
 * A developer's request for a key, sent from /doc. Approval creates a
 * client and a one-time link; the key itself is made when the link is
 * opened, so no store ever holds it (only the link token's SHA-256).
 */
export interface KeyRequest {
  id: string
  agency: string
  app: string
  email: string
  /** What was asked for (an approval may grant otherwise: see the client). */
  integrations: string[]
  purpose: string
  /** The requester's address, as GERBANG_TRUST_PROXY defines it. */
  address: string
  createdAt: string
  status: KeyRequestStatus
  /** The operator who approved or declined it, and when. */
  decidedBy?: string
  decidedAt?: string
  /** Why it was declined. */
  reason?: string
  /** The client its approval created. */
  clientId?: string
  /** SHA-256 (hex) of the current one-time link's token; never the token. */
  linkHash?: string
  linkExpiresAt?: string
  /** When the key was shown through the link, and to which address. */
  issuedAt?: string
  issuedTo?: string
  /** When its link was found expired, unopened. */
  expiredAt?: string
}

/** What updateKeyRequest may change; null removes a field. */
export type KeyRequestChanges = {
  [K in Exclude<keyof KeyRequest, 'id' | 'createdAt'>]?: KeyRequest[K] | null
}

export interface ListKeyRequestsOptions {
  /** Only requests in this status. */
  status?: KeyRequestStatus
  /** Newest first; default 100. */
  limit?: number
  offset?: number
}

/** The queue of key requests sent from /doc: part of AdminStore. */
export interface KeyRequestStore {
  /**
   * Adds a pending key request, unless `maxPending` requests are pending
   * already (false then, nothing written); atomic, so a flood cannot pass it.
   */
  createKeyRequest (request: KeyRequest, maxPending: number): Promise<boolean>
  getKeyRequest (id: string): Promise<KeyRequest | undefined>
  /** Newest first (ties: by id, descending). */
  listKeyRequests (options?: ListKeyRequestsOptions): Promise<KeyRequest[]>
  /** How many requests are in each status. */
  countKeyRequests (): Promise<Record<KeyRequestStatus, number>>
  /**
   * Applies `changes` to a request only while it is still in status `from`,
   * atomically (two operators deciding at once, a link opened twice at
   * once: one wins). The request as it is now, or undefined when it does not
   * exist or has left `from`. A new `linkHash` replaces the old one in the
   * index findKeyRequestByLink reads.
   */
  updateKeyRequest (id: string, from: KeyRequestStatus, changes: KeyRequestChanges): Promise<KeyRequest | undefined>
  /** The request whose current one-time link has this hash. */
  findKeyRequestByLink (linkHash: string): Promise<KeyRequest | undefined>
}

/** Applies KeyRequestChanges to a copy of a request (null removes a field). */
export function applyKeyRequestChanges (request: KeyRequest, changes: KeyRequestChanges): KeyRequest {
  const next: Record<string, unknown> = { ...request }
  for (const [field, value] of Object.entries(changes)) {
    if (value === undefined || field === 'id' || field === 'createdAt') continue
    if (value === null) delete next[field]
    else next[field] = value
  }
  return next as unknown as KeyRequest
}

/** Every status at 0, for countKeyRequests. */
export function noKeyRequests (): Record<KeyRequestStatus, number> {
  return { pending: 0, approved: 0, declined: 0, issued: 0, expired: 0 }
}

/** The listing order of every store: newest first, ties by id descending (as Redis orders equal scores). */
export function newestFirst (a: KeyRequest, b: KeyRequest): number {
  const at = Date.parse(b.createdAt) - Date.parse(a.createdAt)
  if (at !== 0) return at
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0
}

export const DEFAULT_KEY_REQUEST_LIMIT = 100
