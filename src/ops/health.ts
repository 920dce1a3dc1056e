import type { FastifyInstance } from 'fastify'
import { GerbangError } from '../errors.js'
import { sendProblem } from '../http/problem.js'
import type { RouteTableHolder } from '../proxy/index.js'
import type { Store } from '../store/types.js'

export interface HealthOptions {
  holder: RouteTableHolder
  store: Store
}

/** /healthz: the process is alive. /readyz: it can serve traffic. */
export async function healthPlugin (app: FastifyInstance, { holder, store }: HealthOptions): Promise<void> {
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
    if (!store.isAvailable()) {
      sendProblem(request, reply, new GerbangError('NOT_READY', `the ${store.kind} store is unavailable`))
      return reply
    }
    return { status: 'ready', integrations, store: store.kind }
  })
}
