import { randomUUID } from 'node:crypto'
import { BlockList, isIP } from 'node:net'
import { INTEGRATION_NAME_PATTERN, parseRate } from '../config/units.js'
import { audit } from '../store/audit.js'
import type { AuditEntry, AuditStore, ChangeFeed, Client, ClientChanges, CredentialStore } from '../store/types.js'
import { generateKey, type SecretHasher } from './secrets.js'

// Managing clients and their keys: the one place the CLI and the admin API
// go through, so validation and change notification happen the same way.

export interface NewClient {
  name: string
  description?: string
  integrations?: string[] | '*'
  rateLimit?: string
  quota?: string
  expiresAt?: string
  allowedIps?: string[]
}

export class ClientInputError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'ClientInputError'
  }
}

/** A client with the key shown this once. */
export interface ClientWithKey {
  client: Client
  key: string
}

/** The last 4 characters of a key: enough to tell keys apart (`gb_…joL8`), far too few to guess it. */
export function keyHint (key: string): string {
  return key.slice(-4)
}

/** What `keys list` and the admin UI show for a client. */
export function clientStatus (client: Client, now = Date.now()): 'active' | 'revoked' | 'expired' {
  if (client.revokedAt !== undefined) return 'revoked'
  if (client.expiresAt !== undefined && Date.parse(client.expiresAt) <= now) return 'expired'
  return 'active'
}

/** Parses `10.0.0.0/8` or a single address into a BlockList rule; undefined when invalid. */
export function addCidr (list: BlockList, cidr: string): boolean {
  const [address = '', bits] = cidr.split('/')
  const family = isIP(address)
  if (family === 0) return false
  const type = family === 6 ? 'ipv6' : 'ipv4'
  if (bits === undefined) {
    list.addAddress(address, type)
    return true
  }
  const prefix = Number(bits)
  if (!/^[0-9]+$/.test(bits) || prefix > (family === 6 ? 128 : 32)) return false
  list.addSubnet(address, prefix, type)
  return true
}

function validate (input: NewClient): void {
  const name = input.name.trim()
  if (name === '' || name.length > 100) throw new ClientInputError('the client name must be 1 to 100 characters')
  if ((input.description ?? '').length > 500) throw new ClientInputError('the description must be at most 500 characters')
  if (input.integrations !== undefined && input.integrations !== '*') {
    const bad = input.integrations.find((i) => !INTEGRATION_NAME_PATTERN.test(i))
    if (bad !== undefined) throw new ClientInputError(`'${bad}' is not an integration name (a-z, 0-9, '-')`)
  }
  if (input.rateLimit !== undefined && parseRate(input.rateLimit) === undefined) {
    throw new ClientInputError(`rate limit '${input.rateLimit}' must look like 100/1m`)
  }
  if (input.quota !== undefined && parseRate(input.quota) === undefined) {
    throw new ClientInputError(`quota '${input.quota}' must look like 10000/1d`)
  }
  if (input.expiresAt !== undefined && Number.isNaN(Date.parse(input.expiresAt))) {
    throw new ClientInputError(`expiry '${input.expiresAt}' must be an ISO 8601 date, e.g. 2027-12-31T23:59:59Z`)
  }
  for (const cidr of input.allowedIps ?? []) {
    if (!addCidr(new BlockList(), cidr)) throw new ClientInputError(`'${cidr}' is not an IP address or CIDR`)
  }
}

export class ClientService {
  readonly #store: CredentialStore & ChangeFeed & AuditStore
  readonly #hasher: SecretHasher

  constructor (store: CredentialStore & ChangeFeed & AuditStore, hasher: SecretHasher) {
    this.#store = store
    this.#hasher = hasher
  }

  /** `actor` is the admin's email, or `cli` for the command line; it goes to the audit log. */
  async create (input: NewClient, actor = 'cli'): Promise<ClientWithKey> {
    validate(input)
    const client: Client = {
      id: randomUUID(),
      name: input.name.trim(),
      description: input.description ?? '',
      integrations: input.integrations ?? [],
      ...(input.rateLimit !== undefined ? { rateLimit: input.rateLimit } : {}),
      ...(input.quota !== undefined ? { quota: input.quota } : {}),
      ...(input.expiresAt !== undefined ? { expiresAt: new Date(input.expiresAt).toISOString() } : {}),
      ...(input.allowedIps !== undefined && input.allowedIps.length > 0 ? { allowedIps: input.allowedIps } : {}),
      createdAt: new Date().toISOString()
    }
    const key = generateKey()
    client.keyHint = keyHint(key)
    await this.#store.createClient(client, this.#hasher.hash(key))
    // A process may have cached this key as unknown before it existed.
    await this.#store.publishChange({ clientId: client.id })
    await this.#audit(actor, 'client.create', client, {
      integrations: client.integrations === '*' ? ['*'] : client.integrations,
      ...(client.rateLimit !== undefined ? { rateLimit: client.rateLimit } : {}),
      ...(client.expiresAt !== undefined ? { expiresAt: client.expiresAt } : {})
    })
    return { client, key }
  }

  async list (search?: string, limit?: number, offset?: number): Promise<Client[]> {
    return await this.#store.listClients({
      ...(search !== undefined ? { search } : {}),
      ...(limit !== undefined ? { limit } : {}),
      ...(offset !== undefined ? { offset } : {})
    })
  }

  async get (id: string): Promise<Client | undefined> {
    return await this.#store.getClient(id)
  }

  async revoke (id: string, actor = 'cli'): Promise<Client | undefined> {
    const client = await this.#store.revokeClient(id, new Date().toISOString())
    if (client !== undefined) {
      await this.#store.publishChange({ clientId: id })
      await this.#audit(actor, 'client.revoke', client)
    }
    return client
  }

  /** A new key; the old ones keep working for graceMs. Undefined when the client is unknown or revoked. */
  async rotate (id: string, graceMs = 0, actor = 'cli'): Promise<ClientWithKey | undefined> {
    const key = generateKey()
    if (!await this.#store.rotateKey(id, this.#hasher.hash(key), graceMs)) return undefined
    let client = await this.#store.updateClient(id, { keyHint: keyHint(key) })
    // An imported client keeps its mark: its old key works through the grace, and the lists show it was rotated.
    if (client?.legacy !== undefined) {
      const at = Date.now()
      // A second rotation never lengthens the old key's life (Store.rotateKey).
      const earlier = client.legacy.oldKeyUntil === undefined ? Infinity : Date.parse(client.legacy.oldKeyUntil)
      client = await this.#store.setLegacyMark(id, {
        ...client.legacy,
        rotatedAt: new Date(at).toISOString(),
        oldKeyUntil: new Date(Math.min(earlier, at + Math.max(0, graceMs))).toISOString()
      })
    }
    await this.#store.publishChange({ clientId: id })
    if (client === undefined) return undefined
    await this.#audit(actor, 'client.rotate', client, { graceMs })
    return { client, key }
  }

  /**
   * Changes an active client's integrations, limits, expiry, description or
   * allowed IPs (null removes a limit, the expiry or the IP list). Undefined
   * when it does not exist; ClientInputError when revoked or invalid.
   */
  async update (id: string, changes: ClientChanges, actor = 'cli'): Promise<Client | undefined> {
    const before = await this.#store.getClient(id)
    if (before === undefined) return undefined
    if (before.revokedAt !== undefined) throw new ClientInputError('a revoked client cannot be changed')
    validate({
      name: before.name,
      ...(changes.description !== undefined && changes.description !== null
        ? { description: changes.description }
        : {}),
      ...(changes.integrations !== undefined && changes.integrations !== null
        ? { integrations: changes.integrations }
        : {}),
      ...(changes.rateLimit !== undefined && changes.rateLimit !== null ? { rateLimit: changes.rateLimit } : {}),
      ...(changes.quota !== undefined && changes.quota !== null ? { quota: changes.quota } : {}),
      ...(changes.expiresAt !== undefined && changes.expiresAt !== null ? { expiresAt: changes.expiresAt } : {}),
      ...(changes.allowedIps !== undefined && changes.allowedIps !== null ? { allowedIps: changes.allowedIps } : {})
    })
    const clean: ClientChanges = { ...changes }
    delete clean.keyHint
    if (typeof clean.expiresAt === 'string') clean.expiresAt = new Date(clean.expiresAt).toISOString()
    if (Array.isArray(clean.allowedIps) && clean.allowedIps.length === 0) clean.allowedIps = null
    const client = await this.#store.updateClient(id, clean)
    if (client === undefined) return undefined
    await this.#store.publishChange({ clientId: id })
    // What changed, old → new, for the audit log (never a secret: clients have none in these fields).
    const details: Record<string, string> = {}
    for (const field of Object.keys(clean) as Array<keyof ClientChanges>) {
      const show = (c: Client): string => {
        const value = c[field]
        return value === undefined ? '—' : Array.isArray(value) ? value.join(', ') : String(value)
      }
      if (show(before) !== show(client)) details[field] = `${show(before)} → ${show(client)}`
    }
    await this.#audit(actor, 'client.update', client, details)
    return client
  }

  /** Deletes a revoked client for good; false when it does not exist or is not revoked. */
  async delete (id: string, actor = 'cli'): Promise<boolean> {
    const client = await this.#store.getClient(id)
    if (client === undefined || !await this.#store.deleteClient(id)) return false
    await this.#store.publishChange({ clientId: id })
    await this.#audit(actor, 'client.delete', client)
    return true
  }

  async #audit (actor: string, action: string, client: Client, details?: AuditEntry['details']): Promise<void> {
    await audit(this.#store, actor, action, { type: 'client', id: client.id, name: client.name }, details)
  }
}
