// The soak's gateway: one integration per upstream, logs at info read from
// its stdout as they come (bench/soak/gateway-log.ts), the admin user and the
// metrics token from its environment.
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { GATEWAY_NODE_FLAGS, GERBANG_BIN, hasExited, READY_TIMEOUT_MS, track, type Started } from '../processes.js'
import type { GatewayLog } from './gateway-log.js'
import { ADMIN_EMAIL, ADMIN_PASSWORD, FLAP_DOWN_S, FLAP_EVERY_S, KEY_PEPPER, METRICS_TOKEN } from './settings.js'
import type { UpstreamName } from './upstreams.js'

export interface Gateway extends Started {
  log: GatewayLog
  /** Resolves when the gateway's stdout has been read to its end. */
  stdoutDone: Promise<void>
}

export function writeRoutes (file: string, ports: Record<UpstreamName, number>): string {
  const upstream = (name: UpstreamName): string => `    upstream: http://127.0.0.1:${ports[name]}/${name}/api/v1`
  writeFileSync(file, [
    '# Written by bench/soak.ts for one run.',
    'defaults:',
    '  timeout: 2s',
    '  connectTimeout: 1s',
    // Far above what one client sends: only the client with its own rate limit gets 429s.
    '  rateLimit: 1000000/1m',
    'integrations:',
    '  fast:',
    '    description: Answers at once',
    upstream('fast'),
    '    methods: [GET, POST]',
    '  slow:',
    '    description: Answers in 50 to 300 ms',
    upstream('slow'),
    '    methods: [GET, POST]',
    '  flaky:',
    '    description: Resets, closes, answers 500 or hangs past its timeout in 12 % of requests',
    upstream('flaky'),
    '    methods: [GET, POST]',
    '    timeout: 1s',
    '  flap:',
    `    description: Closed for ${FLAP_DOWN_S} s every ${FLAP_EVERY_S} s`,
    upstream('flap'),
    '    methods: [GET]',
    ''
  ].join('\n'))
  return file
}

export async function startSoakGateway (routesFile: string, redisUrl: string, log: GatewayLog): Promise<Gateway> {
  const child = spawn(process.execPath, [
    ...GATEWAY_NODE_FLAGS, GERBANG_BIN, 'start', '--routes', routesFile, '--port', '0', '--host', '127.0.0.1'
  ], {
    env: {
      ...process.env,
      LOG_LEVEL: 'info',
      REDIS_URL: redisUrl,
      GERBANG_KEY_PEPPER: KEY_PEPPER,
      GERBANG_ADMIN_EMAIL: ADMIN_EMAIL,
      GERBANG_ADMIN_PASSWORD: ADMIN_PASSWORD,
      GERBANG_METRICS_TOKEN: METRICS_TOKEN,
      GERBANG_SHUTDOWN_TIMEOUT_MS: '5000'
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const started = track(child, 'the gateway')
  child.stderr.on('data', (chunk: Buffer) => { log.stderr(chunk) })
  const lines = createInterface({ input: child.stdout, crlfDelay: Infinity })
  lines.on('line', (text) => { log.line(text) })
  const stdoutDone = new Promise<void>((resolve) => { lines.on('close', resolve) })
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (log.readyAddress === undefined) {
    if (hasExited(started) || Date.now() > deadline) {
      throw new Error(`the gateway ${hasExited(started) ? 'exited' : `did not log 'gerbang is ready' within ${READY_TIMEOUT_MS} ms`}:\n${started.output()}`)
    }
    await sleep(50)
  }
  return { ...started, port: Number(new URL(log.readyAddress).port), log, stdoutDone }
}
