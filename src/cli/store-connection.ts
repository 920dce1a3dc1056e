import { setTimeout as sleep } from 'node:timers/promises'
import { SecretHasher } from '../auth/secrets.js'
import { RedisStore } from '../store/redis-store.js'
import type { Store } from '../store/types.js'
import { CliError } from './common.js'

// What the keys and users commands share: the environment they need, and one
// connection to the store that is ready before the first command (the store
// fails commands at once while disconnected) and always closed afterwards.

/** How long a command waits for the store to answer before giving up. */
export const CONNECT_DEADLINE_MS = 3000

/** REDIS_URL, or a CliError saying why these commands need it. */
export function requireRedisUrl (env: NodeJS.ProcessEnv = process.env): string {
  const url = env.REDIS_URL
  if (url === undefined || url === '') {
    throw new CliError('REDIS_URL is not set: key and user commands work on the shared store ' +
      'the gateways use (the embedded in-memory store lives inside one gateway process). ' +
      'Set REDIS_URL to the gateways\' Redis, e.g. REDIS_URL=redis://127.0.0.1:6379', 2)
  }
  return url
}

/** The hasher for GERBANG_KEY_PEPPER, or a CliError saying it is required. */
export function requirePepper (env: NodeJS.ProcessEnv = process.env): SecretHasher {
  const pepper = env.GERBANG_KEY_PEPPER
  if (pepper === undefined || pepper === '') {
    throw new CliError('GERBANG_KEY_PEPPER is required with REDIS_URL, and it must be the same value ' +
      'the gateways use: keys hashed with another pepper never match', 2)
  }
  try {
    return new SecretHasher(pepper)
  } catch (err) {
    throw new CliError((err as Error).message, 2)
  }
}

/** The URL without its password, for messages. */
export function redactUrl (url: string): string {
  return url.replace(/^([a-z+]+:\/\/[^:@/]*:)[^@/]*@/, '$1***@')
}

/**
 * Opens the store at `url`, runs `work` once it answers, and closes it whatever
 * happens. Fails with "cannot reach the store" after `deadlineMs`.
 */
export async function withStore<T> (url: string, work: (store: Store) => Promise<T>,
  deadlineMs = CONNECT_DEADLINE_MS): Promise<T> {
  let store: RedisStore
  try {
    store = new RedisStore({ url })
  } catch (err) {
    throw new CliError((err as Error).message, 2)
  }
  let lastError: Error | undefined
  const onError = (err: Error): void => { lastError = err }
  store.redis.on('error', onError)
  try {
    const deadline = Date.now() + deadlineMs
    while (!store.isAvailable()) {
      if (Date.now() >= deadline) {
        const why = lastError === undefined ? `no answer within ${deadlineMs / 1000} s` : lastError.message
        throw new CliError(`cannot reach the store at ${redactUrl(url)}: ${why}`)
      }
      await sleep(20)
    }
    return await work(store)
  } finally {
    store.redis.off('error', onError)
    await close(store)
  }
}

async function close (store: RedisStore): Promise<void> {
  if (!store.isAvailable()) {
    // Never connected or connection lost: nothing to say goodbye to.
    store.redis.disconnect()
    return
  }
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => { resolve('timeout') }, 1000) })
  const result = await Promise.race([store.close().then(() => 'closed' as const), timedOut])
  clearTimeout(timer)
  if (result === 'timeout') store.redis.disconnect()
}
