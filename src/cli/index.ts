import { parseArgs } from 'node:util'
import { readEnv } from '../config/env.js'
import { formatProblem, loadRoutesFile } from '../config/routes-loader.js'
import { USAGE } from './common.js'

async function main (argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'start': return await start(rest)
    case 'routes': return await routes(rest)
    // Loaded on demand, like the server: only these commands need the store.
    case 'keys': return await (await import('./keys.js')).keys(rest)
    case 'users': return await (await import('./users.js')).users(rest)
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
  const { values } = parseArgs({
    args,
    options: { routes: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } },
    strict: true
  })
  const env = readEnv({
    ...process.env,
    ...(values.port !== undefined ? { PORT: values.port } : {}),
    ...(values.host !== undefined ? { HOST: values.host } : {}),
    ...(values.routes !== undefined ? { GERBANG_ROUTES: values.routes } : {})
  })
  // Loaded only here, so `routes check` starts without the server's dependencies.
  const { startGateway } = await import('../server.js')
  await startGateway(env)
  return -1 // keep running
}

async function routes (args: string[]): Promise<number> {
  const [sub, ...rest] = args
  if (sub !== 'check') {
    process.stderr.write(`gerbang routes: unknown subcommand '${sub ?? ''}'\n${USAGE}\n`)
    return 2
  }
  const file = rest[0] ?? process.env.GERBANG_ROUTES ?? './routes.yaml'
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
