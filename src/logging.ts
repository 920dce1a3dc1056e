import { fstatSync } from 'node:fs'
import pino, { type LoggerOptions } from 'pino'

type SonicBoom = ReturnType<typeof pino.destination>
import { pathOnly } from './http/problem.js'

// Credentials never reach a log line: these paths are censored wherever a
// request or response object, or a bare headers object, is logged. Explicit
// paths only: a `*.headers.x` wildcard makes pino walk every key of every
// line, which tripled the access log's cost in bench/ (47 µs → 15 µs a line
// without it). Log headers under one of these keys, or not at all.
const SECRET_HEADERS = ['authorization', '"x-api-key"', 'cookie', '"set-cookie"', '"proxy-authorization"']
export const REDACT_PATHS = SECRET_HEADERS.flatMap((h) => [
  `headers.${h}`,
  `req.headers.${h}`,
  `res.headers.${h}`,
  `request.headers.${h}`,
  `response.headers.${h}`
])

// pino's isoTime, made once per millisecond: under load many lines share a
// millisecond, and a Date plus toISOString per line showed at 2% of the
// gateway's CPU in bench/ profiles. Same text as pino.stdTimeFunctions.isoTime.
let stampMs = -1
let stamp = ''
function isoTime (): string {
  const now = Date.now()
  if (now !== stampMs) {
    stampMs = now
    stamp = `,"time":"${new Date(now).toISOString()}"`
  }
  return stamp
}

export function loggerOptions (level: string): LoggerOptions {
  return {
    level,
    timestamp: isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
    serializers: {
      // The default serializer logs the URL with its query string, which may
      // carry an API key (apiKeyQuery); only the path is logged, without credentials.
      req: (req: { method?: string, url?: string, id?: string }) => ({
        method: req.method,
        path: req.url === undefined ? undefined : pathOnly(req.url)
      }),
      err: pino.stdSerializers.err
    }
  }
}

/**
 * pino's sonic-boom destination, with access lines gathered for up to
 * BATCH_MS (or a batch's worth of characters, see batchSizesFor) and handed
 * over as one write. sonic-boom measures
 * the string it is still holding on every write (Buffer.byteLength flattens
 * it), so a line per write cost about 7 KB of garbage per request under load
 * (bench/, heap sampling). The batches still go through sonic-boom's
 * asynchronous writes: written in place, a stdout pipe that its reader
 * drains slowly would stall the event loop (a clean-clone CI run saw 503
 * OVERLOADED that way), where sonic-boom holds the lines in memory instead.
 * Any other line first sends the batch, so the file keeps the order lines
 * were made in; the batch is also written on flush, on end and on exit.
 */
const BATCH_MS = 20
// A write of at most PIPE_BUF bytes to a pipe is never split, so `--workers`
// sharing one stdout never interleave their lines: batches stay under it, and
// sonic-boom merges what waits for a write only up to it (maxWrite).
const PIPE_BUF = 4096
const PIPE_BATCH_CHARS = 4000
// A regular file (stdout redirected with `>` or systemd's `append:`) has no
// such limit: Linux writes one write(2) to a file whole, under the file's lock,
// whichever process shares the descriptor. Each write cost 60-200 µs of kernel
// time on the gateway's core in bench/ (ext4, 3.7 KB batches: ~9% of a
// request's CPU), nearly all of it per call, so batches are made larger there.
const FILE_WRITE = 64 * 1024
const FILE_BATCH_CHARS = 60_000

/** How the access log's batches are sized for what stdout is. */
export interface BatchSizes {
  /** Characters gathered before a batch is handed over. */
  batchChars: number
  /** sonic-boom's maxWrite: the most one write(2) carries. */
  maxWrite: number
}

export function batchSizesFor (fd: number): BatchSizes {
  let file = false
  // A closed or unusual descriptor gets the pipe's sizes, safe everywhere.
  try { file = fstatSync(fd).isFile() } catch {}
  return file
    ? { batchChars: FILE_BATCH_CHARS, maxWrite: FILE_WRITE }
    : { batchChars: PIPE_BATCH_CHARS, maxWrite: PIPE_BUF }
}

export class BatchedDestination implements pino.DestinationStream {
  readonly #sonic: SonicBoom
  readonly #batchChars: number
  #pending = ''
  #scheduled = false
  readonly #flushSoon = (): void => {
    this.#scheduled = false
    this.#drain()
  }

  constructor (sonic: SonicBoom, batchChars = PIPE_BATCH_CHARS) {
    this.#sonic = sonic
    this.#batchChars = batchChars
    // pino flushes its sonic-boom on exit; what is still gathered here goes first.
    process.once('exit', () => {
      if (this.#pending === '') return
      // A destroyed or not yet opened sonic-boom throws; nothing more can be written then.
      try {
        this.#drain()
        this.#sonic.flushSync()
      } catch {}
    })
  }

  write (line: string): boolean {
    if (this.#pending !== '') this.#drain()
    return this.#sonic.write(line)
  }

  /** A line that may wait up to BATCH_MS. */
  writeBatched (line: string): void {
    if (this.#pending.length + line.length > this.#batchChars) this.#drain()
    this.#pending += line
    if (!this.#scheduled) {
      this.#scheduled = true
      setTimeout(this.#flushSoon, BATCH_MS).unref()
    }
  }

  flush (cb?: (err?: Error) => void): void {
    this.#drain()
    this.#sonic.flush(cb)
  }

  flushSync (): void {
    this.#drain()
    this.#sonic.flushSync()
  }

  end (): void {
    this.#drain()
    this.#sonic.end()
  }

  #drain (): void {
    if (this.#pending === '') return
    const batch = this.#pending
    this.#pending = ''
    this.#sonic.write(batch)
  }
}

export function createLogger (level: string, destination?: pino.DestinationStream): pino.Logger {
  if (destination !== undefined) return pino(loggerOptions(level), destination)
  const { batchChars, maxWrite } = batchSizesFor(1)
  return pino(loggerOptions(level),
    new BatchedDestination(pino.destination({ dest: 1, sync: false, maxWrite }), batchChars))
}
