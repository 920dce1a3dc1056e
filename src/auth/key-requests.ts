import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { GerbangError } from '../errors.js'
import { audit } from '../store/audit.js'
import type { AuditStore, Client, CredentialStore, KeyRequest, KeyRequestStatus, KeyRequestStore, LimitStore } from '../store/types.js'
import type { ClientService, NewClient } from './clients.js'
import { FailureThrottle } from './failure-throttle.js'

// Self-service key requests (issue 18, item 6). A developer asks on /doc;
// an operator approves in /admin (which creates the client, with the limits
// chosen) or declines with a reason; approval yields a one-time link,
// valid 24 h, that the operator sends to the requester. The key is made when
// the link is opened, by rotating the client's key: the key made with the
// client is never shown, and no store ever holds a key or a link token in
// clear (only the token's SHA-256). Every step goes to the audit log with
// the source address. Choices and reasons: docs/portal.md.

/** Link tokens: a recognisable prefix (secret scanners) and 256 random bits. */
export const LINK_PREFIX = 'gbl_'
const LINK_SHAPE = /^gbl_[A-Za-z0-9_-]{43}$/
export const LINK_TTL_MS = 24 * 3600_000
/** Requests waiting for an operator at most; past it, new ones are refused until some are decided. */
export const MAX_PENDING = 200
/** Requests one address may send per window (shared by every gateway process through the store). */
export const REQUESTS_PER_ADDRESS = 5
export const REQUEST_WINDOW_MS = 3600_000
/** Unknown or malformed link tokens one address may try per minute (per process) before 429. */
export const LINK_FAILURES_PER_MINUTE = 10
/** The audit actor of what the requester does on /doc (not signed in). */
export const PORTAL_ACTOR = 'portal'
const THROTTLE_GROUP = 'key-requests'

export type LinkGoneReason = 'unknown' | 'used' | 'expired' | 'withdrawn'

export interface KeyRequestInput {
  agency: string
  app: string
  email: string
  integrations: string[]
  purpose: string
}

/** What an approval grants: the client to create. */
export type Grant = Required<Pick<NewClient, 'name' | 'integrations'>> & Omit<NewClient, 'name' | 'integrations' | 'allowedIps'>

/** The SHA-256 (hex) of a link token: what the store keeps. */
export function linkHash (token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

function gone (reason: LinkGoneReason): GerbangError {
  const why = {
    unknown: 'this key link is not known',
    used: 'the key of this link has already been shown',
    expired: 'this key link has expired',
    withdrawn: 'the operators withdrew this key link'
  }[reason]
  return new GerbangError('KEY_LINK_GONE', `${why}; ask the operators for a new link`, { reason })
}

const target = (r: KeyRequest): { type: 'keyRequest', id: string, name: string } => ({ type: 'keyRequest', id: r.id, name: `${r.agency} — ${r.app}` })

/** A request as the admin API shows it: without its link's hash. */
export function keyRequestView (r: KeyRequest): Omit<KeyRequest, 'linkHash'> {
  const { linkHash: _hash, ...view } = r
  return view
}

export interface ApprovedRequest {
  request: KeyRequest
  client: Client
  /** The one-time link's token: returned this once, to the operator who approved. */
  token: string
}

export class KeyRequestService {
  readonly #store: KeyRequestStore & AuditStore & CredentialStore & LimitStore
  readonly #clients: ClientService
  readonly #linkFailures = new FailureThrottle({ limit: LINK_FAILURES_PER_MINUTE, windowMs: 60_000 })

  constructor (store: KeyRequestStore & AuditStore & CredentialStore & LimitStore, clients: ClientService) {
    this.#store = store
    this.#clients = clients
  }

  /** A developer's request from /doc, counted against the address's allowance; 429 past it or with the queue full. */
  async submit (input: KeyRequestInput, address: string): Promise<KeyRequest> {
    const lease = await this.#store.lease(THROTTLE_GROUP, [{ key: `ip:${address}`, limit: REQUESTS_PER_ADDRESS, windowMs: REQUEST_WINDOW_MS }], 1, 1)
    if (lease.granted === 0) {
      const seconds = Math.max(1, Math.ceil((lease.resetMs[0] ?? REQUEST_WINDOW_MS) / 1000))
      throw new GerbangError('RATE_LIMITED', `at most ${REQUESTS_PER_ADDRESS} key requests an hour from one address; try again in ${seconds} s`,
        { retryAfter: seconds, violatedPolicies: ['key-requests'] }, { 'retry-after': String(seconds) })
    }
    const request: KeyRequest = {
      id: randomUUID(),
      agency: input.agency.trim(),
      app: input.app.trim(),
      email: input.email.trim(),
      integrations: [...new Set(input.integrations)],
      purpose: input.purpose.trim(),
      address,
      createdAt: new Date().toISOString(),
      status: 'pending'
    }
    if (!await this.#store.createKeyRequest(request, MAX_PENDING)) {
      throw new GerbangError('RATE_LIMITED', 'too many key requests are waiting for the operators; try again later',
        { retryAfter: 3600, violatedPolicies: ['key-request-queue'] }, { 'retry-after': '3600' })
    }
    await audit(this.#store, PORTAL_ACTOR, 'keyRequest.create', target(request),
      { address, email: request.email, integrations: request.integrations })
    return request
  }

  /** The queue, newest first, after marking links past their 24 h as expired. */
  async list (
    status: KeyRequestStatus | undefined, offset: number, limit: number
  ): Promise<{ items: KeyRequest[], hasMore: boolean, counts: Record<KeyRequestStatus, number> }> {
    await this.expireDue()
    const [page, counts] = await Promise.all([
      this.#store.listKeyRequests({ ...(status !== undefined ? { status } : {}), offset, limit: limit + 1 }),
      this.#store.countKeyRequests()
    ])
    return { items: page.slice(0, limit), hasMore: page.length > limit, counts }
  }

  async get (id: string): Promise<KeyRequest | undefined> {
    const request = await this.#store.getKeyRequest(id)
    return request === undefined ? undefined : await this.#expireIfDue(request)
  }

  /**
   * Approves a pending request: creates its client (through ClientService,
   * audited as client.create by `actor`) and a one-time link. The key made
   * with the client is dropped unseen; the requester's is made on opening.
   */
  async approve (id: string, grant: Grant, actor: string, address: string): Promise<ApprovedRequest> {
    await this.#pending(id)
    const token = LINK_PREFIX + randomBytes(32).toString('base64url')
    const now = Date.now()
    const linkExpiresAt = new Date(now + LINK_TTL_MS).toISOString()
    // Taken first, so two operators approving at once make one client.
    const taken = await this.#store.updateKeyRequest(id, 'pending', {
      status: 'approved', decidedBy: actor, decidedAt: new Date(now).toISOString(), linkHash: linkHash(token), linkExpiresAt
    })
    if (taken === undefined) throw await this.#notPending(id)
    let client: Client
    try {
      client = (await this.#clients.create(grant, actor)).client
    } catch (err) {
      // A taken name or a bad limit: the request waits again, as it was.
      await this.#store.updateKeyRequest(id, 'approved', { status: 'pending', decidedBy: null, decidedAt: null, linkHash: null, linkExpiresAt: null })
        .catch(() => undefined)
      throw err
    }
    // Nobody holds that key: no hint of it either.
    client = await this.#store.updateClient(client.id, { keyHint: null }) ?? client
    const request = await this.#store.updateKeyRequest(id, 'approved', { clientId: client.id }) ?? { ...taken, clientId: client.id }
    await audit(this.#store, actor, 'keyRequest.approve', target(request), {
      address,
      clientId: client.id,
      integrations: client.integrations === '*' ? ['*'] : client.integrations,
      ...(client.rateLimit !== undefined ? { rateLimit: client.rateLimit } : {}),
      ...(client.quota !== undefined ? { quota: client.quota } : {}),
      ...(client.expiresAt !== undefined ? { expiresAt: client.expiresAt } : {}),
      linkExpiresAt
    })
    return { request, client, token }
  }

  async decline (id: string, reason: string, actor: string, address: string): Promise<KeyRequest> {
    await this.#pending(id)
    const request = await this.#store.updateKeyRequest(id, 'pending', {
      status: 'declined', decidedBy: actor, decidedAt: new Date().toISOString(), reason: reason.trim()
    })
    if (request === undefined) throw await this.#notPending(id)
    await audit(this.#store, actor, 'keyRequest.decline', target(request), { address, reason: request.reason ?? '' })
    return request
  }

  /**
   * A new one-time link for an approved request whose link was lost or expired unopened; the old link stops working.
   */
  async relink (id: string, actor: string, address: string): Promise<{ request: KeyRequest, token: string }> {
    const current = await this.get(id)
    if (current === undefined) throw notFound(id)
    if (current.status !== 'approved' && current.status !== 'expired') {
      throw new GerbangError('CONFLICT', `only an approved request whose key was not shown yet gets a new link; this one is ${current.status}`)
    }
    const client = current.clientId === undefined ? undefined : await this.#store.getClient(current.clientId)
    if (client === undefined || client.revokedAt !== undefined) throw new GerbangError('CONFLICT', 'the client of this request was revoked or deleted')
    const token = LINK_PREFIX + randomBytes(32).toString('base64url')
    const linkExpiresAt = new Date(Date.now() + LINK_TTL_MS).toISOString()
    const request = await this.#store.updateKeyRequest(id, current.status, { status: 'approved', linkHash: linkHash(token), linkExpiresAt, expiredAt: null })
    if (request === undefined) throw new GerbangError('CONFLICT', 'the request changed meanwhile; reload it')
    await audit(this.#store, actor, 'keyRequest.relink', target(request), { address, linkExpiresAt })
    return { request, token }
  }

  /** What a link leads to, without spending it (the page asks before showing its button). */
  async check (token: string, address: string): Promise<KeyRequest> {
    const request = await this.#linked(token, address)
    const client = request.clientId === undefined ? undefined : await this.#store.getClient(request.clientId)
    if (client === undefined || client.revokedAt !== undefined) throw gone('withdrawn')
    return request
  }

  /** Spends a link: makes the client's key, once, and returns it. */
  async open (token: string, address: string): Promise<{ request: KeyRequest, client: Client, key: string }> {
    const request = await this.#linked(token, address)
    const client = request.clientId === undefined ? undefined : await this.#store.getClient(request.clientId)
    if (client === undefined || client.revokedAt !== undefined) throw gone('withdrawn')
    const issued = await this.#store.updateKeyRequest(request.id, 'approved', { status: 'issued', issuedAt: new Date().toISOString(), issuedTo: address })
    if (issued === undefined) throw gone(await this.#goneReason(request.id))
    const undo = async (): Promise<void> => {
      await this.#store.updateKeyRequest(request.id, 'issued', { status: 'approved', issuedAt: null, issuedTo: null }).catch(() => undefined)
    }
    let rotated: Awaited<ReturnType<ClientService['rotate']>>
    try {
      rotated = await this.#clients.rotate(client.id, 0, PORTAL_ACTOR)
    } catch (err) {
      await undo()
      throw err
    }
    if (rotated === undefined) {
      await undo()
      throw gone('withdrawn')
    }
    await audit(this.#store, PORTAL_ACTOR, 'keyRequest.issue', target(issued), { address, clientId: client.id })
    return { request: issued, client: rotated.client, key: rotated.key }
  }

  /** Marks every approved request whose link ran out unopened as expired (and audits it). */
  async expireDue (): Promise<void> {
    const approved = await this.#store.listKeyRequests({ status: 'approved', limit: 1000 })
    for (const request of approved) await this.#expireIfDue(request)
  }

  async #expireIfDue (request: KeyRequest): Promise<KeyRequest> {
    if (request.status !== 'approved' || request.linkExpiresAt === undefined || Date.parse(request.linkExpiresAt) > Date.now()) return request
    const expired = await this.#store.updateKeyRequest(request.id, 'approved', { status: 'expired', expiredAt: new Date().toISOString() })
    if (expired === undefined) return await this.#store.getKeyRequest(request.id) ?? request
    await audit(this.#store, 'system', 'keyRequest.expire', target(expired), { linkExpiresAt: request.linkExpiresAt })
    return expired
  }

  /** The request a link token leads to while it can still be opened; KEY_LINK_GONE otherwise. */
  async #linked (token: string, address: string): Promise<KeyRequest> {
    const found = LINK_SHAPE.test(token) ? await this.#store.findKeyRequestByLink(linkHash(token)) : undefined
    if (found === undefined) {
      const waitMs = this.#linkFailures.fail(address)
      if (waitMs > 0) {
        const seconds = Math.ceil(waitMs / 1000)
        throw new GerbangError('RATE_LIMITED', `too many unknown key links from this address; try again in ${seconds} s`,
          { retryAfter: seconds, violatedPolicies: ['key-links'] }, { 'retry-after': String(seconds) })
      }
      throw gone('unknown')
    }
    const request = await this.#expireIfDue(found)
    if (request.status !== 'approved') throw gone(reasonFor(request.status))
    return request
  }

  async #goneReason (id: string): Promise<LinkGoneReason> {
    const now = await this.#store.getKeyRequest(id)
    return now === undefined ? 'unknown' : reasonFor(now.status)
  }

  async #pending (id: string): Promise<KeyRequest> {
    const request = await this.#store.getKeyRequest(id)
    if (request === undefined) throw notFound(id)
    if (request.status !== 'pending') throw alreadyDecided(request.status)
    return request
  }

  async #notPending (id: string): Promise<GerbangError> {
    const now = await this.#store.getKeyRequest(id)
    return now === undefined ? notFound(id) : alreadyDecided(now.status)
  }
}

function reasonFor (status: KeyRequestStatus): LinkGoneReason {
  return status === 'issued' ? 'used' : status === 'expired' ? 'expired' : 'unknown'
}

function notFound (id: string): GerbangError {
  return new GerbangError('NOT_FOUND', `there is no key request with id '${id}'`)
}

function alreadyDecided (status: KeyRequestStatus): GerbangError {
  return new GerbangError('CONFLICT', `this key request was already decided (${status})`)
}

const services = new WeakMap<ClientService, KeyRequestService>()

/**
 * The one KeyRequestService of an app (its ClientService stands for it):
 * the /doc routes and the admin API share it, and its link throttle.
 */
export function keyRequestsOf (
  store: KeyRequestStore & AuditStore & CredentialStore & LimitStore, clients: ClientService
): KeyRequestService {
  let service = services.get(clients)
  if (service === undefined) {
    service = new KeyRequestService(store, clients)
    services.set(clients, service)
  }
  return service
}
