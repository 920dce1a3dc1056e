import { randomUUID } from 'node:crypto'
import { BlockList } from 'node:net'
import { audit } from '../store/audit.js'
import type { AuditStore, ChangeFeed, Client, CredentialStore } from '../store/types.js'
import { addCidr } from './clients.js'
import { LEGACY_KEY, LEGACY_KEY_MAX, LEGACY_KEY_MIN } from './legacy.js'
import type { SecretHasher } from './secrets.js'

// Rows of the old API manager's `keys` table (CodeIgniter REST Server 3:
// id, key, level, ignore_limits, is_private_key, ip_addresses, date_created;
// the province added domain and user_id) turned into Gerbang clients
// (docs/contract.md section 10). Only the HMAC of each key reaches the store.

/** One row as read; every column but id and key may be absent. */
export interface LegacyRow {
  id: string
  key: string | null
  level?: number | null
  ignoreLimits?: boolean | null
  isPrivateKey?: boolean | null
  ipAddresses?: string | null
  /** Epoch seconds (REST Server 3 keeps an INT), or a date as the database printed it. */
  dateCreated?: number | string | null
  domain?: string | null
  userId?: string | null
}

export type RowStatus = 'imported' | 'skipped' | 'failed'

/** What happened to one row; never the key. */
export interface RowReport {
  legacyId: string
  name: string
  status: RowStatus
  /** The Gerbang client's id: the new one, or the one that already holds the key. */
  clientId?: string
  reason?: string
}

export interface ImportReport {
  dryRun: boolean
  imported: number
  skipped: number
  failed: number
  clients: RowReport[]
}

export interface ImportOptions {
  integrations: string[] | '*'
  dryRun: boolean
  /** Who ran it, for the audit log. */
  actor?: string
  /** Where the rows came from (without a password), for the audit log. */
  source?: string
}

/** How many rows are sent to the store at once: the store pipelines them. */
const CONCURRENCY = 200
const NAME_MAX = 100

/** The name a row's client gets: its domain, else legacy-<id>. */
export function legacyName (row: LegacyRow): string {
  const domain = row.domain?.trim() ?? ''
  return domain === '' ? `legacy-${row.id}` : domain
}

function createdText (value: LegacyRow['dateCreated']): string | undefined {
  if (value === undefined || value === null || value === '' || value === 0) return undefined
  if (typeof value === 'number' || /^[0-9]+$/.test(value)) {
    const date = new Date(Number(value) * 1000)
    return Number.isNaN(date.getTime()) ? String(value) : date.toISOString().slice(0, 19).replace('T', ' ') + ' UTC'
  }
  return value
}

/** The description: the legacy id and creation date, and what the old manager knew besides. */
export function legacyDescription (row: LegacyRow): string {
  const parts = [`old API manager keys.id ${row.id}`]
  const created = createdText(row.dateCreated)
  if (created !== undefined) parts.push(`created ${created}`)
  if (row.level !== undefined && row.level !== null) parts.push(`level ${row.level}`)
  if (row.userId !== undefined && row.userId !== null && row.userId !== '') parts.push(`user_id ${row.userId}`)
  if (row.ignoreLimits === true) parts.push('ignore_limits')
  if (row.isPrivateKey === true) parts.push('is_private_key')
  return `Imported: ${parts.join(', ')}`
}

/** `ip_addresses` as allowed IPs: comma, space or newline separated; an error message for a bad entry. */
export function legacyAllowedIps (text: LegacyRow['ipAddresses']): string[] | string {
  if (text === undefined || text === null) return []
  const entries = text.split(/[\s,;]+/).filter((entry) => entry !== '')
  for (const entry of entries) {
    if (!addCidr(new BlockList(), entry)) return `ip_addresses holds '${entry}', which is not an IP address or CIDR`
  }
  return entries
}

interface Planned {
  row: LegacyRow
  report: RowReport
  client?: Client
  key?: string
}

/** Checks each row on its own and against the others: empty, malformed and shared keys fail. */
function plan (rows: readonly LegacyRow[], options: ImportOptions, importedAt: string): Planned[] {
  const byKey = new Map<string, string[]>()
  for (const row of rows) {
    if (row.key === null || row.key === '') continue
    const ids = byKey.get(row.key)
    if (ids === undefined) byKey.set(row.key, [row.id])
    else ids.push(row.id)
  }
  return rows.map((row) => {
    const name = legacyName(row)
    const fail = (reason: string): Planned => ({ row, report: { legacyId: row.id, name, status: 'failed', reason } })
    const key = row.key ?? ''
    if (key.trim() === '') return fail('the key is empty')
    if (!LEGACY_KEY.test(key)) return fail(`the key is not ${LEGACY_KEY_MIN} to ${LEGACY_KEY_MAX} printable characters without spaces`)
    const sharing = byKey.get(key) ?? []
    if (sharing.length > 1) return fail(`the key is duplicated: rows ${sharing.join(', ')} hold the same key, so none of them is imported`)
    if (name.length > NAME_MAX) return fail(`the domain is longer than ${NAME_MAX} characters`)
    const allowedIps = legacyAllowedIps(row.ipAddresses)
    if (typeof allowedIps === 'string') return fail(allowedIps)
    const client: Client = {
      id: randomUUID(),
      name,
      description: legacyDescription(row),
      integrations: options.integrations,
      ...(allowedIps.length > 0 ? { allowedIps } : {}),
      createdAt: importedAt,
      legacy: { id: row.id, importedAt }
    }
    return { row, report: { legacyId: row.id, name, status: 'imported', clientId: client.id }, client, key }
  })
}

/**
 * Imports the rows into the store: one client per row, idempotent (a row
 * whose client exists already, found by its key or by its name and legacy
 * id, is skipped), never overwriting another client (a clash fails the
 * row). A dry run asks the store the same questions and writes nothing.
 */
export async function importLegacyRows (store: CredentialStore & ChangeFeed & AuditStore, hasher: SecretHasher,
  rows: readonly LegacyRow[], options: ImportOptions): Promise<ImportReport> {
  const importedAt = new Date().toISOString()
  const planned = plan(rows, options, importedAt)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < planned.length) {
      const item = planned[next++] as Planned
      if (item.client !== undefined && item.key !== undefined) await importOne(store, hasher, item, options.dryRun)
    }
  }
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, planned.length) }, worker))

  const clients = planned.map((p) => p.report)
  const count = (status: RowStatus): number => clients.filter((c) => c.status === status).length
  const report: ImportReport = { dryRun: options.dryRun, imported: count('imported'), skipped: count('skipped'), failed: count('failed'), clients }
  if (!options.dryRun && report.imported > 0) {
    // One announcement for the whole import: gateways reread the key lengths and forget unknown keys.
    await store.publishChange({ clientId: '', legacyImport: true })
    await audit(store, options.actor ?? 'cli', 'client.import', { type: 'client', id: 'legacy-import', name: 'legacy import' }, {
      imported: report.imported,
      skipped: report.skipped,
      failed: report.failed,
      ...(options.source !== undefined ? { source: options.source } : {})
    })
  }
  return report
}

async function importOne (store: CredentialStore, hasher: SecretHasher, item: Planned, dryRun: boolean): Promise<void> {
  const client = item.client as Client
  const key = item.key as string
  const outcome = await store.importClient(client, hasher.hash(key), key.length, dryRun)
  if (outcome.outcome === 'created') return
  const holder = await store.getClient(outcome.clientId)
  const report = item.report
  delete report.clientId
  if (holder?.legacy?.id === item.row.id && (outcome.outcome === 'key-taken' || holder.name.toLowerCase() === client.name.toLowerCase())) {
    report.status = 'skipped'
    report.clientId = holder.id
    report.reason = 'imported before'
    return
  }
  report.status = 'failed'
  report.reason = outcome.outcome === 'key-taken'
    ? `the key already belongs to client '${holder?.name ?? outcome.clientId}'`
    : `a client named '${holder?.name ?? client.name}' already exists (not overwritten)`
}
