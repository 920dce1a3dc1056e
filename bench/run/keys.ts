// The one client each keyed target sends the key of, made the way the CLI
// makes one, so that the gateway checks a key as it would in production.
import { createHash } from 'node:crypto'
import { ClientService } from '../../src/auth/clients.js'
import { importLegacyRows } from '../../src/auth/legacy-import.js'
import { SecretHasher } from '../../src/auth/secrets.js'
import { DiskStore } from '../../src/store/disk-store.js'
import { openStore } from '../redis.js'
import { KEY_PEPPER } from './settings.js'

/** The client of gateway+legacykey, imported the way `gerbang import legacy` imports a row. */
export async function importLegacyClient (redisUrl: string): Promise<string> {
  const key = createHash('sha1').update('bench.bantenprov.go.id').digest('hex')
  const store = await openStore(redisUrl)
  try {
    const report = await importLegacyRows(store, new SecretHasher(KEY_PEPPER), [{ id: '1', key, domain: 'bench.bantenprov.go.id' }],
      { integrations: '*', dryRun: false })
    if (report.imported !== 1) throw new Error(`the legacy bench client was not imported: ${JSON.stringify(report.clients)}`)
    return key
  } finally {
    await store.close()
  }
}

/** gateway+diskkey's one client, made in the embedded store in `dir` the way `gerbang keys create` makes one there. */
export async function createDiskClient (dir: string): Promise<string> {
  const store = new DiskStore({ dir })
  try {
    const { key } = await new ClientService(store, new SecretHasher(store.keyPepper(undefined)))
      .create({ name: 'bench', description: 'bench/run.ts', integrations: '*' })
    return key
  } finally {
    await store.close()
  }
}

/** The one client of the keyed runs, made the way `gerbang keys create` makes one. */
export async function createClient (redisUrl: string): Promise<string> {
  const store = await openStore(redisUrl)
  try {
    const { key } = await new ClientService(store, new SecretHasher(KEY_PEPPER))
      .create({ name: 'bench', description: 'bench/run.ts', integrations: '*' })
    return key
  } finally {
    await store.close()
  }
}
