import { setTimeout as sleep } from 'node:timers/promises'
import { SecretHasher } from '../auth/secrets.js'
import { DEFAULT_DATA_DIR } from '../config/env.js'
import { DiskStore, StoreMissingError, storeFiles } from '../store/disk-store.js'
import { openRedisStore } from '../store/index.js'
import type { RedisStore } from '../store/redis-store.js'
import type { Store } from '../store/types.js'
import { CliError } from './common.js'

// What the keys and users commands share: the environment they need, and one
// connection to the store that is ready before the first command (the store
// fails commands at once while disconnected) and always closed afterwards.
// With REDIS_URL that is Redis; without it, the embedded store on disk in
// GERBANG_DATA_DIR, the same one the gateway on this machine uses.

/** How long a command waits for the store to answer before giving up. */
export const CONNECT_DEADLINE_MS = 3000

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
    store = await openRedisStore(url)
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

/** GERBANG_DATA_DIR, or ./data. */
export function dataDirOf (env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.GERBANG_DATA_DIR
  return dir === undefined || dir === '' ? DEFAULT_DATA_DIR : dir
}

/** The store a command works on, and the key hasher the gateways use with it. */
export interface CliStore {
  store: Store
  /** Where it is, for messages: the redacted URL or the data directory. */
  where: string
  /** The hasher for keys; with Redis, GERBANG_KEY_PEPPER is required (a CliError otherwise). */
  hasher: () => SecretHasher
}

/**
 * Runs `work` on the store at REDIS_URL or, without it, on the embedded store
 * in GERBANG_DATA_DIR, and closes it whatever happens. `create`: make the
 * embedded store when it does not exist yet (else a CliError says where it
 * was looked for). `needsPepper`: check GERBANG_KEY_PEPPER (with Redis) before connecting.
 */
export async function withCliStore<T> (work: (cli: CliStore) => Promise<T>,
  { create = false, needsPepper = false }: { create?: boolean, needsPepper?: boolean } = {},
  env: NodeJS.ProcessEnv = process.env): Promise<T> {
  const url = env.REDIS_URL
  if (url !== undefined && url !== '') {
    const hasher = needsPepper ? requirePepper(env) : undefined
    return await withStore(url, async (store) =>
      await work({ store, where: redactUrl(url), hasher: () => hasher ?? requirePepper(env) }))
  }
  return await withDiskStore(dataDirOf(env), create, async (store) => {
    let hasher: SecretHasher | undefined
    return await work({
      store,
      where: store.files.dir,
      hasher: () => {
        if (hasher !== undefined) return hasher
        try {
          hasher = new SecretHasher(store.keyPepper(env.GERBANG_KEY_PEPPER === '' ? undefined : env.GERBANG_KEY_PEPPER))
        } catch (err) {
          throw new CliError((err as Error).message, 2)
        }
        return hasher
      }
    })
  }, env)
}

/** Opens the embedded store in `dir` (creating it only when asked), runs `work`, and closes it. */
export async function withDiskStore<T> (dir: string, create: boolean, work: (store: DiskStore) => Promise<T>,
  env: NodeJS.ProcessEnv = process.env): Promise<T> {
  let store: DiskStore
  try {
    store = new DiskStore({ dir, create })
  } catch (err) {
    if (err instanceof StoreMissingError) {
      const named = env.GERBANG_DATA_DIR === undefined || env.GERBANG_DATA_DIR === '' ? 'GERBANG_DATA_DIR is not set, so ./data' : 'GERBANG_DATA_DIR'
      throw new CliError(`there is no embedded store in ${storeFiles(dir).dir} (${named}): set GERBANG_DATA_DIR to the ` +
        'gateway\'s data directory, or REDIS_URL to its Redis')
    }
    throw new CliError(`the embedded store in ${storeFiles(dir).dir} cannot be opened: ${(err as Error).message}`)
  }
  try {
    return await work(store)
  } finally {
    await store.close()
  }
}
