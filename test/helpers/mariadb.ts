import { createHash, randomBytes } from 'node:crypto'
import type { TestContext } from 'node:test'
import { createConnection, type Connection } from 'mysql2/promise'

// A database of the old API manager's own, per test: the CodeIgniter REST
// Server 3 `keys` table plus the province's `domain` and `user_id`, on the
// MariaDB/MySQL at LEGACY_MYSQL_URL (default root without a password on
// 127.0.0.1:3306; `bash .ci/run` installs and starts mariadb-server).

export const MYSQL_SERVER = process.env.LEGACY_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306'

export const KEYS_TABLE = `CREATE TABLE \`keys\` (
  \`id\` INT(11) NOT NULL AUTO_INCREMENT,
  \`user_id\` INT(11) NOT NULL DEFAULT 0,
  \`key\` VARCHAR(40) NOT NULL,
  \`level\` INT(2) NOT NULL,
  \`ignore_limits\` TINYINT(1) NOT NULL DEFAULT 0,
  \`is_private_key\` TINYINT(1) NOT NULL DEFAULT 0,
  \`ip_addresses\` TEXT NULL DEFAULT NULL,
  \`date_created\` INT(11) NOT NULL,
  \`domain\` VARCHAR(255) NULL DEFAULT NULL,
  PRIMARY KEY (\`id\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`

export interface KeyRow {
  id: number
  userId: number
  key: string
  level: number
  ignoreLimits: number
  isPrivateKey: number
  ipAddresses: string | null
  dateCreated: number
  domain: string | null
}

export interface LegacyDatabase {
  name: string
  /** mysql://root@127.0.0.1:3306/<name> */
  url: string
  connection: Connection
  insert: (rows: readonly KeyRow[]) => Promise<void>
}

/** The old manager's key for a domain: sha1 of it, as it made them. */
export function oldKey (domain: string): string {
  return createHash('sha1').update(domain).digest('hex')
}

async function connect (url: string): Promise<Connection> {
  try {
    return await createConnection({ uri: url, connectTimeout: 5000, multipleStatements: false })
  } catch (err) {
    throw new Error(`these tests need MariaDB or MySQL at ${url} (root without a password): install mariadb-server ` +
      `(\`bash .ci/run\` does) or set LEGACY_MYSQL_URL; ${(err as Error).message}`)
  }
}

/** A fresh database with an empty `keys` table (or none, with `table: false`); dropped when the test ends. */
export async function createLegacyDatabase (
  t: TestContext, { table = true }: { table?: boolean } = {}
): Promise<LegacyDatabase> {
  const name = `gerbang_legacy_${randomBytes(5).toString('hex')}`
  const server = await connect(MYSQL_SERVER)
  await server.query(`CREATE DATABASE \`${name}\``)
  t.after(async () => {
    await server.query(`DROP DATABASE IF EXISTS \`${name}\``)
    await server.end()
  })
  const url = `${MYSQL_SERVER}/${name}`
  const connection = await connect(url)
  t.after(async () => { await connection.end() })
  if (table) await connection.query(KEYS_TABLE)
  const insert = async (rows: readonly KeyRow[]): Promise<void> => {
    for (let i = 0; i < rows.length; i += 1000) {
      const batch = rows.slice(i, i + 1000).map((r) =>
        [r.id, r.userId, r.key, r.level, r.ignoreLimits, r.isPrivateKey, r.ipAddresses, r.dateCreated, r.domain])
      await connection.query('INSERT INTO `keys` (`id`, `user_id`, `key`, `level`, `ignore_limits`, `is_private_key`, `ip_addresses`, `date_created`, `domain`) VALUES ?', [batch])
    }
  }
  return { name, url, connection, insert }
}

/**
 * `count` rows as the old manager held them: keys sha1(domain), a few
 * hospitals and agencies by name, the rest numbered apps, some without a
 * domain (their clients are named legacy-<id>).
 */
export function legacyRows (count: number): KeyRow[] {
  const rows: KeyRow[] = []
  const created = Date.UTC(2018, 4, 1) / 1000
  for (let id = 1; id <= count; id++) {
    const domain = id % 50 === 0 ? null : `app-${id}.bantenprov.go.id`
    rows.push({
      id,
      userId: 1 + (id % 7),
      key: oldKey(domain ?? `no-domain-${id}`),
      level: 1,
      ignoreLimits: id % 3 === 0 ? 1 : 0,
      isPrivateKey: 0,
      ipAddresses: null,
      dateCreated: created + id * 3600,
      domain
    })
  }
  return rows
}
