import { Redis, Cluster, type RedisOptions, type ClusterOptions } from 'ioredis'
import { StoreConflictError, StoreUnavailableError } from '../types.js'

// REDIS_URL forms (README, "Redis"):
//   redis://[:password@]host:port[/db]            standalone
//   rediss://…                                    standalone over TLS
//   redis+cluster://[:password@]h1:p1,h2:p2       Redis Cluster (seed nodes)
//   redis+sentinel://[:password@]h1:p1,h2:p2/name Sentinel, master set `name`

/** The hot path never waits on Redis longer than this. */
export const COMMAND_TIMEOUT_MS = 500

// Commands fail at once while disconnected instead of queueing: a request must
// never hang on a dead store. Reconnects back off up to 2 s.
const COMMON: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  commandTimeout: COMMAND_TIMEOUT_MS,
  connectTimeout: 2000,
  // A CLI command must exit promptly after closing a connection that never came up.
  disconnectTimeout: 200,
  retryStrategy: (times: number) => Math.min(100 * times, 2000),
  enableAutoPipelining: true
}

export type RedisClient = Redis | Cluster

interface Node { host: string, port: number }

function parseNodes (list: string, defaultPort: number): Node[] {
  return list.split(',').map((part) => {
    const colon = part.lastIndexOf(':')
    return colon === -1
      ? { host: part, port: defaultPort }
      : { host: part.slice(0, colon), port: Number(part.slice(colon + 1)) }
  })
}

/** Opens a connection for a REDIS_URL; throws on a malformed URL. */
export function connectRedis (url: string): RedisClient {
  const match = /^(redis|rediss|redis\+cluster|rediss\+cluster|redis\+sentinel):\/\/(?:([^:@/]*):([^@/]*)@)?([^/?]+)(?:\/([^?]*))?$/.exec(url)
  if (match === null) throw new Error('REDIS_URL must look like redis://host:6379, rediss://…, redis+cluster://h1:p1,h2:p2 or redis+sentinel://h1:p1,h2:p2/mymaster')
  const [, scheme = '', username, password, hosts = '', path] = match
  const auth: RedisOptions = {
    ...(username !== undefined && username !== '' ? { username: decodeURIComponent(username) } : {}),
    ...(password !== undefined && password !== '' ? { password: decodeURIComponent(password) } : {})
  }
  const tls = scheme.startsWith('rediss') ? { tls: {} } : {}
  if (scheme.endsWith('+cluster')) {
    const options: ClusterOptions = {
      redisOptions: { ...COMMON, ...auth, ...tls },
      enableOfflineQueue: false,
      clusterRetryStrategy: (times: number) => Math.min(100 * times, 2000)
    }
    return new Cluster(parseNodes(hosts, 6379), options)
  }
  if (scheme === 'redis+sentinel') {
    if (path === undefined || path === '') throw new Error('redis+sentinel:// needs the master set name as its path: redis+sentinel://h1:26379,h2:26379/mymaster')
    return new Redis({ ...COMMON, ...auth, sentinels: parseNodes(hosts, 26379), name: path })
  }
  return new Redis(url, { ...COMMON, ...tls })
}

/** Runs a command; connection failures and timeouts become StoreUnavailableError. */
export async function runCommand<T> (command: () => Promise<T>): Promise<T> {
  try {
    return await command()
  } catch (err) {
    if (err instanceof StoreConflictError) throw err
    const message = (err as Error).message
    // Script and data errors are bugs, not outages.
    if (/^(ERR|WRONGTYPE|NOSCRIPT)/.test(message)) throw err
    throw new StoreUnavailableError(`the store is unavailable: ${message}`, { cause: err })
  }
}

/** A TTL Redis accepts: a whole number of ms, at least 1. */
export function ms (ttlMs: number): number {
  return Math.max(1, Math.round(ttlMs))
}
