// What `cors:` (and two upstream targets) cost, measured tightly: ONE gateway process with the same
// integration twice, `yankes` without cors and `yankes-cors` with it, and
// short load bursts that alternate between them, so both see the same
// process (JIT, heap) and the same moment of a shared machine. Three kinds of
// burst: yankes without Origin (what `gateway` in bench/run.ts sends), yankes
// with an Origin (ignored: it is only passed on), yankes-cors with an allowed
// Origin (checked, and every answer carries the CORS headers).
// See bench/README.md, "What cors costs".
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { positiveInt } from './env.js'
import { startGateway, startOrigin } from './gateway.js'
import { load } from './load.js'
import { fmt, table } from './output.js'
import { cpuUs } from './proc.js'
import { onExit, runMain, stop, stopEach, type Started } from './processes.js'

const ROUNDS = positiveInt('BENCH_ROUNDS', 10)
const BURST_S = positiveInt('BENCH_DURATION', 3)
const CONNECTIONS = positiveInt('BENCH_CONNECTIONS', 50)
const PIN = process.env.BENCH_PIN === '1'
const ORIGIN = 'https://dashboard.bantenprov.go.id'
const CORS_ENTRY = `{ origins: ["${ORIGIN}", "https://*.bantenprov.go.id"] }`

interface Variant { name: string, path: string, headers?: Record<string, string> }
const VARIANTS: Variant[] = [
  { name: 'no cors, no Origin', path: '/yankes/kamar?rs=1' },
  { name: 'no cors, Origin', path: '/yankes/kamar?rs=1', headers: { origin: ORIGIN } },
  { name: 'cors, Origin', path: '/yankes-cors/kamar?rs=1', headers: { origin: ORIGIN } },
  // Issue 14: the same integration with two upstream targets (the origin's two ports), no Origin.
  { name: 'two targets', path: '/yankes-2targets/kamar?rs=1' }
]

interface Burst { round: number, variant: number, reqPerSec: number, cpuUsPerReq: number, non2xx: number }

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

function pct (a: number, b: number): string {
  const v = (a / b - 1) * 100
  return `${v > 0 ? '+' : ''}${v.toFixed(1)}%`
}

let workDir: string | undefined
onExit(() => { if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true }) })

async function main (): Promise<number> {
  workDir = mkdtempSync(join(tmpdir(), 'gerbang-cors-ab-'))
  const cpuCount = cpus().length
  if (PIN) execFileSync('taskset', ['-a', '-p', '-c', cpuCount > 2 ? `0-${cpuCount - 2}` : '0', String(process.pid)], { stdio: 'ignore' })
  let origin: (Started & { port2: number }) | undefined
  let gateway: Started | undefined
  try {
    origin = await startOrigin()
    const routesDir = join(workDir, 'routes')
    const routesFile = join(routesDir, 'routes.yaml')
    execFileSync('mkdir', ['-p', routesDir])
    writeFileSync(routesFile, [
      'defaults:', '  auth: none', '  rateLimit: 1000000000/1s', 'integrations:',
      '  yankes:', `    upstream: http://127.0.0.1:${origin.port}/api/v1`,
      '  yankes-cors:', `    upstream: http://127.0.0.1:${origin.port}/api/v1`, `    cors: ${CORS_ENTRY}`,
      '  yankes-2targets:', '    upstream:', `      - http://127.0.0.1:${origin.port}/api/v1`, `      - http://127.0.0.1:${origin.port2}/api/v1`, ''
    ].join('\n'))
    gateway = await startGateway({ routesFile, logFile: join(workDir, 'gateway.log'), logLevel: 'info', redisUrl: '', keyPepper: '' })
    if (PIN) execFileSync('taskset', ['-a', '-p', '-c', String(cpuCount - 1), String(gateway.pid)], { stdio: 'ignore' })
    const port = gateway.port
    const check = await fetch(`http://127.0.0.1:${port}${VARIANTS[2]?.path ?? ''}`, { headers: { origin: ORIGIN } })
    await check.arrayBuffer()
    if (check.headers.get('access-control-allow-origin') !== ORIGIN) throw new Error('yankes-cors answers without Access-Control-Allow-Origin')
    process.stdout.write(`cors-ab: node ${process.version}, ${cpuCount} CPUs, ${CONNECTIONS} connections, ${ROUNDS} rounds of ` +
      `${VARIANTS.length} bursts of ${BURST_S} s (order rotated each round)${PIN ? ', gateway pinned to the last CPU' : ''}\n`)
    for (const v of VARIANTS) {
      await load({
        port,
        path: v.path,
        seconds: 2,
        connections: CONNECTIONS,
        pipelining: 1,
        ...(v.headers !== undefined ? { headers: v.headers } : {})
      })
    }
    const bursts: Burst[] = []
    for (let round = 1; round <= ROUNDS; round++) {
      for (let k = 0; k < VARIANTS.length; k++) {
        const index = (k + round) % VARIANTS.length
        const v = VARIANTS[index] as Variant
        const cpu0 = cpuUs(gateway.pid)
        const result = await load({
          port,
          path: v.path,
          seconds: BURST_S,
          connections: CONNECTIONS,
          pipelining: 1,
          ...(v.headers !== undefined ? { headers: v.headers } : {})
        })
        const cpu1 = cpuUs(gateway.pid)
        bursts.push({
          round,
          variant: index,
          reqPerSec: result.requests.mean,
          cpuUsPerReq: cpu0 === null || cpu1 === null ? Number.NaN : (cpu1 - cpu0) / Math.max(result.requests.total, 1),
          non2xx: result.non2xx
        })
      }
      process.stdout.write(`cors-ab: round ${round}: ${VARIANTS.map((v, i) => {
        const b = bursts.find((x) => x.round === round && x.variant === i) as Burst
        return `${v.name} ${fmt(b.reqPerSec)} req/s ${b.cpuUsPerReq.toFixed(1)} µs/req`
      }).join(' | ')}\n`)
    }
    const of = (i: number): Burst[] => bursts.filter((b) => b.variant === i)
    const rows = VARIANTS.map((v, i) => [v.name, fmt(median(of(i).map((b) => b.reqPerSec))),
      median(of(i).map((b) => b.cpuUsPerReq)).toFixed(1),
      String(of(i).reduce((n, b) => n + b.non2xx, 0))])
    const paired = (a: number, b: number, pick: (x: Burst) => number): number[] => {
      const out: number[] = []
      for (let round = 1; round <= ROUNDS; round++) {
        const x = bursts.find((r) => r.round === round && r.variant === a) as Burst
        const y = bursts.find((r) => r.round === round && r.variant === b) as Burst
        out.push(pick(x) / pick(y))
      }
      return out
    }
    const line = (a: number, b: number): string => {
      const rps = median(paired(a, b, (x) => x.reqPerSec))
      const cpu = median(paired(a, b, (x) => x.cpuUsPerReq))
      return `  ${VARIANTS[a]?.name ?? ''} against ${VARIANTS[b]?.name ?? ''}: req/s ${pct(rps, 1)}, cpu µs/req ${pct(cpu, 1)} (medians of the ${ROUNDS} rounds' ratios)`
    }
    process.stdout.write('\n' + table(['burst', 'median req/s', 'median cpu µs/req', 'non-2xx'], rows) + '\n\n' +
      'what cors costs (- req/s and + cpu are costs):\n' + line(2, 0) + '\n' + line(2, 1) + '\n' + line(1, 0) + '\n' +
      'what two upstream targets cost:\n' + line(3, 0) + '\n')
    return bursts.some((b) => b.non2xx > 0) ? 1 : 0
  } finally {
    await stop(gateway)
    await stopEach([origin])
  }
}

runMain(main)
