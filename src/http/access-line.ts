import pino, { type Logger } from 'pino'

// The access line of a request that went well, written straight to the
// logger's destination: the very text pino would write for the same fields
// (test/http/access-line.test.ts compares the two), without the object pino
// walks key by key. One line per request is the gateway's most frequent
// allocation after the request itself.

/** The fields of an access line, in the order they appear. */
export interface AccessFields {
  reqId: string
  traceId: string | undefined
  integration: string | undefined
  client: string | undefined
  method: string | undefined
  path: string
  status: number
  upstreamStatus: number | undefined
  durationMs: number
  bytesOut: number
  ip: string | undefined
  userAgent: string | undefined
}

const INFO = 30

// pino's own internals, read through its exported symbols (pino.symbols):
// the level prefix, the timestamp function, the child bindings, the line end
// and the destination.
interface PinoInternals {
  [key: symbol]: unknown
}
const { lsCacheSym, timeSym, chindingsSym, endSym, streamSym } = pino.symbols

/** Whether `logger` can take the fast path: at info or below, with pino's plain internals. */
export function canWriteDirectly (logger: Logger): boolean {
  const internals = logger as unknown as PinoInternals
  return logger.levelVal <= INFO && typeof internals[timeSym] === 'function' &&
    typeof (internals[lsCacheSym] as Record<number, string> | undefined)?.[INFO] === 'string' &&
    typeof (internals[streamSym] as { write?: unknown } | undefined)?.write === 'function'
}

const str = (value: string): string => JSON.stringify(value)

/** Writes `{…,"msg":"request"}` at info to the logger's destination; the caller checked canWriteDirectly. */
export function writeAccessLine (logger: Logger, f: AccessFields): void {
  const internals = logger as unknown as PinoInternals
  let line = (internals[lsCacheSym] as Record<number, string>)[INFO] as string +
    (internals[timeSym] as () => string)() + (internals[chindingsSym] as string) +
    ',"reqId":' + str(f.reqId)
  if (f.traceId !== undefined) line += ',"traceId":' + str(f.traceId)
  if (f.integration !== undefined) line += ',"integration":' + str(f.integration)
  if (f.client !== undefined) line += ',"client":' + str(f.client)
  if (f.method !== undefined) line += ',"method":' + str(f.method)
  line += ',"path":' + str(f.path) + ',"status":' + String(f.status)
  if (f.upstreamStatus !== undefined) line += ',"upstreamStatus":' + String(f.upstreamStatus)
  line += ',"durationMs":' + num(f.durationMs) + ',"bytesOut":' + num(f.bytesOut)
  if (f.ip !== undefined) line += ',"ip":' + str(f.ip)
  if (f.userAgent !== undefined) line += ',"userAgent":' + str(f.userAgent)
  line += ',"msg":"request"' + (internals[endSym] as string)
  const stream = internals[streamSym] as { write: (s: string) => void, writeBatched?: (s: string) => void }
  // The gateway's own destination (src/logging.ts) writes access lines a turn at a time.
  if (stream.writeBatched !== undefined) stream.writeBatched(line)
  else stream.write(line)
}

// As pino writes numbers: non-finite ones as null.
function num (value: number): string {
  return Number.isFinite(value) ? String(value) : 'null'
}
