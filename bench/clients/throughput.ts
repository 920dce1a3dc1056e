// Authenticated throughput, a fresh gateway per run: does it notice how many
// clients Redis holds?
import { join } from 'node:path'
import { startGateway } from '../gateway.js'
import { load, summarize, type LoadSummary } from '../load.js'
import { CONNECTIONS, DURATION_S, PIPELINING, WARMUP_S } from '../load-settings.js'
import { fmt, say } from '../output.js'
import { cpuUs, perRequest, rssMb } from '../proc.js'
import { stop, type Started } from '../processes.js'
import type { BenchRedis } from '../redis.js'
import { GATEWAY_LOG_LEVEL, KEY_PEPPER } from './settings.js'

export interface ThroughputRecord {
  clients: number
  run: number
  reqPerSec: number
  latencyMeanMs: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  load: LoadSummary
  warmup: LoadSummary
  rssAfterMb: number | null
  cpuUsPerReq: { gateway: number | null, redis: number | null }
}

async function measureThroughput (clients: number, run: number, origin: Started, redis: BenchRedis, routesFile: string,
  apiKey: string, dir: string): Promise<ThroughputRecord> {
  const gateway = await startGateway({
    routesFile,
    logFile: join(dir, `gateway-${clients}-clients-run${run}.log`),
    logLevel: GATEWAY_LOG_LEVEL,
    redisUrl: redis.url,
    keyPepper: KEY_PEPPER,
    waitForStore: true
  })
  try {
    const options = { port: gateway.port, connections: CONNECTIONS, pipelining: PIPELINING, headers: { 'x-api-key': apiKey } }
    const warm = await load({ ...options, seconds: WARMUP_S })
    const gw0 = cpuUs(gateway.pid)
    const redis0 = cpuUs(redis.pid)
    const result = await load({ ...options, seconds: DURATION_S })
    const gw1 = cpuUs(gateway.pid)
    const redis1 = cpuUs(redis.pid)
    const completed = result.requests.total
    return {
      clients,
      run,
      reqPerSec: result.requests.mean,
      latencyMeanMs: result.latency.mean,
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      maxMs: result.latency.max,
      load: summarize(result),
      warmup: summarize(warm),
      rssAfterMb: rssMb(gateway.pid),
      cpuUsPerReq: { gateway: perRequest(gw0, gw1, completed), redis: perRequest(redis0, redis1, completed) }
    }
  } finally {
    await stop(gateway)
  }
}

/** One throughput run: its record, printed as it ends. */
export async function throughputRun (clients: number, run: number, origin: Started, redis: BenchRedis,
  routesFile: string, apiKey: string, dir: string): Promise<ThroughputRecord> {
  say(`throughput with ${clients.toLocaleString('en')} clients, run ${run}…`)
  const record = await measureThroughput(clients, run, origin, redis, routesFile, apiKey, dir)
  say(`  ${fmt(record.reqPerSec)} req/s, p99 ${record.p99Ms} ms`)
  return record
}

export function best (runs: ThroughputRecord[]): ThroughputRecord {
  return runs.reduce((a, b) => b.reqPerSec > a.reqPerSec ? b : a)
}
