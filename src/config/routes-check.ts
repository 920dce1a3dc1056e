// Stage 4 of the routes pipeline (src/config/routes-loader.ts): what the
// schema cannot say. Upstream URLs and targets, prefixes (reserved, used
// twice), durations that must not be 0, CORS, documented operations, and
// plugins (src/config/routes-plugins.ts). Every problem has its line.
import { HTTP_METHODS, RESERVED_PREFIXES, type IntegrationEntry, type RoutesFile } from './routes-schema.js'
import { pathParams } from './operations.js'
// INTEGRATION_NAME_PATTERN is in units.ts, with no TypeBox behind it: the clients and the CLI check names too.
import { INTEGRATION_NAME_PATTERN, parseDuration } from './units.js'
import type { PluginResolution } from '../upstream-plugins/registry.js'
import type { ConfiguredPlugin } from '../upstream-plugins/chain.js'
import { checkCors } from '../proxy/cors.js'
import { configurePlugins } from './routes-plugins.js'
import { dotted, lineOf, problemAt, type RoutesSource } from './routes-source.js'
import type { RoutesProblem, UpstreamTarget } from './routes-types.js'

/** The problems of `defaults:` that the schema lets through. */
export function checkDefaults (source: RoutesSource, file: RoutesFile): RoutesProblem[] {
  const problems: RoutesProblem[] = []
  if (typeof file.defaults?.cors === 'object') {
    for (const problem of checkCors(file.defaults.cors, parseDuration)) {
      problems.push(problemAt(source, ['defaults', 'cors', ...problem.segments], problem.message))
    }
  }
  if (zeroOpenFor(file.defaults?.circuitBreaker)) {
    problems.push(problemAt(source, ['defaults', 'circuitBreaker', 'openFor'], 'openFor must be longer than 0'))
  }
  if (file.defaults?.idleTimeout !== undefined && parseDuration(file.defaults.idleTimeout) === 0) {
    problems.push(problemAt(source, ['defaults', 'idleTimeout'], 'idleTimeout must be longer than 0'))
  }
  return problems
}

/** One integration that passed every check, with what the checks worked out, for the compiler. */
export interface CheckedIntegration {
  name: string
  entry: IntegrationEntry
  upstream: CheckedUpstreams
  prefix: string
  rewritePrefix: string
  plugins: ConfiguredPlugin[]
}

/**
 * Where a field of integration `name` is: `at()` the integration itself, `at('prefix')`, `at('upstream', '0', 'url')`.
 */
export function integrationAt (
  source: RoutesSource, name: string
): (field?: string, ...more: string[]) => { path: string, line: number } {
  return (field, ...more) => {
    const segments = field === undefined ? ['integrations', name] : ['integrations', name, field, ...more]
    return { path: dotted(segments), line: lineOf(source, segments) }
  }
}

/**
 * Checks one integration, adding what is wrong to `problems`; undefined when
 * anything was. `prefixes` (prefix → integration) is shared by all of them,
 * in file order, so the second user of a prefix is the one reported.
 */
export function checkIntegration (
  source: RoutesSource, name: string, entry: IntegrationEntry, prefixes: Map<string, string>,
  loadedPlugins: ReadonlyMap<string, PluginResolution> | undefined, problems: RoutesProblem[]
): CheckedIntegration | undefined {
  const at = integrationAt(source, name)
  const before = problems.length
  if (!INTEGRATION_NAME_PATTERN.test(name)) {
    problems.push({ ...at(), message: `integration name '${name}' must use only a-z, 0-9 and '-'` })
  }
  const upstream = checkUpstreams(entry.upstream, (...more) => at('upstream', ...more), problems)
  if (entry.healthCheck !== undefined) checkHealthCheck(entry.healthCheck, (...more) => at('healthCheck', ...more), problems)

  const prefix = entry.prefix ?? `/${name}`
  const prefixProblem = checkPathPrefix(prefix, 'prefix', false)
  if (prefixProblem !== undefined) {
    problems.push({ ...at('prefix'), message: prefixProblem })
  } else {
    const reserved = RESERVED_PREFIXES.find((r) => prefix === r || prefix.startsWith(r + '/'))
    if (reserved !== undefined) {
      problems.push({ ...at('prefix'), message: `prefix ${prefix} is reserved for the gateway's own ${reserved} endpoint` })
    }
    const other = prefixes.get(prefix)
    if (other !== undefined) {
      problems.push({ ...at('prefix'), message: `prefix ${prefix} is already used by integration '${other}'` })
    }
    prefixes.set(prefix, name)
  }
  const rewritePrefix = entry.rewritePrefix ?? ''
  const rewriteProblem = checkPathPrefix(rewritePrefix, 'rewritePrefix', true)
  if (rewriteProblem !== undefined) problems.push({ ...at('rewritePrefix'), message: rewriteProblem })

  if (zeroOpenFor(entry.circuitBreaker)) {
    problems.push({ ...at('circuitBreaker', 'openFor'), message: 'openFor must be longer than 0' })
  }
  if (typeof entry.cors === 'object') {
    for (const problem of checkCors(entry.cors, parseDuration)) problems.push({ ...at('cors', ...problem.segments), message: problem.message })
  }
  if (entry.idleTimeout !== undefined && parseDuration(entry.idleTimeout) === 0) {
    problems.push({ ...at('idleTimeout'), message: 'idleTimeout must be longer than 0' })
  }

  if (entry.operations !== undefined && entry.openapi !== undefined) {
    problems.push({ ...at('openapi'), message: 'give either `operations:` or `openapi:`, not both' })
  }
  entry.operations?.forEach((op, i) => {
    if (entry.methods !== undefined && !expandMethods(entry.methods).includes(op.method)) {
      problems.push({ ...at('operations', String(i), 'method'), message: `${op.method} is not in this integration's methods` })
    }
    for (const p of op.parameters ?? []) {
      if (p.in === 'path' && !pathParams(op.path).includes(p.name)) {
        problems.push({ ...at('operations', String(i), 'parameters'), message: `path parameter '${p.name}' is not in the path ${op.path}` })
      }
    }
  })

  const plugins = configurePlugins(entry.plugins ?? [], loadedPlugins, (...more) => at('plugins', ...more), problems)

  if (problems.length > before || upstream === undefined) return undefined
  return { name, entry, upstream, prefix, rewritePrefix, plugins }
}

// HEAD is answered wherever GET is, as HTTP expects.
export function expandMethods (methods: ReadonlyArray<typeof HTTP_METHODS[number]>): string[] {
  return methods.includes('GET') && !methods.includes('HEAD') ? [...methods, 'HEAD'] : [...methods]
}

type BreakerEntry = IntegrationEntry['circuitBreaker']

function zeroOpenFor (breaker: BreakerEntry): boolean {
  return typeof breaker === 'object' && breaker.openFor !== undefined && parseDuration(breaker.openFor) === 0
}

export interface CheckedUpstreams {
  targets: UpstreamTarget[]
  /** Shared by every target, no trailing slash (may be ''). */
  basePath: string
}

export type At = (...more: string[]) => { path: string, line: number }

/**
 * `upstream:` as one URL or a list. Every target must have the first one's
 * scheme and base path (a request's path is built once, whichever target
 * serves it) and no origin may repeat. Undefined when a problem was added.
 */
function checkUpstreams (entry: IntegrationEntry['upstream'], at: At, problems: RoutesProblem[]): CheckedUpstreams | undefined {
  const items = typeof entry === 'string'
    ? [{ text: entry, weight: 1, where: [] as string[] }]
    : entry.map((item, i) => typeof item === 'string'
      ? { text: item, weight: 1, where: [String(i)] }
      : { text: item.url, weight: item.weight ?? 1, where: [String(i), 'url'] })
  const before = problems.length
  const targets: UpstreamTarget[] = []
  let first: URL | undefined
  const seen = new Set<string>()
  for (const { text, weight, where } of items) {
    const url = checkUpstream(text)
    if (typeof url === 'string') {
      problems.push({ ...at(...where), message: url })
      continue
    }
    if (first === undefined) {
      first = url
    } else if (url.protocol !== first.protocol) {
      problems.push({ ...at(...where), message: `every upstream target must use ${first.protocol.slice(0, -1)}, like the first (got ${url.protocol.slice(0, -1)})` })
      continue
    } else if (basePathOf(url) !== basePathOf(first)) {
      problems.push({ ...at(...where), message: `every upstream target must have the base path '${basePathOf(first) || '/'}', like the first (got '${basePathOf(url) || '/'}')` })
      continue
    }
    if (seen.has(url.origin)) {
      problems.push({ ...at(...where), message: `${url.origin} is listed twice; give it a weight instead` })
      continue
    }
    seen.add(url.origin)
    targets.push({ origin: url.origin, weight })
  }
  if (problems.length > before || first === undefined) return undefined
  return { targets, basePath: basePathOf(first) }
}

function basePathOf (url: URL): string {
  return url.pathname.replace(/\/+$/, '')
}

function checkHealthCheck (entry: NonNullable<IntegrationEntry['healthCheck']>, at: At, problems: RoutesProblem[]): void {
  const interval = parseDuration(entry.interval) as number
  if (interval < 100) problems.push({ ...at('interval'), message: 'interval must be at least 100ms' })
  if (entry.timeout === undefined) return
  const timeout = parseDuration(entry.timeout) as number
  if (timeout === 0) problems.push({ ...at('timeout'), message: 'timeout must be longer than 0' })
  else if (timeout > interval) problems.push({ ...at('timeout'), message: `a probe's timeout (${timeout} ms) must not be longer than the interval (${interval} ms)` })
}

function checkUpstream (text: string): URL | string {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return `upstream '${text}' is not a URL (expected http://host:port or https://host/base)`
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `upstream must be http or https, not ${url.protocol.slice(0, -1)}`
  if (url.username !== '' || url.password !== '') return 'upstream must not carry credentials; give them to a plugin through an environment variable'
  if (url.search !== '' || url.hash !== '') return 'upstream must not carry a query string or fragment'
  if (/\/\.\.?(\/|$)|\/\//.test(url.pathname.slice(1) === '' ? '' : url.pathname)) return 'upstream base path must not contain . or .. segments or //'
  return url
}

function checkPathPrefix (value: string, field: string, mayBeEmpty: boolean): string | undefined {
  if (value === '' && mayBeEmpty) return undefined
  if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(value)) {
    return `${field} '${value}' must look like /name or /a/b (segments of letters, digits, '.', '_', '~', '-'), without a trailing slash`
  }
  if (/\/\.\.?(\/|$)/.test(value)) return `${field} must not contain . or .. segments`
  return undefined
}
