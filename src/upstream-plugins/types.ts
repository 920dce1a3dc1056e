import type { Static, TSchema, Type } from '@sinclair/typebox'
import type { FastifyBaseLogger } from 'fastify'

// The interface an integration plugin implements (routes.yaml `plugins:`).
// Built-in plugins live in the top-level plugins/ folder; operators' own
// plugins are files with the same shape. See docs/plugins.md.

/** Headers of an upstream request or response: names are case-insensitive, values strings. */
export interface UpstreamHeaders {
  get: (name: string) => string | undefined
  has: (name: string) => boolean
  /** Replaces every value of the header with this one. */
  set: (name: string, value: string) => void
  delete: (name: string) => void
}

/** The request Gerbang is about to send upstream, as a plugin may change it. */
export interface UpstreamRequest {
  /** The integration's name in routes.yaml. */
  readonly integration: string
  readonly method: string
  /** The upstream path without the query string, starting with `/`. */
  path: string
  /** The query string without its `?`; '' when there is none. */
  query: string
  readonly headers: UpstreamHeaders
  /** The Gerbang client that sent it; undefined on `auth: none` integrations. */
  readonly clientId: string | undefined
  /** 0, then 1 when a plugin's `retryOn` asked for a second attempt. */
  readonly attempt: number
}

/** The upstream's answer, buffered whole, for plugins that declare `responseBodyLimit`. */
export interface UpstreamResponse {
  status: number
  readonly headers: UpstreamHeaders
  /** The whole body; replace it to transform the answer (Content-Length follows). */
  body: Buffer
}

/** What a plugin does for one integration; every hook is optional. */
export interface PluginHooks {
  /** Runs before every attempt is sent upstream; may be async (a token fetch). */
  onRequest?: (request: UpstreamRequest) => void | Promise<void>
  /**
   * Called with the upstream's status before its body is read. Returning true
   * asks for one more attempt (onRequest runs again, with `attempt` 1), e.g. a
   * fresh token after a 401. Only requests without a body, or with a body of
   * at most 1 MiB that Gerbang could keep, are sent again.
   */
  retryOn?: (status: number, request: UpstreamRequest) => boolean
  /** Transforms the buffered answer; only called when the plugin declares `responseBodyLimit`. */
  onResponse?: (response: UpstreamResponse, request: UpstreamRequest) => void | Promise<void>
}

export interface PluginContext {
  /** The integration this instance serves. */
  readonly integration: string
  /** A logger bound to the integration and plugin. Never log a secret with it. */
  readonly log: FastifyBaseLogger
}

/**
 * A plugin: its name, the schema of its options, and how to build its hooks.
 * (`check` and `create` are methods so that a definition with a precise
 * options type is still a PluginDefinition of any schema.)
 */
export interface PluginDefinition<S extends TSchema = TSchema> {
  readonly name: string
  /** A TypeBox schema for the options; routes.yaml is checked against it at load. */
  readonly options: S
  /**
   * Declares that `onResponse` needs the upstream's body: answers up to this
   * many bytes are buffered; a larger one becomes a 502 naming the plugin.
   */
  readonly responseBodyLimit?: number
  /**
   * Checks beyond the schema, run when routes.yaml is loaded or checked
   * (`gerbang routes check`): a message naming the option that is wrong, or undefined.
   */
  check? (options: Static<S>): string | undefined
  /** Called once per integration and options when routes load (and again when they change). */
  create (options: Static<S>, context: PluginContext): PluginHooks
}

/**
 * What a plugin throws to fail a request with a clear answer: 502
 * UPSTREAM_AUTH_FAILED, or 504 UPSTREAM_TIMEOUT when `timeout` is true. The
 * message goes into the problem's `detail`: never put a secret in it.
 */
export class PluginFailure extends Error {
  readonly timeout: boolean
  constructor (message: string, options: { timeout?: boolean, cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'PluginFailure'
    this.timeout = options.timeout ?? false
  }
}

/** Typed identity: `export default definePlugin({ … })` checks the options' type against the schema. */
export function definePlugin<S extends TSchema> (definition: PluginDefinition<S>): PluginDefinition<S> {
  return definition
}

/**
 * A plugin file outside the project cannot import TypeBox by name, so its
 * default export may also be a function that receives what it needs.
 */
export interface PluginKit {
  readonly Type: typeof Type
  readonly PluginFailure: typeof PluginFailure
}
