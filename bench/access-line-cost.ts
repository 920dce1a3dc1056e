// The access line's own CPU cost, in one process and without a network: the real
// writeAccessLine and the logger's batched destination (src/logging.ts) with ~20 KB
// of short-lived garbage made between lines, as a proxied request makes, so that
// scavenges run as they do under load (docs/performance.md, item 7). A busy
// machine disturbs CPU time per line far less than a load test's req/s.
//
//   npm run build && node dist/bench/access-line-cost.js >/tmp/lines.log   # stdout: the lines
//   NO_LINE=1 node dist/bench/access-line-cost.js >/dev/null               # the garbage alone
import { randomUUID } from 'node:crypto'
import { createLogger } from '../src/logging.js'
import { canWriteDirectly, writeAccessLine } from '../src/http/access-line.js'

const LINES = Number(process.env.LINES ?? 400_000)
const withLine = process.env.NO_LINE === undefined
const logger = createLogger('info')
if (!canWriteDirectly(logger)) throw new Error('the logger does not take the direct path')
const ids = Array.from({ length: 1024 }, () => randomUUID())
let kept: unknown = null
let made = 0
const started = process.cpuUsage()

function someRequests (): void {
  for (let i = 0; i < 200; i++, made++) {
    const garbage: Array<{ n: number, s: string, pair: number[] }> = []
    for (let j = 0; j < 100; j++) garbage.push({ n: j, s: 'x' + j, pair: [j, j] })
    kept = garbage
    if (!withLine) continue
    writeAccessLine(logger, {
      reqId: ids[made & 1023] as string,
      traceId: (ids[(made + 3) & 1023] as string).replaceAll('-', ''),
      integration: 'api',
      client: ids[5],
      method: 'GET',
      path: '/api/bench',
      status: 200,
      upstreamStatus: 200,
      durationMs: (made % 900) / 100,
      bytesOut: 200,
      ip: '127.0.0.1',
      userAgent: undefined
    })
  }
  if (made < LINES) {
    setImmediate(someRequests)
    return
  }
  const used = process.cpuUsage(started)
  process.stderr.write(`${withLine ? 'with' : 'without'} access lines: ` +
    `${((used.user + used.system) * 1000 / LINES).toFixed(0)} ns of CPU per request (${kept === null ? 0 : LINES} requests)\n`)
  logger.flush()
}
someRequests()
