// What the role suites of the store contract share (test/store/contract/):
// the records they make, a store per test, and a deadline for each.
import type { TestContext } from 'node:test'
import { randomBytes, randomUUID } from 'node:crypto'
import {
  StoreConflictError, type AuditEntry, type ChangeFeed, type Client, type CredentialStore, type KeyRequest,
  type ListClientsOptions, type Role, type Session, type StoreChange, type User
} from '../../../src/store/types.js'

/** A fresh, empty store for one test (its closing arranged), seen as the role a suite tests. */
export type MakeStore<Role> = (t: TestContext) => Promise<Role>

/** Every test gets a few seconds: a store that hangs fails instead of stalling the run. */
export const LIMITS = { timeout: 10_000 }

export const isConflict = (err: unknown): boolean => err instanceof StoreConflictError

/** Fails instead of hanging when `promise` takes longer than `ms`. */
export async function within<T> (ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`${what} took longer than ${ms} ms`)) }, ms)
  })
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}

/** Subscribes to `store` and returns the list its changes land in. */
export async function collectChanges (store: ChangeFeed, onResync: () => void = () => {}): Promise<StoreChange[]> {
  const received: StoreChange[] = []
  await store.subscribe((change) => { received.push(change) }, onResync)
  return received
}

export function newClient (name: string, extra: Partial<Client> = {}): Client {
  return { id: randomUUID(), name, description: '', integrations: [], createdAt: new Date().toISOString(), ...extra }
}

/** Stands in for an HMAC-SHA256 hex digest; the store never sees anything else. */
export function newHash (): string {
  return randomBytes(32).toString('hex')
}

/** Creates clients with these names (in this order) and returns them with their key hashes. */
export async function createNamed (
  store: CredentialStore, names: string[]
): Promise<Array<{ client: Client, keyHash: string }>> {
  const made = []
  for (const name of names) {
    const client = newClient(name)
    const keyHash = newHash()
    await store.createClient(client, keyHash)
    made.push({ client, keyHash })
  }
  return made
}

/** The names listClients gives, in its order. */
export async function names (store: CredentialStore, options?: ListClientsOptions): Promise<string[]> {
  return (await store.listClients(options)).map((c) => c.name)
}

export function newUser (email: string, extra: Partial<User> = {}): User {
  return {
    email,
    name: email.slice(0, email.indexOf('@')),
    role: 'viewer',
    passwordHash: 'scrypt$16384$8$1$c2FsdA==$aGFzaA==',
    createdAt: new Date().toISOString(),
    ...extra
  }
}

export function newRole (name: string, extra: Partial<Role> = {}): Role {
  return { name, description: `${name} role`, permissions: ['clients:read'], createdAt: new Date().toISOString(), ...extra }
}

export function newSession (email: string): Session {
  return {
    email,
    csrfToken: newHash(),
    epoch: 0,
    createdAt: new Date().toISOString(),
    absoluteExpiry: Date.now() + 8 * 3600_000
  }
}

export function newAudit (n: number, extra: Partial<AuditEntry> = {}): AuditEntry {
  return {
    at: new Date(Date.UTC(2026, 2, 1, 8) + n).toISOString(),
    actor: 'admin@bantenprov.go.id',
    action: 'client.create',
    targetType: 'client',
    targetId: `client-${n}`,
    targetName: `Client ${n}`,
    ...extra
  }
}

/** A pending key request made `n` ms after a fixed instant (so the order is known). */
export function newKeyRequest (n: number, extra: Partial<KeyRequest> = {}): KeyRequest {
  return {
    id: randomUUID(),
    agency: 'Dinas Kesehatan Kota Serang',
    app: `SIMRS ${n}`,
    email: 'it@dinkes.serangkota.go.id',
    integrations: ['yankes'],
    purpose: 'Ketersediaan kamar untuk aplikasi rujukan',
    address: '192.0.2.7',
    createdAt: new Date(Date.UTC(2026, 2, 1, 8) + n).toISOString(),
    status: 'pending',
    ...extra
  }
}
