import { importLegacyRows, type ImportReport, type LegacyRow } from '../auth/legacy-import.js'
import { INTEGRATION_NAME_PATTERN } from '../config/units.js'
import { CliError, dispatch, IMPORT_USAGE, parseCommand, required, usageError } from './common.js'
import { redactUrl, withCliStore } from './store-connection.js'

// gerbang import legacy --mysql URL (docs/contract.md section 10): the old API
// manager's `keys` table into clients, read with mysql2. Everything that can
// be wrong with the source (unreachable, no table, no key column) is found
// before the store is written to; rows that cannot be imported are listed.

const REQUIRED_COLUMNS = ['id', 'key'] as const
const OPTIONAL_COLUMNS = ['level', 'ignore_limits', 'is_private_key', 'ip_addresses', 'date_created', 'domain', 'user_id'] as const
const CONNECT_TIMEOUT_MS = 5000

export async function importCommand (args: string[]): Promise<number> {
  return await dispatch('import', IMPORT_USAGE, { legacy }, args)
}

async function legacy (args: string[]): Promise<number> {
  const { values } = parseCommand(args, {
    help: { type: 'boolean', short: 'h' },
    mysql: { type: 'string' },
    integrations: { type: 'string' },
    'dry-run': { type: 'boolean' },
    json: { type: 'boolean' }
  }, IMPORT_USAGE)
  if (values.help === true) {
    process.stdout.write(`usage:\n${IMPORT_USAGE}\n`)
    return 0
  }
  const url = required(values.mysql, 'mysql', IMPORT_USAGE)
  if (!/^mysql:\/\//i.test(url)) throw usageError('--mysql must be a URL like mysql://USER:PASS@HOST:3306/DB', IMPORT_USAGE)
  const integrations = parseIntegrations(values.integrations)
  const dryRun = values['dry-run'] === true
  const started = performance.now()
  // The whole source is read before the store is opened: a source that cannot be read changes nothing.
  const rows = await readKeys(url)
  // The store at REDIS_URL, else the embedded one in GERBANG_DATA_DIR (made by a real import when missing).
  const report = await withCliStore(async ({ store, hasher }) =>
    await importLegacyRows(store, hasher(), rows, { integrations, dryRun, actor: 'cli', source: redactUrl(url) }),
  { create: !dryRun, needsPepper: true })
  const seconds = (performance.now() - started) / 1000
  if (values.json === true) {
    process.stdout.write(JSON.stringify(report) + '\n')
  } else {
    printReport(report, rows.length, seconds)
  }
  return report.failed > 0 ? 1 : 0
}

function parseIntegrations (text: string | undefined): string[] | '*' {
  if (text === undefined || text.trim() === '*') return '*'
  const names = text.split(',').map((s) => s.trim()).filter((s) => s !== '')
  if (names.length === 0) throw usageError('--integrations needs names like yankes,bpjs, or * for all', IMPORT_USAGE)
  const bad = names.find((name) => !INTEGRATION_NAME_PATTERN.test(name))
  if (bad !== undefined) throw usageError(`'${bad}' is not an integration name (a-z, 0-9, '-')`, IMPORT_USAGE)
  return names
}

interface MysqlError extends Error {
  code?: string
}

/** Every row of the `keys` table, with the columns it has; a CliError when it cannot be read. */
async function readKeys (url: string): Promise<LegacyRow[]> {
  const mysql = await import('mysql2/promise')
  const where = redactUrl(url)
  let connection: Awaited<ReturnType<typeof mysql.createConnection>>
  try {
    connection = await mysql.createConnection({
      uri: url, connectTimeout: CONNECT_TIMEOUT_MS, dateStrings: true, supportBigNumbers: true, bigNumberStrings: true
    })
  } catch (err) {
    throw new CliError(`cannot reach the legacy database at ${where}: ${describe(err as MysqlError)}; nothing was imported`)
  }
  try {
    let columns: Set<string>
    try {
      const [described] = await connection.query('SHOW COLUMNS FROM `keys`')
      columns = new Set((described as Array<{ Field: string }>).map((c) => c.Field.toLowerCase()))
    } catch (err) {
      const e = err as MysqlError
      if (e.code === 'ER_NO_SUCH_TABLE') {
        throw new CliError(`the legacy database at ${where} has no \`keys\` table (the CodeIgniter REST Server table of the old API manager); nothing was imported`)
      }
      throw new CliError(`cannot read the \`keys\` table at ${where}: ${describe(e)}; nothing was imported`)
    }
    const missing = REQUIRED_COLUMNS.filter((c) => !columns.has(c))
    if (missing.length > 0) {
      throw new CliError(`the \`keys\` table at ${where} has no ${missing.map((c) => `\`${c}\``).join(' or ')} column; nothing was imported`)
    }
    const present = [...REQUIRED_COLUMNS, ...OPTIONAL_COLUMNS.filter((c) => columns.has(c))]
    const [rows] = await connection.query({ sql: `SELECT ${present.map((c) => `\`${c}\``).join(', ')} FROM \`keys\` ORDER BY \`id\``, rowsAsArray: false })
    return (rows as Array<Record<string, unknown>>).map(toRow)
  } catch (err) {
    if (err instanceof CliError) throw err
    throw new CliError(`cannot read the \`keys\` table at ${where}: ${describe(err as MysqlError)}; nothing was imported`)
  } finally {
    await connection.end().catch(() => { connection.destroy() })
  }
}

function describe (err: MysqlError): string {
  // A failed login names the user and host, never the password.
  return err.code === undefined ? err.message : `${err.code}: ${err.message}`
}

function text (value: unknown): string | null {
  if (value === null || value === undefined) return null
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value)
}

function flag (value: unknown): boolean | null {
  if (value === null || value === undefined) return null
  return Number(value) !== 0
}

function toRow (r: Record<string, unknown>): LegacyRow {
  const row: LegacyRow = { id: text(r.id) ?? '', key: text(r.key) }
  if ('level' in r) row.level = r.level === null ? null : Number(r.level)
  if ('ignore_limits' in r) row.ignoreLimits = flag(r.ignore_limits)
  if ('is_private_key' in r) row.isPrivateKey = flag(r.is_private_key)
  if ('ip_addresses' in r) row.ipAddresses = text(r.ip_addresses)
  if ('date_created' in r) row.dateCreated = typeof r.date_created === 'number' ? r.date_created : text(r.date_created)
  if ('domain' in r) row.domain = text(r.domain)
  if ('user_id' in r) row.userId = text(r.user_id)
  return row
}

function printReport (report: ImportReport, rows: number, seconds: number): void {
  const verb = report.dryRun ? 'would import' : 'imported'
  process.stdout.write(`${report.dryRun ? 'dry run (nothing written): ' : ''}${rows} rows read from \`keys\`: ` +
    `${verb} ${report.imported}, skipped ${report.skipped} (imported before), failed ${report.failed} (${seconds.toFixed(1)} s)\n`)
  const failed = report.clients.filter((c) => c.status === 'failed')
  for (const row of failed) process.stdout.write(`  failed  keys.id ${row.legacyId}  ${row.name}: ${row.reason ?? ''}\n`)
  if (!report.dryRun && report.imported > 0) {
    process.stdout.write('The old keys work unchanged in the X-API-KEY header; gerbang keys list marks these clients as legacy.\n')
  }
}
