// Every line the soak's gateway writes, read as it comes: what the verdict on
// unhandled errors is made of.
import { createWriteStream, type WriteStream } from 'node:fs'
import { EXPECTED_ERRORS, KNOWN_STDERR } from './settings.js'

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' }
export const LEVEL_VALUES: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 }

interface LogSample { t: number, line: string }

/** Every line the gateway writes, read as it comes: counted by level and message; warn and above kept in a file. */
export class GatewayLog {
  lines = 0
  accessLines = 0
  failedAccessLines = 0
  nonJson = 0
  readonly nonJsonSamples: string[] = []
  readonly byLevel: Record<string, number> = {}
  /** `level msg` → count, every line but the access lines. */
  readonly byMessage = new Map<string, number>()
  readonly expected = new Map<string, number>()
  unexpectedCount = 0
  readonly unexpected: LogSample[] = []
  fatal = 0
  stderrLines = 0
  readonly stderrUnexpected: LogSample[] = []
  stderrUnexpectedCount = 0
  readyAddress: string | undefined
  readonly #out: WriteStream
  readonly #t0: () => number
  #stderrRest = ''

  constructor (warnFile: string, t0: () => number) {
    this.#out = createWriteStream(warnFile)
    this.#t0 = t0
  }

  line (text: string): void {
    if (text === '') return
    this.lines++
    let parsed: { level?: unknown, msg?: unknown, address?: unknown }
    try {
      parsed = JSON.parse(text) as typeof parsed
    } catch {
      this.nonJson++
      if (this.nonJsonSamples.length < 10) this.nonJsonSamples.push(text.slice(0, 500))
      return
    }
    const level = typeof parsed.level === 'number' ? LEVEL_NAMES[parsed.level] ?? String(parsed.level) : String(parsed.level)
    const msg = typeof parsed.msg === 'string' ? parsed.msg : ''
    this.byLevel[level] = (this.byLevel[level] ?? 0) + 1
    if (msg === 'request' && level === 'info') {
      this.accessLines++
      return
    }
    if (msg === 'request failed' || msg === 'request cut off by the upstream') this.failedAccessLines++
    if (msg === 'gerbang is ready' && typeof parsed.address === 'string') this.readyAddress = parsed.address
    const key = `${level} ${msg}`
    this.byMessage.set(key, (this.byMessage.get(key) ?? 0) + 1)
    const value = LEVEL_VALUES[level] ?? 0
    if (value >= 40) this.#out.write(`${this.#t0().toFixed(1)} ${text}\n`)
    if (value < 50) return
    if (value >= 60) this.fatal++
    if (value < 60 && EXPECTED_ERRORS.some((e) => e.msg === msg)) {
      this.expected.set(msg, (this.expected.get(msg) ?? 0) + 1)
      return
    }
    this.unexpectedCount++
    if (this.unexpected.length < 20) this.unexpected.push({ t: this.#t0(), line: text.slice(0, 2000) })
  }

  stderr (chunk: Buffer): void {
    const text = this.#stderrRest + chunk.toString()
    const parts = text.split('\n')
    this.#stderrRest = parts.pop() ?? ''
    for (const line of parts) this.#stderrLine(line)
  }

  #stderrLine (line: string): void {
    if (line.trim() === '') return
    this.stderrLines++
    if (KNOWN_STDERR.some((re) => re.test(line))) return
    this.stderrUnexpectedCount++
    if (this.stderrUnexpected.length < 20) this.stderrUnexpected.push({ t: this.#t0(), line: line.slice(0, 2000) })
  }

  async close (): Promise<void> {
    if (this.#stderrRest !== '') this.#stderrLine(this.#stderrRest)
    this.#stderrRest = ''
    await new Promise<void>((resolve) => { this.#out.end(resolve) })
  }
}
