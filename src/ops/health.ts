import type { FastifyInstance } from 'fastify'
import { ALWAYS_ANSWER } from './pressure.js'
import { GerbangError } from '../errors.js'
import { sendProblem } from '../http/problem.js'
import type { RouteTableHolder } from '../proxy/route-tables.js'
import type { BreakerState } from '../proxy/circuit-breaker.js'
import { targetStates } from '../proxy/balancer.js'
import type { StoreStatus } from '../store/types.js'

export interface HealthOptions {
  holder: RouteTableHolder
  store: StoreStatus
}

/** /healthz: the process is alive. /readyz: it can serve traffic (and each integration's breaker state). */
export async function healthPlugin (app: FastifyInstance, { holder, store }: HealthOptions): Promise<void> {
  app.get('/healthz', { config: ALWAYS_ANSWER }, async () => ({ status: 'ok' }))

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
    // An open breaker cuts off one integration, not the gateway: it stays ready.
    const breakers: Record<string, BreakerState> = {}
    for (const route of holder.table.routes) breakers[route.integration.name] = route.breaker.state
    // Dead targets cut off neither the gateway nor (while one is up) the integration: reported, still ready.
    return { status: 'ready', integrations, store: store.kind, breakers, targets: targetStates(holder) }
  })
}
