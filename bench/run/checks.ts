// Before a variant is measured, a request or two show that it is configured
// as it claims: a plugin or a `cors:` that is not applied would otherwise be
// measured as free.
import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { PATH } from '../gateway.js'
import { CORS_ENTRY, CORS_ORIGIN, HEADER_REMOVED, HEADERS_SET, STATIC_HEADERS_PLUGIN } from './targets.js'

/**
 * The upstream of the `bench-check` integration: records the headers of
 * every request it gets and answers 204. In this process: it answers one
 * request per gateway run, before the load, never during it.
 */
export interface CheckUpstream {
  server: Server
  port: number
  received: IncomingHttpHeaders[]
}

export async function startCheckUpstream (): Promise<CheckUpstream> {
  const received: IncomingHttpHeaders[] = []
  const server = createServer((req, res) => {
    received.push(req.headers)
    req.resume()
    res.writeHead(204)
    res.end()
  })
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { server, port: (server.address() as AddressInfo).port, received }
}

export async function stopCheckUpstream (check: CheckUpstream | undefined): Promise<void> {
  if (check === undefined || !check.server.listening) return
  check.server.closeAllConnections()
  await new Promise<void>((resolve) => { check.server.close(() => { resolve() }) })
}

/**
 * One request through the gateway's `bench-check` integration, configured as
 * `yankes` (the same plugins lines), before the load: what the upstream got
 * must show the plugin at work, or not at all for the plain gateway. Throws
 * when it does not, so that a plugin misconfigured or not applied fails the
 * bench instead of being measured as free.
 */
export async function checkUpstreamHeaders (
  port: number, check: CheckUpstream, withPlugin: boolean, what: string
): Promise<void> {
  check.received.length = 0
  const clientInstansi = 'set-by-the-client'
  const res = await fetch(`http://127.0.0.1:${port}/bench-check/headers`, {
    headers: { [HEADER_REMOVED]: '1', 'x-instansi': clientInstansi }
  })
  await res.arrayBuffer()
  const got = check.received[0]
  const problems: string[] = []
  if (res.status !== 204) problems.push(`the check request got ${res.status}, not the upstream's 204`)
  if (check.received.length !== 1 || got === undefined) {
    problems.push(`the check upstream got ${check.received.length} requests, not 1`)
  } else if (withPlugin) {
    for (const [name, value] of Object.entries(HEADERS_SET)) {
      if (got[name] !== value) problems.push(`${name}: ${JSON.stringify(got[name])}, not ${JSON.stringify(value)}`)
    }
    if (got[HEADER_REMOVED] !== undefined) problems.push(`${HEADER_REMOVED} reached the upstream (${JSON.stringify(got[HEADER_REMOVED])}); the plugin removes it`)
  } else {
    // The control: the plain gateway passes the client's headers on and adds none of the plugin's.
    if (got[HEADER_REMOVED] !== '1') problems.push(`${HEADER_REMOVED}: ${JSON.stringify(got[HEADER_REMOVED])}, not the client's "1"`)
    if (got['x-instansi'] !== clientInstansi) problems.push(`x-instansi: ${JSON.stringify(got['x-instansi'])}, not the client's ${JSON.stringify(clientInstansi)}`)
    if (got['x-api-version'] !== undefined) problems.push(`x-api-version: ${JSON.stringify(got['x-api-version'])}, which no one set`)
  }
  if (problems.length > 0) {
    throw new Error(`${what}: the upstream did not get the headers expected ${withPlugin ? 'with' : 'without'} ` +
      `the static-headers plugin (${STATIC_HEADERS_PLUGIN}):\n  ${problems.join('\n  ')}\n` +
      `  headers received: ${JSON.stringify(got ?? null)}`)
  }
}

/**
 * Before gateway+cors's load: a preflight and a request from CORS_ORIGIN to
 * `yankes` must come back as docs/contract.md section 8 has it (204, and 200 with
 * the origin allowed and the expose list), or the bench stops: cors
 * misconfigured or not applied is never measured as free. Two requests, each
 * with its access line. Before gateway+origin's (the control): one request
 * from CORS_ORIGIN, answered 200 without any CORS header. Returns how many
 * requests were sent.
 */
export async function checkCors (port: number, what: string, withCors: boolean): Promise<number> {
  const url = `http://127.0.0.1:${port}${PATH}`
  const problems: string[] = []
  if (!withCors) {
    const answer = await fetch(url, { headers: { origin: CORS_ORIGIN } })
    await answer.arrayBuffer()
    if (answer.status !== 200) problems.push(`the request got ${answer.status}, not the origin's 200`)
    if (answer.headers.get('access-control-allow-origin') !== null) problems.push('the answer carries Access-Control-Allow-Origin: the control has no cors')
    if (problems.length > 0) throw new Error(`${what}: ${problems.join('; ')}`)
    return 1
  }
  const preflight = await fetch(url, {
    method: 'OPTIONS',
    headers: { origin: CORS_ORIGIN, 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-api-key' }
  })
  await preflight.arrayBuffer()
  if (preflight.status !== 204) problems.push(`the preflight got ${preflight.status}, not 204`)
  if (preflight.headers.get('access-control-allow-origin') !== CORS_ORIGIN) {
    problems.push(`the preflight's Access-Control-Allow-Origin is ${JSON.stringify(preflight.headers.get('access-control-allow-origin'))}`)
  }
  const answer = await fetch(url, { headers: { origin: CORS_ORIGIN } })
  await answer.arrayBuffer()
  if (answer.status !== 200) problems.push(`the request got ${answer.status}, not the origin's 200`)
  if (answer.headers.get('access-control-allow-origin') !== CORS_ORIGIN) {
    problems.push(`the answer's Access-Control-Allow-Origin is ${JSON.stringify(answer.headers.get('access-control-allow-origin'))}`)
  }
  if (!(answer.headers.get('access-control-expose-headers') ?? '').includes('x-request-id')) problems.push('the answer exposes no x-request-id')
  if (problems.length > 0) throw new Error(`${what}: cors (${CORS_ENTRY}) is not at work for ${CORS_ORIGIN}:\n  ${problems.join('\n  ')}`)
  return 2
}
