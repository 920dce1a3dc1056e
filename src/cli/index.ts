import { readEnv } from '../config/env.js'
import { parseCommand, runCommand, START_USAGE, USAGE, usageError } from './common.js'

async function main (argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'start': return await start(rest)
    case 'routes': return await routes(rest)
    // Loaded on demand, like the server: only these commands need the store.
    case 'keys': return await (await import('./keys.js')).keys(rest)
    case 'users': return await (await import('./users.js')).users(rest)
    case 'backup': return await (await import('./storage.js')).backupCommand(rest)
    case 'restore': return await (await import('./storage.js')).restoreCommand(rest)
    case 'migrate': return await (await import('./storage.js')).migrateCommand(rest)
    case 'import': return await (await import('./import-legacy.js')).importCommand(rest)
    case undefined:
    case '--help':
    case 'help':
      process.stdout.write(USAGE + '\n')
      return command === undefined ? 2 : 0
    default:
      process.stderr.write(`gerbang: unknown command '${command}'\n${USAGE}\n`)
      return 2
  }
}

async function start (args: string[]): Promise<number> {
  return await runCommand('start', async () => {
    const { values } = parseCommand(args, {
      routes: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, workers: { type: 'string' }
    }, START_USAGE)
    // Loaded only with --workers, like the server below: `routes check` needs neither.
    const supervisor = values.workers === undefined ? undefined : await import('../workers.js')
    const workers = values.workers === undefined ? undefined : supervisor?.parseWorkerCount(values.workers)
    if (supervisor !== undefined && workers === undefined) {
      throw usageError(`--workers must be a whole number from 1 to ${supervisor.MAX_WORKERS}, or auto (got '${values.workers ?? ''}')`, START_USAGE)
    }
    const env = readEnv({
      ...process.env,
      ...(values.port !== undefined ? { PORT: values.port } : {}),
      ...(values.host !== undefined ? { HOST: values.host } : {}),
      ...(values.routes !== undefined ? { GERBANG_ROUTES: values.routes } : {})
    })
    if (supervisor === undefined || workers === undefined) {
      // Loaded only here, so `routes check` starts without the server's dependencies.
      const { startGateway } = await import('../server.js')
      await startGateway(env)
      return -1 // keep running
    }
    // --workers: this process is the cluster primary, or (same command line) one of its workers.
    if (!supervisor.isWorker) return await supervisor.runPrimary(env, workers)
    await supervisor.runWorker(env)
    return -1
  })
}

async function routes (args: string[]): Promise<number> {
  const [sub, ...rest] = args
  if (sub !== 'check') {
    process.stderr.write(`gerbang routes: unknown subcommand '${sub ?? ''}'\n${USAGE}\n`)
    return 2
  }
  const file = rest[0] ?? process.env.GERBANG_ROUTES ?? './routes.yaml'
  // Loaded here, not at the top: it takes about 0.2 s, which the keys commands need not pay.
  const { formatProblem, loadRoutesFile } = await import('../config/routes-loader.js')
  const result = await loadRoutesFile(file)
  if (result.ok) {
    process.stdout.write(`${file}: ok, ${result.config.integrations.length} integrations\n`)
    return 0
  }
  for (const problem of result.problems) process.stdout.write(formatProblem(file, problem) + '\n')
  return 1
}

main(process.argv.slice(2)).then((code) => {
  if (code >= 0) process.exitCode = code
}, (err: unknown) => {
  process.stderr.write(`gerbang: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = 1
})
