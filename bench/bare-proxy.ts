// The baseline: the least a Fastify 5 proxy does for the same route, with
// the same undici underneath (@fastify/reply-from's default client). The
// gateway's figures are read against this one.
import Fastify from 'fastify'
import proxy from '@fastify/http-proxy'
import type { AddressInfo } from 'node:net'

const upstream = process.argv[2]
if (upstream === undefined) {
  process.stderr.write('usage: bare-proxy.js http://127.0.0.1:PORT\n')
  process.exit(2)
}

const app = Fastify({ logger: false })
await app.register(proxy, { upstream, prefix: '/yankes', rewritePrefix: '/api/v1' })
await app.listen({ port: 0, host: '127.0.0.1' })
const { port } = app.server.address() as AddressInfo
process.stdout.write(JSON.stringify({ port }) + '\n')

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    app.close().then(() => { process.exit(0) }, () => { process.exit(1) })
  })
}
