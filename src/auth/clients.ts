import { randomUUID } from 'node:crypto'
import { BlockList, isIP } from 'node:net'
import { INTEGRATION_NAME_PATTERN } from '../config/routes-schema.js'
import { parseRate } from '../config/units.js'
import { audit } from '../store/audit.js'
import type { AuditEntry, Client, Store } from '../store/types.js'
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
  readonly #store: Store
  readonly #hasher: SecretHasher

  constructor (store: Store, hasher: SecretHasher) {
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
    await this.#store.publishChange({ clientId: id })
    const client = await this.#store.getClient(id)
    if (client === undefined) return undefined
    await this.#audit(actor, 'client.rotate', client, { graceMs })
    return { client, key }
  }

  async #audit (actor: string, action: string, client: Client, details?: AuditEntry['details']): Promise<void> {
    await audit(this.#store, actor, action, { type: 'client', id: client.id, name: client.name }, details)
  }
}
