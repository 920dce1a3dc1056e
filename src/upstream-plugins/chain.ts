import pino from 'pino'
import type { FastifyBaseLogger } from 'fastify'
import { GerbangError } from '../errors.js'
import { HeaderList } from './header-list.js'
import { PluginFailure, type PluginDefinition, type PluginHooks, type UpstreamRequest, type UpstreamResponse } from './types.js'

/** One plugin of an integration, as routes.yaml configured it (options checked against its schema). */
export interface ConfiguredPlugin {
  /** The name or path written in routes.yaml. */
  ref: string
  definition: PluginDefinition
  options: unknown
}

/** Bodies up to this size are kept so a request can be sent again when a plugin asks (a 401 and a fresh token). */
export const REPLAY_BODY_LIMIT = 1024 * 1024

/** An error thrown by a plugin's hook, with the plugin's name attached. */
export class PluginHookError extends Error {
  readonly plugin: string
  constructor (plugin: string, cause: unknown) {
    super(`the ${plugin} plugin failed`, { cause })
    this.plugin = plugin
  }
}

/** The request a plugin sees and edits; one per forwarded request of an integration with plugins. */
export class PluginRequest implements UpstreamRequest {
  readonly integration: string
  readonly method: string
  path: string
  query: string
  readonly headers: HeaderList
  readonly clientId: string | undefined
  attempt = 0
  /** The plugin whose async hook is under way, to name it if the deadline passes. */
  running = ''

  constructor (integration: string, method: string, target: string, headers: string[], clientId: string | undefined) {
    this.integration = integration
    this.method = method
    const q = target.indexOf('?')
    this.path = q === -1 ? target : target.slice(0, q)
    this.query = q === -1 ? '' : target.slice(q + 1)
    this.headers = new HeaderList(headers)
    this.clientId = clientId
  }

  /** The path and query to dispatch, as the plugins left them. */
  target (): string {
    const path = this.path.charCodeAt(0) === 47 /* / */ ? this.path : '/' + this.path
    return this.query === '' ? path : `${path}?${this.query}`
  }
}

interface Hook<F> { plugin: string, fn: F }
type RequestHook = NonNullable<PluginHooks['onRequest']>
type RetryHook = NonNullable<PluginHooks['retryOn']>
type ResponseHook = NonNullable<PluginHooks['onResponse']>

/**
 * An integration's plugins, ready to run: their hooks in routes.yaml order,
 * split by kind so a request only walks the hooks that exist.
 */
export class PluginChain {
  readonly #request: Array<Hook<RequestHook>> = []
  readonly #retry: Array<Hook<RetryHook>> = []
  readonly #response: Array<Hook<ResponseHook>> = []
  /** Bytes of the upstream's answer to buffer for onResponse; 0 when no plugin transforms answers. */
  readonly responseBodyLimit: number
  /** The plugin that set that limit, to name it when an answer is larger. */
  readonly responsePlugin: string

  constructor (instances: ReadonlyArray<{ name: string, hooks: PluginHooks, responseBodyLimit: number | undefined }>) {
    let limit = 0
    let limiter = ''
    for (const { name, hooks, responseBodyLimit } of instances) {
      if (hooks.onRequest !== undefined) this.#request.push({ plugin: name, fn: hooks.onRequest.bind(hooks) })
      if (hooks.retryOn !== undefined) this.#retry.push({ plugin: name, fn: hooks.retryOn.bind(hooks) })
      if (hooks.onResponse !== undefined && responseBodyLimit !== undefined) {
        this.#response.push({ plugin: name, fn: hooks.onResponse.bind(hooks) })
        if (responseBodyLimit > limit) {
          limit = responseBodyLimit
          limiter = name
        }
      }
    }
    this.responseBodyLimit = limit
    this.responsePlugin = limiter
  }

  /** Whether a plugin may ask for a request to be sent again (its body is then kept). */
  get retries (): boolean {
    return this.#retry.length > 0
  }

  /**
   * Runs every onRequest hook in order. Returns undefined when all of them
   * finished synchronously (no promise on the hot path), else a promise.
   * Throws, or rejects with, a PluginHookError.
   */
  runRequest (request: PluginRequest): Promise<void> | undefined {
    if (this.#response.length > 0 && request.attempt === 0) {
      // The transform reads the body as the upstream wrote it; a plugin may still ask otherwise.
      request.headers.set('accept-encoding', 'identity')
    }
    return this.#runRequestFrom(0, request)
  }

  #runRequestFrom (start: number, request: PluginRequest): Promise<void> | undefined {
    const hooks = this.#request
    for (let i = start; i < hooks.length; i++) {
      const { plugin, fn } = hooks[i] as Hook<RequestHook>
      let result: void | Promise<void>
      try {
        result = fn(request)
      } catch (err) {
        throw new PluginHookError(plugin, err)
      }
      if (result !== undefined && typeof result.then === 'function') {
        request.running = plugin
        return result.then(
          () => this.#runRequestFrom(i + 1, request),
          (err: unknown) => { throw new PluginHookError(plugin, err) }
        )
      }
    }
    return undefined
  }

  /** Whether any plugin asks for another attempt after this status. Throws a PluginHookError. */
  wantsRetry (status: number, request: PluginRequest): boolean {
    let wanted = false
    for (const { plugin, fn } of this.#retry) {
      try {
        // Every plugin hears the status (each may drop its own stale credential).
        if (fn(status, request)) wanted = true
      } catch (err) {
        throw new PluginHookError(plugin, err)
      }
    }
    return wanted
  }

  /** Runs every onResponse hook in order, sync or async, like runRequest. */
  async runResponse (response: UpstreamResponse, request: PluginRequest): Promise<void> {
    for (const { plugin, fn } of this.#response) {
      try {
        await fn(response, request)
      } catch (err) {
        throw new PluginHookError(plugin, err)
      }
    }
  }
}

/**
 * The problem a plugin's failure answers with: 502 UPSTREAM_AUTH_FAILED, or
 * 504 UPSTREAM_TIMEOUT for a PluginFailure that says it timed out. A
 * PluginFailure's message is the plugin author's words for the client;
 * anything else is a bug in the plugin, logged by its message only, since its
 * text might carry what the plugin was working with.
 */
export function pluginProblem (integration: string, err: unknown, log: Pick<FastifyBaseLogger, 'warn' | 'error'>): GerbangError {
  const plugin = err instanceof PluginHookError ? err.plugin : 'unknown'
  const cause = err instanceof PluginHookError ? err.cause : err
  if (cause instanceof PluginFailure) {
    log.warn({ integration, plugin, reason: cause.message }, 'plugin failed')
    return new GerbangError(cause.timeout ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_AUTH_FAILED',
      `${integration}: the ${plugin} plugin failed: ${cause.message}`, { plugin })
  }
  const error = cause instanceof Error ? { type: cause.name, message: cause.message } : { type: typeof cause }
  log.error({ integration, plugin, error }, 'plugin threw an unexpected error')
  return new GerbangError('UPSTREAM_AUTH_FAILED', `${integration}: the ${plugin} plugin failed unexpectedly`, { plugin })
}

/**
 * Plugin instances kept across route reloads: an integration whose plugin and
 * options did not change keeps its instance, so a reload does not throw away
 * a cached upstream token. Instances no table uses any more are dropped.
 */
export class PluginInstances {
  readonly #log: FastifyBaseLogger
  #live = new Map<string, { definition: PluginDefinition, hooks: PluginHooks }>()
  #next = new Map<string, { definition: PluginDefinition, hooks: PluginHooks }>()

  constructor (log: FastifyBaseLogger = pino({ level: 'silent' })) {
    this.#log = log
  }

  /** The chain for one integration, reusing instances built by the previous table where nothing changed. */
  chain (integration: string, plugins: readonly ConfiguredPlugin[]): PluginChain {
    const instances = plugins.map(({ ref, definition, options }, index) => {
      const key = `${integration}\0${index}\0${ref}\0${JSON.stringify(options)}`
      let entry = this.#live.get(key) ?? this.#next.get(key)
      if (entry === undefined || entry.definition !== definition) {
        const log = this.#log.child({ integration, plugin: definition.name })
        try {
          entry = { definition, hooks: definition.create(options, { integration, log }) }
        } catch (err) {
          throw new Error(`integration ${integration}: the ${ref} plugin could not start: ${err instanceof Error ? err.message : String(err)}`)
        }
      }
      this.#next.set(key, entry)
      return { name: definition.name, hooks: entry.hooks, responseBodyLimit: definition.responseBodyLimit }
    })
    return new PluginChain(instances)
  }

  /** Ends a table build: what it did not ask for is forgotten (requests still on the old table keep their hooks). */
  commit (): void {
    this.#live = this.#next
    this.#next = new Map()
  }

  /** Ends a table build that failed: the live instances stay as they were. */
  rollback (): void {
    this.#next = new Map()
  }
}
