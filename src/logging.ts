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
 * BATCH_MS (or a batch's worth of bytes, see batchSizesFor) and handed over
 * as one write. Each line is encoded into the batch's buffer as it is made,
 * while its pieces are still in the CPU's cache, and is garbage at once: a
 * batch kept as a string was a rope of thousands of pieces that lived
 * through scavenges, was measured again by sonic-boom (Buffer.byteLength)
 * and was flattened and encoded cold when written (docs/performance.md).
 * sonic-boom runs in buffer mode, so a batch is written as it is.
 * The batches still go through sonic-boom's
 * asynchronous writes: written in place, a stdout pipe that its reader
 * drains slowly would stall the event loop (a clean-clone CI run saw 503
 * OVERLOADED that way), where sonic-boom holds the lines in memory instead.
 * Any other line first sends the batch, so the file keeps the order lines
 * were made in; the batch is also written on flush, on end and on exit.
 */
const BATCH_MS = 20
// A write of at most PIPE_BUF bytes to a pipe is never split, so `--workers`
// sharing one stdout never interleave their lines: batches are at most that,
// and sonic-boom merges what waits for a write only up to it (maxWrite).
const PIPE_BUF = 4096
// A regular file (stdout redirected with `>` or systemd's `append:`) has no
// such limit: Linux writes one write(2) to a file whole, under the file's lock,
// whichever process shares the descriptor, so batches are larger there: fewer
// writes, fewer thread-pool round trips.
const FILE_WRITE = 64 * 1024

/** How the access log's batches are sized for what stdout is. */
export interface BatchSizes {
  /** Bytes gathered before a batch is handed over. */
  batchBytes: number
  /** sonic-boom's maxWrite: the most one write(2) carries. */
  maxWrite: number
}

export function batchSizesFor (fd: number): BatchSizes {
  let file = false
  // A closed or unusual descriptor gets the pipe's sizes, safe everywhere.
  try { file = fstatSync(fd).isFile() } catch {}
  return file
    ? { batchBytes: FILE_WRITE, maxWrite: FILE_WRITE }
    : { batchBytes: PIPE_BUF, maxWrite: PIPE_BUF }
}

/** A sonic-boom destination in buffer mode, as BatchedDestination needs. */
export function bufferDestination (fd: number, maxWrite: number, sync = false): SonicBoom {
  return pino.destination({ dest: fd, sync, maxWrite, contentMode: 'buffer' })
}

// sonic-boom in buffer mode takes Buffers; its types describe only its utf8 mode's strings.
function send (sonic: SonicBoom, bytes: Buffer): boolean {
  return sonic.write(bytes as unknown as string)
}

export class BatchedDestination implements pino.DestinationStream {
  readonly #sonic: SonicBoom
  readonly #batchBytes: number
  #batch: Buffer
  #used = 0
  #scheduled = false
  readonly #flushSoon = (): void => {
    this.#scheduled = false
    this.#drain()
  }

  /** @param sonic a sonic-boom in buffer mode (bufferDestination) */
  constructor (sonic: SonicBoom, batchBytes = PIPE_BUF) {
    this.#sonic = sonic
    this.#batchBytes = batchBytes
    this.#batch = Buffer.allocUnsafe(batchBytes)
    // pino flushes its sonic-boom on exit; what is still gathered here goes first.
    process.once('exit', () => {
      if (this.#used === 0) return
      // A destroyed or not yet opened sonic-boom throws; nothing more can be written then.
      try {
        this.#drain()
        this.#sonic.flushSync()
      } catch {}
    })
  }

  write (line: string): boolean {
    if (this.#used !== 0) this.#drain()
    return send(this.#sonic, Buffer.from(line))
  }

  /** A line that may wait up to BATCH_MS. */
  writeBatched (line: string): void {
    // Three bytes a UTF-16 unit is the most UTF-8 takes; the exact length is asked only near the end.
    if (this.#used + line.length * 3 > this.#batchBytes) {
      const bytes = Buffer.byteLength(line)
      if (this.#used + bytes > this.#batchBytes) this.#drain()
      if (bytes > this.#batchBytes) {
        send(this.#sonic, Buffer.from(line))
        return
      }
    }
    this.#used += this.#batch.write(line, this.#used)
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
    if (this.#used === 0) return
    const batch = this.#batch.subarray(0, this.#used)
    // sonic-boom keeps the batch until it is written: the next one gets its own buffer.
    this.#batch = Buffer.allocUnsafe(this.#batchBytes)
    this.#used = 0
    send(this.#sonic, batch)
  }
}

export function createLogger (level: string, destination?: pino.DestinationStream): pino.Logger {
  if (destination !== undefined) return pino(loggerOptions(level), destination)
  const { batchBytes, maxWrite } = batchSizesFor(1)
  return pino(loggerOptions(level), new BatchedDestination(bufferDestination(1, maxWrite), batchBytes))
}
