import { ClientService, clientStatus, type ClientWithKey } from '../auth/clients.js'
import { parseDuration } from '../config/units.js'
import { StoreConflictError, type Client } from '../store/types.js'
import { CliError, dispatch, KEYS_USAGE, parseCommand, required, usageError } from './common.js'
import { withCliStore } from './store-connection.js'

// gerbang keys create|list|revoke|rotate (docs/contract.md section 1). Secrets are
// printed once, by create and rotate, and never again: the store only holds
// their HMAC under GERBANG_KEY_PEPPER (or the embedded store's own pepper).

const DEFAULT_LIMIT = 100
const HELP = { help: { type: 'boolean', short: 'h' } } as const

export async function keys (args: string[]): Promise<number> {
  return await dispatch('keys', KEYS_USAGE, { create, list, revoke, rotate }, args)
}

/** Prints the usage and returns true when --help was given. */
function helped (values: { help?: boolean | undefined }): boolean {
  if (values.help === true) process.stdout.write(`usage:\n${KEYS_USAGE}\n`)
  return values.help === true
}

/**
 * Opens the store (Redis at REDIS_URL, else the embedded one in
 * GERBANG_DATA_DIR) and the client service. Only `create` makes an embedded
 * store that does not exist yet: the others would find nothing in it.
 */
async function withClients<T> (work: (clients: ClientService) => Promise<T>, create = false): Promise<T> {
  return await withCliStore(async ({ store, hasher }) =>
    await work(new ClientService(store, hasher())), { create, needsPepper: true })
}

function commaList (text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '')
}

function describeIntegrations (integrations: Client['integrations']): string {
  if (integrations === '*') return '* (all)'
  return integrations.length === 0 ? '(none)' : integrations.join(', ')
}

/** The JSON create and rotate print: the client by name, with the key. */
function keyJson ({ client, key }: ClientWithKey): Record<string, unknown> {
  return {
    id: client.id,
    key,
    client: client.name,
    description: client.description,
    integrations: client.integrations,
    rateLimit: client.rateLimit ?? null,
    quota: client.quota ?? null,
    expiresAt: client.expiresAt ?? null,
    allowedIps: client.allowedIps ?? null,
    createdAt: client.createdAt
  }
}

function printSecret (label: string, key: string): void {
  process.stdout.write(`\n${label}. It is shown this once and cannot be shown again\n` +
    '(Gerbang keeps only a hash of it); store it now and hand it over securely:\n\n' +
    `  ${key}\n\n`)
}

const JSON_WARNING = 'gerbang: the key in this output is shown this once and cannot be shown again\n'

async function create (args: string[]): Promise<number> {
  const { values } = parseCommand(args, {
    ...HELP,
    client: { type: 'string' },
    description: { type: 'string' },
    integrations: { type: 'string' },
    'rate-limit': { type: 'string' },
    quota: { type: 'string' },
    expires: { type: 'string' },
    'allowed-ips': { type: 'string' },
    json: { type: 'boolean' }
  }, KEYS_USAGE)
  if (helped(values)) return 0
  const name = required(values.client, 'client', KEYS_USAGE)
  const integrations = values.integrations?.trim() === '*' ? '*' : commaList(values.integrations)
  if (values.expires !== undefined && Date.parse(values.expires) <= Date.now()) {
    throw new CliError(`expiry '${values.expires}' is in the past`)
  }
  const created = await withClients(async (clients) => await clients.create({
    name,
    ...(values.description !== undefined ? { description: values.description } : {}),
    ...(integrations !== undefined ? { integrations } : {}),
    ...(values['rate-limit'] !== undefined ? { rateLimit: values['rate-limit'] } : {}),
    ...(values.quota !== undefined ? { quota: values.quota } : {}),
    ...(values.expires !== undefined ? { expiresAt: values.expires } : {}),
    ...(values['allowed-ips'] !== undefined ? { allowedIps: commaList(values['allowed-ips']) ?? [] } : {})
  }).catch((err: unknown) => {
    if (!(err instanceof StoreConflictError)) throw err
    throw new CliError(`a client named '${name.trim()}' already exists (names are compared ignoring case; ` +
      `see gerbang keys list --search '${name.trim()}')`)
  }), true)
  const { client, key } = created
  if (values.json === true) {
    process.stdout.write(JSON.stringify(keyJson(created)) + '\n')
    process.stderr.write(JSON_WARNING)
  } else {
    process.stdout.write(`Created client '${client.name}'\n` +
      `  id            ${client.id}\n` +
      `  integrations  ${describeIntegrations(client.integrations)}\n` +
      `  rate limit    ${client.rateLimit ?? 'each integration\'s own'}\n` +
      `  quota         ${client.quota ?? 'none'}\n` +
      `  expires       ${client.expiresAt ?? 'never'}\n` +
      `  allowed IPs   ${client.allowedIps?.join(', ') ?? 'any'}\n`)
    printSecret('API key (send it as the x-api-key header)', key)
  }
  if (client.integrations !== '*' && client.integrations.length === 0) {
    process.stderr.write('hint: created without --integrations, so this client may call no integration yet; ' +
      'give clients --integrations yankes,bpjs (or \'*\' for all) when creating them\n')
  }
  return 0
}

function formatDate (iso: string | undefined): string {
  if (iso === undefined) return 'never'
  const date = new Date(iso)
  return Number.isNaN(date.getTime()) ? iso : date.toISOString().slice(0, 16).replace('T', ' ')
}

function table (rows: string[][]): string {
  const widths: number[] = []
  for (const row of rows) row.forEach((cell, i) => { widths[i] = Math.max(widths[i] ?? 0, cell.length) })
  return rows.map((row) => row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd())
    .join('\n') + '\n'
}

/** Imported from the old API manager: `legacy #<old id>`, and where its rotation to a Gerbang key stands. */
function legacyCell (client: Client, now: number): string {
  const mark = client.legacy
  if (mark === undefined) return '-'
  if (mark.rotatedAt === undefined) return `legacy #${mark.id}`
  const until = mark.oldKeyUntil === undefined ? now : Date.parse(mark.oldKeyUntil)
  return until > now ? `legacy #${mark.id}, rotated, old key until ${formatDate(mark.oldKeyUntil)}` : `legacy #${mark.id}, rotated`
}

async function list (args: string[]): Promise<number> {
  const { values } = parseCommand(args, {
    ...HELP,
    search: { type: 'string' },
    limit: { type: 'string' },
    json: { type: 'boolean' }
  }, KEYS_USAGE)
  if (helped(values)) return 0
  let limit: number | undefined
  if (values.limit !== undefined) {
    if (!/^[1-9][0-9]{0,5}$/.test(values.limit)) throw new CliError(`--limit must be a whole number from 1 to 999999, not '${values.limit}'`)
    limit = Number(values.limit)
  }
  const shown = limit ?? DEFAULT_LIMIT
  // One more than shown, to know whether there are more.
  const found = await withClients(async (service) => await service.list(values.search, shown + 1))
  const clients = found.slice(0, shown)
  const now = Date.now()
  if (values.json === true) {
    process.stdout.write(JSON.stringify(clients.map((c) => ({ ...c, status: clientStatus(c, now) }))) + '\n')
  } else if (clients.length === 0) {
    process.stdout.write(values.search === undefined ? 'no clients yet (create one with gerbang keys create)\n' : `no client's name contains '${values.search}'\n`)
  } else {
    const legacy = clients.some((c) => c.legacy !== undefined)
    process.stdout.write(table([
      ['ID', 'NAME', 'STATUS', ...(legacy ? ['LEGACY'] : []), 'INTEGRATIONS', 'CREATED (UTC)', 'LAST USED (UTC)'],
      ...clients.map((c) => [c.id, c.name, clientStatus(c, now), ...(legacy ? [legacyCell(c, now)] : []),
        describeIntegrations(c.integrations),
        formatDate(c.createdAt), formatDate(c.lastUsedAt)])
    ]))
  }
  if (found.length > shown) {
    process.stderr.write(`showing the first ${shown} clients by name; narrow with --search or raise --limit\n`)
  }
  return 0
}

function clientId (positionals: string[]): string {
  const id = positionals[0]
  if (id === undefined || id.trim() === '') throw usageError('the client ID is required (see gerbang keys list)', KEYS_USAGE)
  return id.trim()
}

function unknownClient (id: string): CliError {
  return new CliError(`no client with id '${id}' (gerbang keys list shows the ids)`)
}

async function revoke (args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, { ...HELP, json: { type: 'boolean' } }, KEYS_USAGE, 1)
  if (helped(values)) return 0
  const id = clientId(positionals)
  const { client, already } = await withClients(async (service) => {
    const before = await service.get(id)
    if (before === undefined) throw unknownClient(id)
    if (before.revokedAt !== undefined) return { client: before, already: true }
    const revoked = await service.revoke(id)
    if (revoked === undefined) throw unknownClient(id)
    return { client: revoked, already: false }
  })
  if (values.json === true) {
    process.stdout.write(JSON.stringify({ ...client, status: 'revoked' }) + '\n')
  } else if (already) {
    process.stdout.write(`client '${client.name}' (${client.id}) was already revoked at ${client.revokedAt ?? ''}\n`)
  } else {
    process.stdout.write(`revoked client '${client.name}' (${client.id}): its keys and tokens stop working now\n`)
  }
  return 0
}

async function rotate (args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, {
    ...HELP,
    grace: { type: 'string' },
    json: { type: 'boolean' }
  }, KEYS_USAGE, 1)
  if (helped(values)) return 0
  const id = clientId(positionals)
  const graceMs = values.grace === undefined ? 0 : parseDuration(values.grace)
  if (graceMs === undefined) throw new CliError(`--grace must be a duration like 30m, 24h or 7d, not '${values.grace ?? ''}'`)
  const rotated = await withClients(async (service) => {
    const before = await service.get(id)
    if (before === undefined) throw unknownClient(id)
    if (before.revokedAt !== undefined) throw new CliError(`client '${before.name}' is revoked; a revoked client gets no new key`)
    const result = await service.rotate(id, graceMs)
    if (result === undefined) throw new CliError(`client '${before.name}' was revoked or removed meanwhile; no new key`)
    return result
  })
  const oldUntil = graceMs > 0 ? new Date(Date.now() + graceMs).toISOString() : null
  if (values.json === true) {
    process.stdout.write(JSON.stringify({ ...keyJson(rotated), oldKeysValidUntil: oldUntil }) + '\n')
    process.stderr.write(JSON_WARNING)
  } else {
    process.stdout.write(`Rotated the key of client '${rotated.client.name}' (${rotated.client.id})\n` +
      (oldUntil === null
        ? '  the old key stopped working now\n'
        : `  the old key keeps working until ${oldUntil} (grace ${values.grace ?? ''})\n`))
    printSecret('New API key', rotated.key)
  }
  return 0
}
