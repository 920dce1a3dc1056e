import type { Dispatcher } from 'undici'
import { GerbangError } from '../errors.js'
import { HeaderList } from '../upstream-plugins/header-list.js'
import type { PluginChain, PluginRequest } from '../upstream-plugins/chain.js'

// What an integration's plugins (src/upstream-plugins/) add to a forwarded
// request: their onRequest hooks before the first byte goes upstream, a
// second attempt when one asks for it (retryOn), and an answer held whole
// for their onResponse. The forwarder (src/proxy/forward.ts) creates one
// only for integrations with plugins, so its lean path has no plugin branches.

/** An upstream answer held for the plugins' onResponse: status line, client-bound headers, body so far. */
interface BufferedAnswer { status: number, statusText: string, headers: string[], chunks: Buffer[], size: number }

/** An answer as the plugins left it, ready to be written whole. */
export interface TransformedAnswer {
  status: number
  /** The upstream's reason phrase, kept when the plugins left its status as it was. */
  statusText: string | undefined
  /** Client-bound headers, content-length set to the body's. */
  headers: string[]
  body: Buffer
}

export class PluginStage {
  readonly request: PluginRequest
  readonly #plugins: PluginChain
  /** An async onRequest hook is under way (before the first byte goes upstream). */
  #pending = false
  #buffered: BufferedAnswer | undefined

  constructor (plugins: PluginChain, request: PluginRequest) {
    this.#plugins = plugins
    this.request = request
  }

  /** An async hook is under way: the deadline names `running` if it passes. */
  get pending (): boolean {
    return this.#pending
  }

  get running (): string {
    return this.request.running
  }

  /** This is a plugin's second attempt (the first's answer was replayed). */
  get retried (): boolean {
    return this.request.attempt !== 0
  }

  /**
   * Runs the onRequest hooks; then `ready` (`afterAwait`: time went by in an
   * async hook), or `failed` with what a hook threw. Neither is called when
   * `stillWanted` says the request is over by then.
   */
  prepare (ready: (afterAwait: boolean) => void, failed: (err: unknown) => void, stillWanted: () => boolean): void {
    let pending: Promise<void> | undefined
    try {
      pending = this.#plugins.runRequest(this.request)
    } catch (err) {
      failed(err)
      return
    }
    if (pending === undefined) {
      ready(false)
      return
    }
    this.#pending = true
    pending.then(() => {
      this.#pending = false
      if (stillWanted()) ready(true)
    }, (err: unknown) => {
      this.#pending = false
      if (stillWanted()) failed(err)
    })
  }

  /** The path and query to dispatch, as the hooks left them. */
  target (): string {
    return this.request.target()
  }

  /**
   * At the first attempt's answer: whether a plugin wants the request sent
   * again (a body kept whole can be; a streamed one cannot). Throws what the
   * plugin threw.
   */
  wantsReplay (statusCode: number, options: Dispatcher.DispatchOptions): boolean {
    return this.request.attempt === 0 && this.#plugins.retries &&
      (options.body === null || Buffer.isBuffer(options.body)) &&
      this.#plugins.wantsRetry(statusCode, this.request)
  }

  /** The replayed answer's body is drained: the next attempt is the second. */
  replayed (): void {
    this.request.attempt = 1
  }

  /** Whether this answer goes to the plugins' onResponse whole, rather than streamed. */
  buffers (method: string, statusCode: number): boolean {
    return this.#plugins.responseBodyLimit > 0 && method !== 'HEAD' && statusCode !== 204 && statusCode !== 304
  }

  startBuffering (status: number, statusText: string, headers: string[]): void {
    this.#buffered = { status, statusText, headers, chunks: [], size: 0 }
  }

  /** Holds a chunk; past the plugins' limit, drops the answer and returns the error to send instead. */
  addChunk (chunk: Buffer): GerbangError | undefined {
    const buffered = this.#buffered as BufferedAnswer
    buffered.size += chunk.length
    const { responseBodyLimit, responsePlugin } = this.#plugins
    if (buffered.size > responseBodyLimit) {
      this.#buffered = undefined
      return new GerbangError('UPSTREAM_ERROR',
        `${this.request.integration} answered more than ${responseBodyLimit} bytes, the most its ${responsePlugin} plugin reads`,
        { plugin: responsePlugin, upstreamStatus: buffered.status })
    }
    buffered.chunks.push(chunk)
    return undefined
  }

  /** The answer held so far is dropped (the upstream failed, or went silent). */
  drop (): void {
    this.#buffered = undefined
  }

  /** The whole answer is in: the plugins transform it. */
  async transform (): Promise<TransformedAnswer> {
    const buffered = this.#buffered as BufferedAnswer
    this.#buffered = undefined
    const response = {
      status: buffered.status,
      headers: new HeaderList(buffered.headers),
      body: Buffer.concat(buffered.chunks, buffered.size)
    }
    await this.#plugins.runResponse(response, this.request)
    const headers = response.headers
    headers.delete('transfer-encoding')
    headers.set('content-length', String(response.body.length))
    return {
      status: response.status,
      statusText: response.status === buffered.status ? buffered.statusText : undefined,
      headers: headers.array,
      body: response.body
    }
  }
}
