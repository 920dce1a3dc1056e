import proxyAddr from '@fastify/proxy-addr'
import { BlockList } from 'node:net'
import { addCidr } from '../auth/clients.js'

// Who the client is, behind a load balancer (docs/contract.md section 13). The
// proxies listed in GERBANG_TRUST_PROXY are believed about X-Forwarded-For
// and X-Forwarded-Proto; nobody else is. Fastify is given the same rule
// (its `trustProxy`), so `request.ip` is the right-most address in
// X-Forwarded-For that is not itself a trusted proxy, and `request.protocol`
// a trusted proxy's X-Forwarded-Proto: every user of a client address
// (allowed IPs, per-address limits, the sign-in guard, the logs) reads those.

/** Whether an address (the socket's peer at hop 0, then X-Forwarded-For right to left) is a trusted proxy. */
export type TrustProxy = (address: string, hop: number) => boolean

/** Nobody is a proxy: the socket's peer is the client. */
export const TRUST_NOBODY: TrustProxy = () => false

/**
 * Compiles a comma-separated CIDR list (GERBANG_TRUST_PROXY); an empty or
 * missing list trusts nobody. Throws with a message naming the bad entry.
 */
export function compileTrustProxy (list: string | undefined): TrustProxy {
  const entries = (list ?? '').split(',').map((e) => e.trim()).filter((e) => e !== '')
  if (entries.length === 0) return TRUST_NOBODY
  for (const entry of entries) {
    if (!addCidr(new BlockList(), entry)) {
      throw new Error(`GERBANG_TRUST_PROXY: '${entry}' is not an IP address or CIDR (e.g. 10.0.0.0/8, 127.0.0.1)`)
    }
  }
  return proxyAddr.compile(entries)
}
