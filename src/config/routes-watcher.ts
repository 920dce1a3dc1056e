import { watch, type FSWatcher } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { FastifyBaseLogger } from 'fastify'
import { formatProblem, loadRoutesFile } from './routes-loader.js'
import type { RouteTables, RoutesDiff } from '../proxy/route-tables.js'

// Hot reload of routes.yaml. A change to the file (watched through its
// directory, since editors and Kubernetes ConfigMaps replace files rather
// than write them in place) or SIGHUP loads and validates it; a valid file
// replaces the whole routing table at once (RouteTables.apply), an invalid one
// is logged problem by problem and changes nothing.

const DEFAULT_DEBOUNCE_MS = 150
/** However busy the directory, a reload starts at most this long after the first event of a burst. */
const MAX_DEBOUNCE_MS = 1000

export interface RoutesWatcherOptions {
  file: string
  env: NodeJS.ProcessEnv
  logger: FastifyBaseLogger
  /** Quiet time after the last change event before the file is read; editors write in bursts. */
  debounceMs?: number
}

export class RoutesWatcher {
  readonly #tables: RouteTables
  readonly #options: RoutesWatcherOptions
  #watcher: FSWatcher | undefined
  #timer: NodeJS.Timeout | undefined
  /** When the first event of the current burst came. */
  #burstStartedAt = 0
  #running: Promise<void> | undefined
  #again = false
  #lastText: string | undefined

  constructor (tables: RouteTables, options: RoutesWatcherOptions) {
    this.#tables = tables
    this.#options = options
    this.#lastText = tables.table.config.source?.text
  }

  /** Starts watching the file's directory. */
  watch (): void {
    this.#watcher = watch(dirname(this.#options.file), { persistent: false }, () => { this.#schedule() })
    this.#watcher.on('error', (err) => { this.#options.logger.warn({ err }, 'cannot watch the routes file; SIGHUP still reloads it') })
  }

  #schedule (): void {
    const now = performance.now()
    // Events come for every file in the directory: one written all the time
    // beside routes.yaml (a log) must not push the reload back for ever.
    if (this.#timer !== undefined && now - this.#burstStartedAt >= MAX_DEBOUNCE_MS) return
    if (this.#timer === undefined) this.#burstStartedAt = now
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.reload('file changed').catch(() => {})
    }, this.#options.debounceMs ?? DEFAULT_DEBOUNCE_MS)
    this.#timer.unref()
  }

  /**
   * Loads the file and applies it if it is valid and different. One reload runs at a time; a change meanwhile runs one
   * more.
   */
  async reload (reason: string): Promise<void> {
    if (this.#running !== undefined) {
      this.#again = true
      return await this.#running
    }
    this.#running = this.#reload(reason)
    try {
      await this.#running
    } finally {
      this.#running = undefined
    }
    if (this.#again) {
      this.#again = false
      await this.reload(reason)
    }
  }

  async #reload (reason: string): Promise<void> {
    const { file, env, logger } = this.#options
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      // Mid-replace the file can be briefly missing; the next event retries.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      text = ''
    }
    // Watch events also come for other files in the directory and for writes
    // that change nothing: only a different text is a reload.
    if (reason === 'file changed' && text === this.#lastText) return
    this.#lastText = text
    const loaded = await loadRoutesFile(file, env)
    if (!loaded.ok) {
      this.#refuse(reason, loaded.problems.map((p) => formatProblem(file, p)))
      return
    }
    let diff: RoutesDiff
    try {
      diff = this.#tables.apply(loaded.config)
    } catch (err) {
      // A plugin's own start-up refused its options: the old table keeps serving.
      this.#refuse(reason, [`${file}: ${(err as Error).message}`])
      return
    }
    this.#tables.applied(diff)
    logger.info({ routes: file, reason, ...diff, integrations: loaded.config.integrations.length }, 'routes reloaded')
  }

  /** Records and logs a refused reload, problem by problem; the running routes stay. */
  #refuse (reason: string, problems: string[]): void {
    const { file, logger } = this.#options
    this.#tables.refused(problems)
    for (const problem of problems) logger.error({ routes: file, problem }, 'routes.yaml problem')
    logger.error({ routes: file, reason, problems: problems.length }, 'routes reload refused: the previous routes keep serving')
  }

  close (): void {
    clearTimeout(this.#timer)
    this.#watcher?.close()
  }
}
