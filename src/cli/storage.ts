import { chmodSync, closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, rmSync, statSync } from 'node:fs'
import { basename, dirname, resolve } from 'node:path'
import { backup, DatabaseSync } from 'node:sqlite'
import { writeFile } from 'node:fs/promises'
import { DiskStore, SCHEMA_VERSION, storeExists, storeFiles } from '../store/disk-store.js'
import { copyToRedis } from '../store/migrate.js'
import type { RedisStore } from '../store/redis-store.js'
import { BACKUP_USAGE, CliError, MIGRATE_USAGE, parseCommand, required, RESTORE_USAGE, runCommand, usageError } from './common.js'
import { dataDirOf, redactUrl, withDiskStore, withStore } from './store-connection.js'

// gerbang backup | restore | migrate: the embedded store on disk (GERBANG_DATA_DIR)
// copied to a file while gateways keep running, read back from one, or moved
// into Redis when an install outgrows one server. docs/storage.md explains them.

const HELP = { help: { type: 'boolean', short: 'h' } } as const
const PEPPER_FILE = 'key-pepper'

/** These commands are about the embedded store: with REDIS_URL set, say so instead of guessing. */
function refuseRedis (what: string, usage: string): void {
  const url = process.env.REDIS_URL
  if (url !== undefined && url !== '') {
    throw usageError(`${what} works on the embedded store in GERBANG_DATA_DIR, and REDIS_URL is set (${redactUrl(url)}): ` +
      'back up Redis with its own tools (RDB snapshots or AOF), or unset REDIS_URL', usage)
  }
}

function describe (counts: { clients: number, users: number, audit: number }): string {
  return `${counts.clients} clients, ${counts.users} users, ${counts.audit} audit entries`
}

function size (file: string): string {
  const bytes = statSync(file).size
  return bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`
}

/** Flushes a file, then the directory entry that names it, to disk. */
function syncFile (file: string): void {
  for (const path of [file, dirname(file)]) {
    const fd = openSync(path, 'r')
    try {
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
  }
}

/** Opens a file as a Gerbang store read-only and checks it whole; the counts, or a CliError saying what is wrong. */
function checkStoreFile (file: string): { clients: number, users: number, audit: number } {
  let db: DatabaseSync
  try {
    db = new DatabaseSync(file, { readOnly: true })
  } catch (err) {
    throw new CliError(`${file} cannot be opened: ${(err as Error).message}`)
  }
  try {
    const check = db.prepare('PRAGMA quick_check').get() as { quick_check: string } | undefined
    if (check?.quick_check !== 'ok') throw new CliError(`${file} is damaged: ${check?.quick_check ?? 'no answer from the check'}`)
    const version = db.prepare('SELECT value FROM meta WHERE name = \'schemaVersion\'').get() as { value: string } | undefined
    if (version === undefined) throw new CliError(`${file} is not a Gerbang store backup`)
    if (Number(version.value) > SCHEMA_VERSION) throw new CliError(`${file} was written by a newer Gerbang (schema ${version.value}): upgrade Gerbang`)
    const n = (table: string): number => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n
    return { clients: n('clients'), users: n('users'), audit: n('audit') }
  } catch (err) {
    if (err instanceof CliError) throw err
    throw new CliError(`${file} is not a Gerbang store backup: ${(err as Error).message}`)
  } finally {
    db.close()
  }
}

export async function backupCommand (args: string[]): Promise<number> {
  return await runCommand('backup', async () => {
    const { values } = parseCommand(args, { ...HELP, to: { type: 'string' } }, BACKUP_USAGE)
    if (values.help === true) {
      process.stdout.write(`usage:\n${BACKUP_USAGE}\n`)
      return 0
    }
    refuseRedis('gerbang backup', BACKUP_USAGE)
    const target = resolve(required(values.to, 'to', BACKUP_USAGE))
    if (existsSync(target)) throw new CliError(`${target} already exists: name a new file (a backup never overwrites one)`)
    if (!existsSync(dirname(target))) throw new CliError(`the directory ${dirname(target)} does not exist`)
    const partial = `${target}.partial-${process.pid}`
    const counts = await withDiskStore(dataDirOf(), false, async (store) => {
      try {
        await store.backupTo(partial)
        // The backup holds the key pepper (unless GERBANG_KEY_PEPPER gives it): the owner's only.
        chmodSync(partial, 0o600)
        const counts = checkStoreFile(partial)
        syncFile(partial)
        // A link, not a rename: it fails rather than replace a file made meanwhile.
        linkSync(partial, target)
        syncFile(target)
        return counts
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new CliError(`${target} already exists: name a new file`)
        throw err
      } finally {
        rmSync(partial, { force: true })
      }
    })
    process.stdout.write(`backed up ${describe(counts)} from ${storeFiles(dataDirOf()).dir} to ${target} (${size(target)})\n`)
    return 0
  })
}

export async function restoreCommand (args: string[]): Promise<number> {
  return await runCommand('restore', async () => {
    const { values } = parseCommand(args, { ...HELP, from: { type: 'string' }, force: { type: 'boolean' } }, RESTORE_USAGE)
    if (values.help === true) {
      process.stdout.write(`usage:\n${RESTORE_USAGE}\n`)
      return 0
    }
    refuseRedis('gerbang restore', RESTORE_USAGE)
    const source = resolve(required(values.from, 'from', RESTORE_USAGE))
    if (!existsSync(source)) throw new CliError(`${source} does not exist`)
    const counts = checkStoreFile(source)
    const files = storeFiles(dataDirOf())
    if (storeExists(files.dir)) {
      await withDiskStore(files.dir, false, async (store) => {
        const alive = await store.liveProcesses()
        if (alive > 0) {
          throw new CliError(`a gateway is running on the store in ${files.dir} (${alive} process${alive === 1 ? '' : 'es'} in use): stop it (after a kill -9, wait 10 s), then restore`)
        }
        const present = store.counts()
        if ((present.clients > 0 || present.users > 0) && values.force !== true) {
          throw new CliError(`the store in ${files.dir} holds ${describe(present)}: restoring replaces all of it; add --force to do so`)
        }
      })
    } else {
      mkdirSync(files.dir, { recursive: true, mode: 0o700 })
      closeSync(openSync(files.data, 'a', 0o600))
    }
    // SQLite's backup API writes the pages into the store through its own
    // locks and journal, so a crash midway leaves the old store or the new one.
    const from = new DatabaseSync(source, { readOnly: true })
    try {
      await backup(from, files.data)
    } finally {
      from.close()
    }
    // Rate-limit windows and the change feed started over with the old store.
    for (const suffix of ['', '-wal', '-shm']) rmSync(files.runtime + suffix, { force: true })
    const store = new DiskStore({ dir: files.dir, create: false })
    const restored = store.counts()
    await store.close()
    process.stdout.write(`restored ${describe(restored)} from ${basename(source)} into ${files.dir}` +
      (restored.clients === counts.clients ? '' : ` (the backup listed ${counts.clients} clients)`) + '\n')
    return 0
  })
}

export async function migrateCommand (args: string[]): Promise<number> {
  return await runCommand('migrate', async () => {
    const { values } = parseCommand(args, { ...HELP, 'to-redis': { type: 'boolean' } }, MIGRATE_USAGE)
    if (values.help === true) {
      process.stdout.write(`usage:\n${MIGRATE_USAGE}\n`)
      return 0
    }
    if (values['to-redis'] !== true) throw usageError('say where to: --to-redis (the only target so far)', MIGRATE_USAGE)
    const url = process.env.REDIS_URL
    if (url === undefined || url === '') {
      throw usageError('REDIS_URL is not set: set it to the Redis to move the embedded store into', MIGRATE_USAGE)
    }
    const envPepper = process.env.GERBANG_KEY_PEPPER === '' ? undefined : process.env.GERBANG_KEY_PEPPER
    const { counts, pepperNote } = await withDiskStore(dataDirOf(), false, async (source) => {
      let pepper: string
      try {
        pepper = source.keyPepper(envPepper)
      } catch (err) {
        throw new CliError((err as Error).message, 2)
      }
      const counts = await withStore(url, async (target) => {
        const clients = await target.countClients()
        const users = (await target.listUsers()).length
        if (clients > 0 || users > 0) {
          throw new CliError(`the Redis at ${redactUrl(url)} already holds ${clients} clients and ${users} users: ` +
            'migrate into an empty Redis (or one with another key prefix)')
        }
        return await copyToRedis(source, (target as RedisStore).redis)
      })
      let pepperNote: string
      if (envPepper !== undefined) {
        pepperNote = 'the gateways on Redis must use the same GERBANG_KEY_PEPPER as this command did'
      } else {
        // The store's own pepper: the gateways on Redis need it as GERBANG_KEY_PEPPER, or no key matches.
        const file = `${source.files.dir}/${PEPPER_FILE}`
        await writeFile(file, pepper + '\n', { mode: 0o600 })
        pepperNote = `the gateways on Redis must set GERBANG_KEY_PEPPER to this store's pepper, written to ${file} ` +
          `(readable by you only): GERBANG_KEY_PEPPER="$(cat ${file})". Keep it secret, then delete the file`
      }
      return { counts, pepperNote }
    })
    process.stdout.write(`moved ${counts.clients} clients (${counts.keys} keys, ${counts.tokens} tokens), ${counts.users} users, ` +
      `${counts.roles} roles, ${counts.sessions} sessions, ${counts.audit} audit entries, ${counts.keyRequests} key requests ` +
      `and ${counts.counterBuckets} traffic counters ` +
      `into ${redactUrl(url)}\n`)
    process.stderr.write(`gerbang migrate: ${pepperNote}. Start the gateways with REDIS_URL=${redactUrl(url)}; ` +
      `the embedded store in ${storeFiles(dataDirOf()).dir} is left as it was.\n`)
    return 0
  })
}
