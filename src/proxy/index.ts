import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { GerbangError } from '../errors.js'
import { pathOnly, sendProblem } from '../http/problem.js'
import { forward } from './forward.js'
import type { RouteTable } from './route-table.js'
import { unsafePathReason } from './safe-path.js'

/**
 * The live routing table. Requests read `table` once when they start, so a
 * new table can be swapped in whole while earlier requests finish on the old one.
 */
export interface RouteTableHolder {
  table: RouteTable
  closing: boolean
}

export interface ProxyOptions {
  holder: RouteTableHolder
}

/** Every path not answered by the gateway itself is an integration's, or 404. */
export async function proxyPlugin (app: FastifyInstance, { holder }: ProxyOptions): Promise<void> {
  // The proxy never parses bodies: the raw request stream goes upstream as it arrives.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_request, _payload, done) => { done(null) })

  app.all('/*', (request: FastifyRequest, reply: FastifyReply) => {
    if (holder.closing) {
      sendProblem(request, reply, new GerbangError('SHUTTING_DOWN', 'the gateway is shutting down; retry on a new connection',
        undefined, { connection: 'close' }))
      return
    }
    const url = request.raw.url as string
    const match = holder.table.match(url)
    if (match === undefined) {
      sendProblem(request, reply, new GerbangError('ROUTE_NOT_FOUND', `no integration serves ${pathOnly(url)}`))
      return
    }
    const { route, rest } = match
    const { integration } = route
    request.integration = integration.name
    if (integration.methods !== null && !integration.methods.has(request.raw.method as string)) {
      sendProblem(request, reply, new GerbangError('METHOD_NOT_ALLOWED',
        `${integration.name} does not accept ${request.raw.method ?? ''}`, undefined,
        { allow: [...integration.methods].join(', ') }))
      return
    }
    const q = rest.indexOf('?')
    const unsafe = unsafePathReason(q === -1 ? rest : rest.slice(0, q))
    if (unsafe !== undefined) {
      sendProblem(request, reply, new GerbangError('BAD_REQUEST', unsafe))
      return
    }
    let path = integration.upstreamPathPrefix + rest
    if (path.charCodeAt(0) !== 47 /* / */) path = '/' + path
    forward(request, reply, route, path, holder)
  })
}
