import { BlockList } from 'node:net'
import { parseRate } from '../config/units.js'
import { policy, type Policy } from '../limits/rate-limiter.js'
import type { ResolvedCredential } from '../store/types.js'
import { addCidr } from './clients.js'

// A client as the authenticator caches it (src/auth/authenticator.ts): what
// the store resolved a key or token to, turned once into what each request
// checks and uses, so a cache hit parses and builds nothing.

/** Who is calling, as the hot path needs it: everything precomputed once per credential. */
export interface Principal {
  readonly id: string
  readonly name: string
  /** The name as a header value: printable ASCII, else percent-encoded. */
  readonly headerName: string
  readonly integrations: ReadonlySet<string> | '*'
  readonly allowedIps: BlockList | null
  readonly revoked: boolean
  /** Epoch ms past which the credential no longer works (client expiry, token expiry or key grace), or Infinity. */
  readonly expiresAt: number
  /** The client's own rate, overriding every integration's; its quota across all of them. */
  readonly ratePolicy: Policy | undefined
  readonly quotaPolicy: Policy | undefined
  /** Imported from the old API manager: only such a client's key may have the legacy shape. */
  readonly legacy: boolean
}

function policyOf (name: string, text: string | undefined): Policy | undefined {
  const rate = text === undefined ? undefined : parseRate(text)
  return rate === undefined ? undefined : policy(name, rate)
}

export function toPrincipal (resolved: ResolvedCredential): Principal {
  const { client } = resolved
  let allowedIps: BlockList | null = null
  if (client.allowedIps !== undefined && client.allowedIps.length > 0) {
    allowedIps = new BlockList()
    for (const cidr of client.allowedIps) addCidr(allowedIps, cidr)
  }
  const clientExpiry = client.expiresAt === undefined ? Infinity : Date.parse(client.expiresAt)
  return {
    id: client.id,
    name: client.name,
    headerName: /^[\x20-\x7e]*$/.test(client.name) ? client.name : encodeURIComponent(client.name),
    integrations: client.integrations === '*' ? '*' : new Set(client.integrations),
    allowedIps,
    revoked: client.revokedAt !== undefined,
    expiresAt: Math.min(clientExpiry, resolved.expiresAt ?? Infinity),
    ratePolicy: policyOf('default', client.rateLimit),
    quotaPolicy: policyOf('daily', client.quota),
    legacy: client.legacy !== undefined
  }
}

/** Whether the client's allowedIps let `address` call. */
export function ipAllowed (list: BlockList, address: string): boolean {
  // Node reports IPv4 peers on dual-stack sockets as ::ffff:a.b.c.d.
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address
  return v4.includes(':') ? list.check(v4, 'ipv6') : list.check(v4, 'ipv4')
}
