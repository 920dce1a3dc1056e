// The soak's upstreams, fast, slow, flaky and flap, in a process of their own
// (`node dist/bench/soak.js --upstreams`) so that the load generator does not
// slow them down; the soak drives them through their stdin ('down flap',
// 'up flap', 'stats') and reads their answers, one JSON line each.
import { spawn } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { HERE, READY_TIMEOUT_MS, track, type Started } from '../processes.js'
import { HANG_MS } from './settings.js'

/** The soak's own entry point, which runs upstreamsMain when given --upstreams. */
const SELF = join(HERE, 'soak.js')

export type UpstreamName = 'fast' | 'slow' | 'flaky' | 'flap'
const UPSTREAMS: readonly UpstreamName[] = ['fast', 'slow', 'flaky', 'flap']

export interface UpstreamStats {
  requests: Record<UpstreamName, number>
  flaky: { reset: number, closed: number, status500: number, hang: number, midBodyReset: number }
}

function answerJson (res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)) })
  res.end(text)
}

export function upstreamsMain (): void {
  const stats: UpstreamStats = {
    requests: { fast: 0, slow: 0, flaky: 0, flap: 0 },
    flaky: { reset: 0, closed: 0, status500: 0, hang: 0, midBodyReset: 0 }
  }
  const say = (line: unknown): void => { process.stdout.write(JSON.stringify(line) + '\n') }

  const handler = (name: UpstreamName) => (req: IncomingMessage, res: ServerResponse): void => {
    stats.requests[name]++
    let received = 0
    req.on('data', (chunk: Buffer) => { received += chunk.length })
    req.on('error', () => {})
    req.on('end', () => {
      const ok = (): void => {
        answerJson(res, 200, {
          ok: true,
          upstream: name,
          method: req.method,
          path: req.url,
          receivedBytes: received,
          at: new Date().toISOString()
        })
      }
      const later = (ms: number): void => {
        const timer = setTimeout(ok, ms)
        res.on('close', () => { clearTimeout(timer) })
      }
      if (name === 'slow') {
        later(randomInt(50, 301))
        return
      }
      if (name === 'flaky') {
        const r = Math.random()
        if (r < 0.02) {
          stats.flaky.reset++
          req.socket.resetAndDestroy()
          return
        }
        if (r < 0.04) {
          stats.flaky.closed++
          req.socket.destroy()
          return
        }
        if (r < 0.08) {
          stats.flaky.status500++
          answerJson(res, 500, { error: 'InternalError', message: 'database connection lost' })
          return
        }
        if (r < 0.10) {
          stats.flaky.hang++
          later(HANG_MS)
          return
        }
        if (r < 0.12) {
          stats.flaky.midBodyReset++
          res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': '4096' })
          res.write('{"ok":true,"rows":[')
          setTimeout(() => { req.socket.resetAndDestroy() }, 5)
          return
        }
      }
      ok()
    })
  }

  const servers = new Map<UpstreamName, Server>()
  const ports = new Map<UpstreamName, number>()
  for (const name of UPSTREAMS) {
    const server = createServer(handler(name))
    // Longer than the run's idle gaps: the gateway's pooled sockets are not closed under it.
    server.keepAliveTimeout = 60_000
    servers.set(name, server)
  }
  const listen = async (name: UpstreamName, port: number): Promise<number> => {
    const server = servers.get(name) as Server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve() })
    })
    return (server.address() as AddressInfo).port
  }

  const commands = async (line: string): Promise<void> => {
    const [command, which] = line.trim().split(' ')
    const name = which as UpstreamName
    const server = servers.get(name)
    if (command === 'down' && server !== undefined) {
      const closed = new Promise<void>((resolve) => { server.close(() => { resolve() }) })
      server.closeAllConnections()
      await closed
      say({ event: 'down', name })
    } else if (command === 'up' && server !== undefined) {
      for (let attempt = 1; ; attempt++) {
        try {
          await listen(name, ports.get(name) ?? 0)
          say({ event: 'up', name })
          return
        } catch (err) {
          if (attempt === 20) {
            say({ event: 'error', name, message: (err as Error).message })
            return
          }
          await sleep(250)
        }
      }
    } else if (command === 'stats') {
      say({ event: 'stats', stats })
    }
  }

  Promise.all(UPSTREAMS.map(async (name) => { ports.set(name, await listen(name, 0)) })).then(() => {
    say({ ports: Object.fromEntries(ports) })
    const input = createInterface({ input: process.stdin })
    let queue = Promise.resolve()
    input.on('line', (line) => { queue = queue.then(async () => { await commands(line) }) })
    // The orchestrator is gone: nothing else will stop this process.
    input.on('close', () => { process.exit(0) })
  }, (err: unknown) => {
    process.stderr.write(`upstreams: ${(err as Error).message}\n`)
    process.exit(1)
  })
}

export interface Upstreams extends Started {
  ports: Record<UpstreamName, number>
  send: (command: string) => void
  /** The next line `{"event": event, …}` from the upstreams' process. */
  next: (event: string) => Promise<Record<string, unknown>>
}

export async function startUpstreams (): Promise<Upstreams> {
  const child = spawn(process.execPath, [SELF, '--upstreams'], { stdio: ['pipe', 'pipe', 'pipe'] })
  const started = track(child, 'the upstreams')
  const waiting = new Map<string, Array<(line: Record<string, unknown>) => void>>()
  let portsLine: ((line: Record<string, unknown>) => void) | undefined
  const portsPromise = new Promise<Record<string, unknown>>((resolve) => { portsLine = resolve })
  createInterface({ input: child.stdout }).on('line', (text) => {
    let line: Record<string, unknown>
    try {
      line = JSON.parse(text) as Record<string, unknown>
    } catch {
      return
    }
    if ('ports' in line) {
      portsLine?.(line)
      return
    }
    const event = String(line.event)
    const queue = waiting.get(event)
    queue?.shift()?.(line)
  })
  const info = await Promise.race([
    portsPromise,
    sleep(READY_TIMEOUT_MS).then(() => { throw new Error(`the upstreams did not report their ports:\n${started.output()}`) }),
    started.exited.then(() => { throw new Error(`the upstreams exited:\n${started.output()}`) })
  ])
  return {
    ...started,
    ports: info.ports as Record<UpstreamName, number>,
    send: (command) => { child.stdin.write(command + '\n') },
    next: async (event) => await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`the upstreams did not answer '${event}' within 10 s`)) }, 10_000)
      const list = waiting.get(event) ?? []
      list.push((line) => { clearTimeout(timer); resolve(line) })
      waiting.set(event, list)
    })
  }
}
