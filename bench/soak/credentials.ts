// The soak's clients, keys and admin user, made with the gerbang CLI as an
// operator makes them; made again after Redis comes back empty.
import { runGerbang, type CliRun } from '../processes.js'
import { ADMIN_EMAIL, ADMIN_PASSWORD, KEY_PEPPER } from './settings.js'

/** The CLI on the soak's Redis with the gateway's pepper, so that what it makes is the gateway's. */
async function gerbangCli (args: string[], redisUrl: string, input?: string): Promise<CliRun> {
  return await runGerbang(args, { REDIS_URL: redisUrl, GERBANG_KEY_PEPPER: KEY_PEPPER }, input)
}

export interface Key { id: string, key: string }

async function createKey (redisUrl: string, name: string, extra: string[]): Promise<Key> {
  const result = await gerbangCli(['keys', 'create', '--client', name, '--description', 'bench/soak.ts', ...extra, '--json'], redisUrl)
  if (result.code !== 0) throw new Error(`gerbang keys create --client ${name} failed (${String(result.code)}): ${result.stderr.trim()}`)
  const json = JSON.parse(result.stdout) as { id: string, key: string }
  return { id: json.id, key: json.key }
}

/** The admin user, unless the gateway made it already from GERBANG_ADMIN_EMAIL. */
export async function ensureAdminUser (redisUrl: string): Promise<'created' | 'existed'> {
  const result = await gerbangCli(['users', 'create', '--email', ADMIN_EMAIL, '--role', 'admin', '--name', 'Soak admin'], redisUrl, ADMIN_PASSWORD + '\n')
  if (result.code === 0) return 'created'
  if (/already exists/.test(result.stderr)) return 'existed'
  throw new Error(`gerbang users create failed (${String(result.code)}): ${result.stderr.trim()}`)
}

export interface Credentials {
  generation: number
  /** integrations '*', no rate of its own: most API-key traffic. */
  main: Key
  /** integrations '*', rate limit 300/1m per integration: 429s. */
  limited: Key
  /** integrations '*': trades its key for bearer tokens. */
  oauth: Key
  /** integrations fast only: 403 elsewhere. */
  fastOnly: Key
  token: string | undefined
}

export async function createCredentials (redisUrl: string, generation: number): Promise<Credentials> {
  const suffix = generation === 1 ? '' : ` (${generation})`
  // One after the other: four node processes at once would take the 2 cores from the gateway.
  const main = await createKey(redisUrl, `Soak main${suffix}`, ['--integrations', '*'])
  const limited = await createKey(redisUrl, `Soak limited${suffix}`, ['--integrations', '*', '--rate-limit', '300/1m'])
  const oauth = await createKey(redisUrl, `Soak OAuth2${suffix}`, ['--integrations', '*'])
  const fastOnly = await createKey(redisUrl, `Soak fast only${suffix}`, ['--integrations', 'fast'])
  return { generation, main, limited, oauth, fastOnly, token: undefined }
}
