import pino, { type LoggerOptions } from 'pino'
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

export function createLogger (level: string, destination?: pino.DestinationStream): pino.Logger {
  return pino(loggerOptions(level), destination ?? pino.destination({ dest: 1, sync: false }))
}
