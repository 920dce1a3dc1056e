import { parseArgs, type ParseArgsConfig } from 'node:util'

// What every CLI command shares: the usage text, strict flag parsing, and one
// way of turning failures into a single line and an exit code.

export const KEYS_USAGE = `  gerbang keys create --client NAME [--description TEXT] [--integrations a,b|*]
                      [--rate-limit 100/1m] [--quota 10000/1d] [--expires ISO8601] [--allowed-ips CIDR,CIDR] [--json]
  gerbang keys list [--search TEXT] [--limit N] [--json]
  gerbang keys revoke ID [--json]
  gerbang keys rotate ID [--grace 24h] [--json]`

export const USERS_USAGE = `  gerbang users create --email E --role admin|operator|viewer [--name N]
                       (the password is read from stdin, one line)`

export const IMPORT_USAGE = `  gerbang import legacy --mysql mysql://USER[:PASS]@HOST:3306/DB [--integrations a,b|*] [--dry-run] [--json]
                        (the old API manager's keys; see docs/legacy-switchover.md)`

export const START_USAGE = '  gerbang start [--routes FILE] [--port N] [--host H] [--workers N|auto]'

export const BACKUP_USAGE = '  gerbang backup --to FILE                (a consistent copy of the embedded store, while it runs)'
export const RESTORE_USAGE = '  gerbang restore --from FILE [--force]   (into GERBANG_DATA_DIR, with no gateway running on it)'
export const MIGRATE_USAGE = '  gerbang migrate --to-redis              (the embedded store into the empty Redis at REDIS_URL)'

export const USAGE = `usage:
${START_USAGE}
  gerbang routes check [FILE]
${KEYS_USAGE}
${USERS_USAGE}
${IMPORT_USAGE}
${BACKUP_USAGE}
${RESTORE_USAGE}
${MIGRATE_USAGE}

keys, users and import commands work on the store at REDIS_URL; keys commands also
need GERBANG_KEY_PEPPER, the same one the gateways use. Without REDIS_URL they
work on the embedded store in GERBANG_DATA_DIR (default ./data), the one the
gateway on this machine uses (docs/storage.md).`

/** A failure the CLI reports as one line and this exit code (1: refused or failed, 2: usage or configuration). */
export class CliError extends Error {
  readonly exitCode: number

  constructor (message: string, exitCode = 1) {
    super(message)
    this.name = 'CliError'
    this.exitCode = exitCode
  }
}

/** A usage error: the problem, then the command's usage lines. */
export function usageError (problem: string, usage: string): CliError {
  return new CliError(`${problem}\nusage:\n${usage}`, 2)
}

type Options = NonNullable<ParseArgsConfig['options']>

/** node:util parseArgs with strict: true; unknown flags and missing values become usage errors. */
export function parseCommand<O extends Options> (args: string[], options: O, usage: string, positionals = 0) {
  try {
    const parsed = parseArgs({ args, options, strict: true, allowPositionals: positionals > 0 })
    if (parsed.positionals.length > positionals) {
      throw new TypeError(`unexpected argument '${parsed.positionals[positionals] ?? ''}'`)
    }
    return parsed
  } catch (err) {
    const message = (err as Error).message
    // Node's own text goes on about '--' and positionals; the option is what matters.
    const unknown = /^Unknown option '([^']+)'/.exec(message)
    throw usageError(unknown === null ? message : `unknown option '${unknown[1] ?? ''}'`, usage)
  }
}

/** The value of a required flag, or a usage error naming it. */
export function required (value: string | undefined, flag: string, usage: string): string {
  if (value === undefined || value.trim() === '') throw usageError(`--${flag} is required`, usage)
  return value
}

// Errors whose message is already the one line to show; the command failed, exit 1.
const EXPLAINED = new Set(['ClientInputError', 'StoreConflictError', 'StoreUnavailableError'])

/** Runs a command, printing a failure as `gerbang <name>: <message>`; resolves to the exit code. */
export async function runCommand (name: string, command: () => Promise<number>): Promise<number> {
  try {
    return await command()
  } catch (err) {
    if (err instanceof CliError || (err instanceof Error && EXPLAINED.has(err.name))) {
      process.stderr.write(`gerbang ${name}: ${err.message}\n`)
      return err instanceof CliError ? err.exitCode : 1
    }
    throw err
  }
}

/**
 * Runs `gerbang <group> <sub> …`: the named subcommand through runCommand,
 * or the group's usage (exit 0 when asked for, 2 when nothing was given).
 */
export async function dispatch (group: string, usage: string,
  subcommands: Record<string, (args: string[]) => Promise<number>>, args: string[]): Promise<number> {
  const [sub, ...rest] = args
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(`usage:\n${usage}\n`)
    return sub === undefined ? 2 : 0
  }
  const command = Object.hasOwn(subcommands, sub) ? subcommands[sub] : undefined
  if (command === undefined) {
    process.stderr.write(`gerbang ${group}: unknown subcommand '${sub}'\nusage:\n${usage}\n`)
    return 2
  }
  return await runCommand(`${group} ${sub}`, async () => await command(rest))
}
