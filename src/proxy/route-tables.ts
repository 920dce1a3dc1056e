import type { FastifyBaseLogger } from 'fastify'
import type { Integration, RoutesConfig } from '../config/routes-loader.js'
import type { PluginInstances } from '../upstream-plugins/chain.js'
import type { TargetHealthRegistry } from './balancer.js'
import { RouteTable, type UpstreamConnectOptions } from './route-table.js'

// The routes' lifecycle in one place: the live routing table, the swap to a
// new one on reload, the retirement of the old one, and what the last
// reload did. The watcher (src/config/routes-watcher.ts) and the app's
// reload-time consumers (health checks, /doc, WebSockets) talk to this
// object, not to the Fastify instance.

/** What a new configuration adds, removes and changes, by integration name. */
export interface RoutesDiff {
  added: string[]
  removed: string[]
  changed: string[]
}

/** When routes were last (re)loaded, what changed, and what was wrong if the load was refused. */
export interface LastReload {
  at: string
  ok: boolean
  problems: string[]
  added?: string[]
  removed?: string[]
  changed?: string[]
}

/**
 * The live routing table, read by requests. Requests read `table` once when
 * they start, so a new table can be swapped in whole while earlier requests
 * finish on the old one.
 */
export interface RouteTableHolder {
  readonly table: RouteTable
  readonly closing: boolean
  readonly lastReload: LastReload
  /** Reloads since start: applied, and refused (an invalid file). */
  readonly reloads: { ok: number, failed: number }
}

/**
 * A retired table's requests may still be authenticating: they dispatch on
 * its pools a moment later, so the pools close after this grace period
 * (Pool.close then waits for the requests it is serving).
 */
const RETIRED_TABLE_GRACE_MS = 30_000

export interface RouteTablesOptions {
  upstreamConnect?: UpstreamConnectOptions | undefined
  /** Integration plugins keep their state (a cached token) across reloads that leave them unchanged. */
  pluginInstances: PluginInstances
  /** Targets keep what is known of their health across reloads, too. */
  targetHealth: TargetHealthRegistry
  logger: FastifyBaseLogger
}

export class RouteTables implements RouteTableHolder {
  table: RouteTable
  closing = false
  lastReload: LastReload = { at: new Date().toISOString(), ok: true, problems: [] }
  readonly reloads = { ok: 0, failed: 0 }
  readonly #options: RouteTablesOptions
  /** Tables a reload replaced, each with the timer that closes it. */
  readonly #retired = new Map<RouteTable, NodeJS.Timeout>()
  readonly #listeners: Array<(routes: RoutesConfig, table: RouteTable) => void> = []

  constructor (routes: RoutesConfig, options: RouteTablesOptions) {
    this.#options = options
    this.table = this.#build(routes)
  }

  /** Calls `listener` with every table swapped in (health checks, /doc, WebSockets follow the routes). */
  onApplied (listener: (routes: RoutesConfig, table: RouteTable) => void): void {
    this.#listeners.push(listener)
  }

  /**
   * Swaps in a table built from `routes` (already validated): new requests
   * use it at once, requests in flight finish on the old one, whose
   * connections close after a grace period. Throws, leaving the live table
   * as it was, when an integration's plugin refuses its options.
   */
  apply (routes: RoutesConfig): RoutesDiff {
    const old = this.table
    this.table = this.#build(routes)
    this.#options.targetHealth.retain(routes.integrations)
    for (const listener of this.#listeners) listener(routes, this.table)
    this.#retired.set(old, setTimeout(() => {
      this.#retired.delete(old)
      old.close().catch((err: unknown) => { this.#options.logger.warn({ err }, 'closing the previous routes\' connections failed') })
    }, RETIRED_TABLE_GRACE_MS).unref())
    return diffIntegrations(old.config.integrations, routes.integrations)
  }

  /** Records a reload that was applied. */
  applied (diff: RoutesDiff): void {
    this.reloads.ok++
    this.lastReload = { at: new Date().toISOString(), ok: true, problems: [], ...diff }
  }

  /** Records a reload that was refused; the live table stays. */
  refused (problems: string[]): void {
    this.reloads.failed++
    this.lastReload = { at: new Date().toISOString(), ok: false, problems }
  }

  /** Closes the live table and every retired one now (retired ones not again when their grace period ends). */
  async close (): Promise<void> {
    for (const timer of this.#retired.values()) clearTimeout(timer)
    const tables = [this.table, ...this.#retired.keys()]
    this.#retired.clear()
    await Promise.all(tables.map(async (table) => { await table.close() }))
  }

  #build (routes: RoutesConfig): RouteTable {
    const { upstreamConnect, pluginInstances, targetHealth } = this.#options
    return new RouteTable(routes, upstreamConnect, pluginInstances, targetHealth)
  }
}

/** What a new configuration adds, removes and changes, by integration name. */
export function diffIntegrations (before: readonly Integration[], after: readonly Integration[]): RoutesDiff {
  const old = new Map(before.map((i) => [i.name, fingerprint(i)]))
  const now = new Map(after.map((i) => [i.name, fingerprint(i)]))
  return {
    added: [...now.keys()].filter((n) => !old.has(n)),
    removed: [...old.keys()].filter((n) => !now.has(n)),
    changed: [...now].filter(([n, f]) => old.has(n) && old.get(n) !== f).map(([n]) => n)
  }
}

function fingerprint (integration: Integration): string {
  return JSON.stringify(integration, (_key, value: unknown) =>
    value instanceof Set ? [...value as Set<unknown>] : value)
}
