import type { FastifyInstance } from 'fastify'
import { GerbangError } from '../errors.js'
import { sendProblem } from '../http/problem.js'
import type { RouteTableHolder } from '../proxy/index.js'

export interface HealthOptions {
  holder: RouteTableHolder
}

/** /healthz: the process is alive. /readyz: it can serve traffic. */
export async function healthPlugin (app: FastifyInstance, { holder }: HealthOptions): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }))

  app.get('/readyz', async (request, reply) => {
    if (holder.closing) {
      sendProblem(request, reply, new GerbangError('NOT_READY', 'the gateway is shutting down'))
      return reply
    }
    const integrations = holder.table.routes.length
    if (integrations === 0) {
      sendProblem(request, reply, new GerbangError('NOT_READY', 'no valid routes are loaded'))
      return reply
    }
    return { status: 'ready', integrations }
  })
}
