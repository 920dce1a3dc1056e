// The load: autocannon, used programmatically, in the bench's own process.
import autocannon from 'autocannon'
import { PATH } from './gateway.js'

export interface LoadOptions {
  port: number
  seconds: number
  connections: number
  pipelining: number
  headers?: Record<string, string>
  /** The request target; PATH unless told. */
  path?: string
}

export async function load (options: LoadOptions): Promise<autocannon.Result> {
  return await autocannon({
    url: `http://127.0.0.1:${options.port}${options.path ?? PATH}`,
    connections: options.connections,
    pipelining: options.pipelining,
    duration: options.seconds,
    ...(options.headers !== undefined ? { headers: options.headers } : {})
  })
}

export interface LoadSummary {
  completed: number
  sent: number
  non2xx: number
  errors: number
  timeouts: number
  statusCodes: Record<string, number>
}

export function summarize (result: autocannon.Result): LoadSummary {
  const statusCodes: Record<string, number> = {}
  for (const [code, { count }] of Object.entries(result.statusCodeStats)) statusCodes[code] = count
  return {
    completed: result.requests.total,
    sent: result.requests.sent,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes
  }
}
