// The origin both proxies forward to, in its own process so that its CPU is
// not charged to the proxy under test. It does as little as a server can per
// request (one precomputed body, fixed headers) so that the numbers measure
// the proxies, not the origin.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

const BODY = Buffer.from(JSON.stringify({
  rs: 'RSUD Banten',
  diperbarui: '2025-01-01T00:00:00.000Z',
  kamar: [
    { kelas: 'VIP', tersedia: 3, total: 10 },
    { kelas: 'Kelas 1', tersedia: 7, total: 24 },
    { kelas: 'Kelas 2', tersedia: 12, total: 40 },
    { kelas: 'Kelas 3', tersedia: 21, total: 60 },
    { kelas: 'ICU', tersedia: 1, total: 8 },
    { kelas: 'Isolasi', tersedia: 4, total: 12 }
  ]
}))
const HEADERS = { 'content-type': 'application/json; charset=utf-8', 'content-length': String(BODY.length) }
const NOT_FOUND = Buffer.from('{"error":"not found"}')
const NOT_FOUND_HEADERS = { 'content-type': 'application/json', 'content-length': String(NOT_FOUND.length) }

function answer (req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? ''
  const q = url.indexOf('?')
  const path = q === -1 ? url : url.slice(0, q)
  if (path === '/api/v1/kamar' && (req.method === 'GET' || req.method === 'HEAD')) {
    res.writeHead(200, HEADERS)
    res.end(req.method === 'HEAD' ? undefined : BODY)
    return
  }
  // Anything else is a wiring mistake in the bench; the 404 shows up as non-2xx.
  res.writeHead(404, NOT_FOUND_HEADERS)
  res.end(NOT_FOUND)
}
// The same answers on a second port: two targets of one integration on one
// upstream process (gateway+2targets), so only the gateway's balancing differs.
const servers = [createServer(answer), createServer(answer)]
for (const server of servers) {
  // Longer than any run, so neither proxy ever sees its pooled sockets closed
  // mid-run (Node's default of 5 s would race with the proxies' own idle timers).
  server.keepAliveTimeout = 60_000
}

Promise.all(servers.map(async (server) => await new Promise<number>((resolve) => {
  server.listen(0, '127.0.0.1', () => { resolve((server.address() as AddressInfo).port) })
}))).then(([port, port2]) => {
  process.stdout.write(JSON.stringify({ port, port2, bodyBytes: BODY.length }) + '\n')
}, (err: unknown) => { throw err })

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    let open = servers.length
    for (const server of servers) {
      server.closeAllConnections()
      server.close(() => { if (--open === 0) process.exit(0) })
    }
  })
}
