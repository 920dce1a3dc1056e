import { getHeapStatistics } from 'node:v8'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import underPressure from '@fastify/under-pressure'
import { GerbangError } from '../errors.js'

// Shedding load: when the event loop lags or the heap nears its limit, new
// requests get an immediate 503 OVERLOADED with Retry-After instead of
// queueing until everything times out (or the process dies of memory).

declare module 'fastify' {
  interface FastifyContextConfig {
    /** @fastify/under-pressure's per-route handler; returning nothing lets the request through. */
    pressureHandler?: (request: FastifyRequest, reply: FastifyReply, type: string, value: number | undefined) => void
  }
}

export interface PressureOptions {
  /** Event-loop delay over which requests are refused; default 1000 ms. */
  maxEventLoopDelayMs?: number
  /** Heap use over which requests are refused; default 90% of V8's heap limit. */
  maxHeapUsedBytes?: number
  /** How often both are measured; default 1000 ms. */
  sampleIntervalMs?: number
}

const RETRY_AFTER_S = 5

class OverloadedError extends GerbangError {
  constructor () {
    super('OVERLOADED', `the gateway is overloaded (event loop behind or memory nearly full); retry in ${RETRY_AFTER_S} s`,
      undefined, { 'retry-after': String(RETRY_AFTER_S) })
  }
}

/** For routes that must answer even under pressure (/healthz: a busy process is still alive). */
export const ALWAYS_ANSWER = { pressureHandler: (): void => {} }

export async function pressurePlugin (app: FastifyInstance, options: PressureOptions): Promise<void> {
  const sampleIntervalMs = options.sampleIntervalMs ?? 1000
  // under-pressure measures the event loop from its registration on, so the
  // first sample after start-up holds the start-up itself (module loading,
  // opening the store, compiling routes: seconds on a busy machine). That is
  // not load: the delay counts from the second sample after ready, when
  // every sample covers only time the gateway was serving.
  let delayCountsFrom = Infinity
  app.addHook('onReady', async () => { delayCountsFrom = performance.now() + 2 * sampleIntervalMs })

  await app.register(underPressure, {
    maxEventLoopDelay: options.maxEventLoopDelayMs ?? 1000,
    maxHeapUsedBytes: options.maxHeapUsedBytes ?? Math.floor(getHeapStatistics().heap_size_limit * 0.9),
    sampleInterval: sampleIntervalMs,
    retryAfter: RETRY_AFTER_S,
    // Runs only when a limit is exceeded. A rejected promise goes to the
    // app's error handler, which answers with problem+json.
    pressureHandler: (_request, _reply, type) => {
      if (type === 'eventLoopDelay' && performance.now() < delayCountsFrom) return undefined
      return Promise.reject(new OverloadedError())
    }
  })
}

// Its onRequest hook must see every route, not only this plugin's.
Object.assign(pressurePlugin, { [Symbol.for('skip-override')]: true })
