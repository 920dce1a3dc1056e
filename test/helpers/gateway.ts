import type { TestContext } from 'node:test'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import pino from 'pino'
import type { FastifyInstance } from 'fastify'
import { buildApp, type AppOptions } from '../../src/app.js'
import { formatProblem, parseRoutes, type RoutesConfig } from '../../src/config/routes-loader.js'
import { loggerOptions } from '../../src/logging.js'
import { routesYaml } from './routes.js'

export interface TestGateway {
  app: FastifyInstance
  url: string
  /** Every JSON line the gateway logged. */
  logs: Array<Record<string, unknown>>
}

/** Parses routes.yaml text, failing the test with every problem if it is invalid. */
export function routesFrom (yaml: string, env: NodeJS.ProcessEnv = {}): RoutesConfig {
  const result = parseRoutes(yaml, env)
  if (!result.ok) throw new Error(result.problems.map((p) => formatProblem('routes.yaml', p)).join('\n'))
  return result.config
}

/**
 * Builds the gateway in this process from routes.yaml text and listens on
 * 127.0.0.1 and a free port; closed when the test ends.
 */
export async function startGateway (
  t: TestContext, yaml: string, env: NodeJS.ProcessEnv = {}, extra: Partial<AppOptions> = {}
): Promise<TestGateway> {
  const logs: Array<Record<string, unknown>> = []
  const sink = new Writable({
    write (chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>)
      done()
    }
  })
  const logger = pino(loggerOptions('info'), sink)
  // extra.routes, when given, replaces the yaml (routes built with test-only plugin definitions).
  const app = await buildApp({ ...extra, routes: extra.routes ?? routesFrom(yaml, env), logger })
  t.after(async () => { await app.close() })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  return { app, url: `http://127.0.0.1:${port}`, logs }
}

/** routes.yaml text for one integration pointing at `upstream`, with `auth: none`. */
export function oneIntegration (name: string, upstream: string, extra: Record<string, string> = {}): string {
  return routesYaml({ defaults: { auth: 'none' }, integrations: { [name]: { upstream, ...extra } } })
}
