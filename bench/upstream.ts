// The origin both proxies forward to, in its own process so that its CPU is
// not charged to the proxy under test. It does as little as a server can per
// request (one precomputed body, fixed headers) so that the numbers measure
// the proxies, not the origin.
import { createServer } from 'node:http'
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

const server = createServer((req, res) => {
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
})
// Longer than any run, so neither proxy ever sees its pooled sockets closed
// mid-run (Node's default of 5 s would race with the proxies' own idle timers).
server.keepAliveTimeout = 60_000

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  process.stdout.write(JSON.stringify({ port, bodyBytes: BODY.length }) + '\n')
})

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    server.closeAllConnections()
    server.close(() => { process.exit(0) })
  })
}
