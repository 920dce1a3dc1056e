import { readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node as YamlNode } from 'yaml'
import { Value } from '@sinclair/typebox/value'
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors'
import {
  DEFAULT_METHODS, DEFAULTS, HEALTH_CHECK_DEFAULTS, HTTP_METHODS, INTEGRATION_NAME_PATTERN, RESERVED_PREFIXES, RoutesFileSchema,
  type IntegrationEntry, type RoutesFile
} from './routes-schema.js'
import { fetchOpenApiDocuments, inlineOperations, openapiOperations, pathParams, type IntegrationDocs } from './operations.js'
import { parseDuration, parseRate, parseSize, type Rate } from './units.js'
import { BUILTIN_PLUGINS, resolvePluginRefs, type PluginResolution } from '../upstream-plugins/registry.js'
import type { ConfiguredPlugin } from '../upstream-plugins/chain.js'
import { checkCors, CorsPolicy } from '../proxy/cors.js'

/** One problem in a routes file: where it is (YAML path and line) and what is wrong. */
export interface RoutesProblem {
  path: string
  line: number
  message: string
}

/** An integration with every default merged in and every unit parsed. */
export interface Integration {
  name: string
  /** The first target's origin, `http://host:port`, without a path (traces name it); every target is in `targets`. */
  origin: string
  /** The upstream servers requests are spread over (src/proxy/balancer.ts): one, or several with the same scheme and base path. */
  targets: readonly UpstreamTarget[]
  /** Active probes of every target; null: none (targets are judged by the requests alone). */
  healthCheck: HealthCheckSettings | null
  /** The upstream's base path joined with rewritePrefix, no trailing slash (may be ''). */
  upstreamPathPrefix: string
  prefix: string
  rewritePrefix: string
  /** Allowed methods, or null for all. */
  methods: ReadonlySet<string> | null
  timeoutMs: number
  /** Longest silence between two chunks of an answer once its headers arrived, and between WebSocket messages (either way); default timeoutMs. */
  idleTimeoutMs: number
  connectTimeoutMs: number
  rateLimit: Rate
  auth: 'apiKey' | 'none'
  bodyLimit: number
  upstreamErrors: 'normalize' | 'passthrough'
  /** Attempts after the first for a replayable request that failed to connect or was reset (0 to 5). */
  retries: number
  /** Consecutive upstream failures that open the breaker, and how long it stays open; null: no breaker. */
  circuitBreaker: CircuitBreakerSettings | null
  description: string
  apiKeyQuery: string | undefined
  /** A field of an x-www-form-urlencoded body (at most 1 MiB) that may carry the API key; removed before forwarding. */
  apiKeyForm: string | undefined
  /** Accepts WebSocket upgrades (src/proxy/websocket.ts). */
  websocket: boolean
  /** What /doc shows for it (inline `operations:` or its `openapi:` file); null: a catch-all. Not used by the proxy. */
  docs: IntegrationDocs | null
  /** Its plugins in routes.yaml order, options checked and defaults filled in; [] when none. */
  plugins: ConfiguredPlugin[]
  /** Browser apps (`cors:`, its own or defaults'), compiled for the proxy; null: none, answers as without CORS. */
  cors: CorsPolicy | null
}

export interface UpstreamTarget {
  /** `http://host:port`, no path: the base path is the integration's. */
  origin: string
  /** Its share of the requests against the other targets' (1 to 100). */
  weight: number
}

export interface HealthCheckSettings {
  /** Requested with GET on each target's origin (not under the base path). */
  path: string
  intervalMs: number
  timeoutMs: number
  /** Consecutive successes that bring a target back, and failures that take it out. */
  healthy: number
  unhealthy: number
}

export interface CircuitBreakerSettings {
  failures: number
  openForMs: number
}

export interface ParseRoutesOptions {
  /** Where relative `openapi:` paths are resolved; default the working directory. */
  baseDir?: string
  /** `openapi:` URLs already fetched (loadRoutesFile does it); the others are only linked. */
  fetched?: ReadonlyMap<string, string | Error>
  /** Plugins that are not built-in, already loaded from their files (loadRoutesFile does it). */
  plugins?: ReadonlyMap<string, PluginResolution>
}

export interface RoutesConfig {
  integrations: Integration[]
  /** The file it was read from and its text as written (`${VAR}` unexpanded), for the admin UI. */
  source?: { file: string, text: string }
}

export type RoutesLoadResult =
  | { ok: true, config: RoutesConfig }
  | { ok: false, problems: RoutesProblem[] }

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}\n]*))?\}/g

/**
 * Parses and validates the text of a routes file. Every problem found is
 * returned, each with its YAML path and 1-based line, so an operator can fix
 * them all in one go.
 */
export function parseRoutes (text: string, env: NodeJS.ProcessEnv = process.env, options: ParseRoutesOptions = {}): RoutesLoadResult {
  const lineCounter = new LineCounter()
  const { masked, refs } = maskEnvRefs(text)
  const doc = parseDocument(masked, { lineCounter, uniqueKeys: true, prettyErrors: false })
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line

  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => ({ path: '(yaml)', line: lineAt(e.pos[0]), message: firstLine(e.message) }))
    }
  }

  const problems: RoutesProblem[] = []
  substituteEnv(doc, refs, env, lineAt, problems)
  if (problems.length > 0) return { ok: false, problems }

  let raw: unknown
  try {
    raw = doc.toJS()
  } catch (err) {
    // The yaml library refuses alias "bombs" (anchors expanding to millions of nodes) here.
    return { ok: false, problems: [{ path: '(yaml)', line: 1, message: `the file cannot be expanded: ${firstLine((err as Error).message)}` }] }
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, problems: [{ path: '(root)', line: 1, message: 'the file must be a mapping with an `integrations` section' }] }
  }

  const seen = new Set<string>()
  for (const error of schemaErrors(Value.Errors(RoutesFileSchema, raw))) {
    if (seen.has(error.path)) continue
    seen.add(error.path)
    const segments = error.path.split('/').slice(1).map(unescapePointer)
    // Plugin options carry secrets from the environment: never echo them.
    const secret = segments[0] === 'integrations' && segments[2] === 'plugins'
    problems.push({ path: dotted(segments), line: lineOf(doc, segments, lineAt), message: schemaMessage(error, !secret) })
  }
  if (problems.length > 0) return { ok: false, problems }

  const file = raw as RoutesFile
  if (typeof file.defaults?.cors === 'object') {
    for (const problem of checkCors(file.defaults.cors, parseDuration)) {
      const segments = ['defaults', 'cors', ...problem.segments]
      problems.push({ path: dotted(segments), line: lineOf(doc, segments, lineAt), message: problem.message })
    }
  }
  if (zeroOpenFor(file.defaults?.circuitBreaker)) {
    const segments = ['defaults', 'circuitBreaker', 'openFor']
    problems.push({ path: dotted(segments), line: lineOf(doc, segments, lineAt), message: 'openFor must be longer than 0' })
  }
  if (file.defaults?.idleTimeout !== undefined && parseDuration(file.defaults.idleTimeout) === 0) {
    const segments = ['defaults', 'idleTimeout']
    problems.push({ path: dotted(segments), line: lineOf(doc, segments, lineAt), message: 'idleTimeout must be longer than 0' })
  }
  const integrations: Integration[] = []
  const prefixes = new Map<string, string>()
  for (const [name, entry] of Object.entries(file.integrations)) {
    const at = (field?: string, ...more: string[]): { path: string, line: number } => {
      const segments = field === undefined ? ['integrations', name] : ['integrations', name, field, ...more]
      return { path: dotted(segments), line: lineOf(doc, segments, lineAt) }
    }
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

    const plugins = configurePlugins(entry.plugins ?? [], options.plugins, (...more) => at('plugins', ...more), problems)

    if (problems.length > before || upstream === undefined) continue
    const integration = compile(name, entry, file.defaults ?? {}, upstream, prefix, rewritePrefix)
    integration.plugins = plugins
    if (entry.operations !== undefined) {
      integration.docs = inlineOperations(entry.operations)
    } else if (entry.openapi !== undefined) {
      const docs = openapiOperations(entry.openapi, options.baseDir ?? process.cwd(), name, rewritePrefix, integration.methods, options.fetched)
      if (typeof docs === 'string') {
        problems.push({ ...at('openapi'), message: docs })
        continue
      }
      integration.docs = docs
    }
    integrations.push(integration)
  }
  if (problems.length > 0) return { ok: false, problems }
  return { ok: true, config: { integrations } }
}

/** Reads and validates a routes file from disk. */
export async function loadRoutesFile (file: string, env: NodeJS.ProcessEnv = process.env): Promise<RoutesLoadResult> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    return { ok: false, problems: [{ path: '(file)', line: 0, message: `cannot read ${file}: ${(err as Error).message}` }] }
  }
  const baseDir = dirname(file)
  // Operators' plugin files are imported here, before the checks that need their schemas.
  const plugins = await resolvePluginRefs(pluginRefsIn(text), baseDir)
  let result = parseRoutes(text, env, { baseDir, plugins })
  if (!result.ok) return result
  // The upstreams' own OpenAPI documents given by URL are read once, here.
  const urls = result.config.integrations.flatMap((i) => i.docs?.openapiUrl !== undefined ? [i.docs.openapiUrl] : [])
  if (urls.length > 0) result = parseRoutes(text, env, { baseDir, plugins, fetched: await fetchOpenApiDocuments(urls) })
  if (result.ok) result.config.source = { file, text }
  return result
}

/** `file:line: path: message`, the form `gerbang routes check` prints and logs use. */
export function formatProblem (file: string, problem: RoutesProblem): string {
  return `${file}:${problem.line}: ${problem.path}: ${problem.message}`
}

// ---------------------------------------------------------------------------

function compile (
  name: string, entry: IntegrationEntry, defaults: NonNullable<RoutesFile['defaults']>,
  upstream: CheckedUpstreams, prefix: string, rewritePrefix: string
): Integration {
  const pick = <K extends keyof typeof DEFAULTS>(key: K): NonNullable<IntegrationEntry[K]> | typeof DEFAULTS[K] =>
    (entry[key] ?? defaults[key] ?? DEFAULTS[key]) as NonNullable<IntegrationEntry[K]> | typeof DEFAULTS[K]
  const bodyLimit = pick('bodyLimit')
  return {
    name,
    origin: (upstream.targets[0] as UpstreamTarget).origin,
    targets: upstream.targets,
    healthCheck: healthCheckSettings(entry.healthCheck),
    upstreamPathPrefix: upstream.basePath + rewritePrefix,
    prefix,
    rewritePrefix,
    methods: entry.methods === undefined ? null : new Set(expandMethods(entry.methods)),
    timeoutMs: parseDuration(pick('timeout')) as number,
    // The integration's own idleTimeout, else defaults', else its timeout.
    idleTimeoutMs: parseDuration(entry.idleTimeout ?? defaults.idleTimeout ?? pick('timeout')) as number,
    connectTimeoutMs: parseDuration(pick('connectTimeout')) as number,
    rateLimit: parseRate(pick('rateLimit')) as Rate,
    auth: pick('auth'),
    bodyLimit: typeof bodyLimit === 'number' ? bodyLimit : parseSize(bodyLimit) as number,
    upstreamErrors: pick('upstreamErrors'),
    retries: pick('retries'),
    circuitBreaker: breakerSettings(entry.circuitBreaker, defaults.circuitBreaker),
    description: entry.description ?? '',
    apiKeyQuery: entry.apiKeyQuery,
    apiKeyForm: entry.apiKeyForm,
    websocket: entry.websocket === true,
    docs: null,
    plugins: [],
    cors: corsPolicy(entry, defaults)
  }
}

/** The integration's `cors:` (false: none), else defaults', compiled for the methods it accepts. */
function corsPolicy (entry: IntegrationEntry, defaults: NonNullable<RoutesFile['defaults']>): CorsPolicy | null {
  const cors = entry.cors ?? defaults.cors
  if (cors === undefined || cors === false) return null
  return new CorsPolicy(cors, entry.methods === undefined ? DEFAULT_METHODS : expandMethods(entry.methods), parseDuration)
}

type BreakerEntry = IntegrationEntry['circuitBreaker']

/**
 * The integration's breaker: `off`/`false` in the integration (or in defaults,
 * when the integration says nothing) turns it off; otherwise each field comes
 * from the integration, else defaults, else the built-in default.
 */
function breakerSettings (entry: BreakerEntry, defaults: BreakerEntry): CircuitBreakerSettings | null {
  if (entry === 'off' || entry === false || (entry === undefined && (defaults === 'off' || defaults === false))) return null
  const own = typeof entry === 'object' ? entry : {}
  const shared = typeof defaults === 'object' ? defaults : {}
  return {
    failures: own.failures ?? shared.failures ?? DEFAULTS.circuitBreaker.failures,
    openForMs: parseDuration(own.openFor ?? shared.openFor ?? DEFAULTS.circuitBreaker.openFor) as number
  }
}

function zeroOpenFor (breaker: BreakerEntry): boolean {
  return typeof breaker === 'object' && breaker.openFor !== undefined && parseDuration(breaker.openFor) === 0
}

/**
 * Schema errors, with one refinement: a mapping or list given where a union
 * allows one (`circuitBreaker: { failures: 0 }`, an `upstream:` list) reports
 * what is wrong inside it, at its own path, rather than "not any of the
 * union's forms".
 */
function * schemaErrors (errors: Iterable<ValueError>): Generator<ValueError> {
  for (const error of errors) {
    const { value } = error
    if (error.type === ValueErrorType.Union && value !== null && typeof value === 'object') {
      const variants = (error.schema as { anyOf?: Array<{ type?: unknown }> }).anyOf ?? []
      const index = variants.findIndex((v) => v.type === (Array.isArray(value) ? 'array' : 'object'))
      const inner = index === -1 ? undefined : error.errors[index]
      if (inner !== undefined) {
        yield * schemaErrors(inner)
        continue
      }
    }
    yield error
  }
}

// HEAD is answered wherever GET is, as HTTP expects.
function expandMethods (methods: ReadonlyArray<typeof HTTP_METHODS[number]>): string[] {
  return methods.includes('GET') && !methods.includes('HEAD') ? [...methods, 'HEAD'] : [...methods]
}

interface CheckedUpstreams {
  targets: UpstreamTarget[]
  /** Shared by every target, no trailing slash (may be ''). */
  basePath: string
}

type At = (...more: string[]) => { path: string, line: number }

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

function healthCheckSettings (entry: IntegrationEntry['healthCheck']): HealthCheckSettings | null {
  if (entry === undefined) return null
  const intervalMs = parseDuration(entry.interval) as number
  return {
    path: entry.path,
    intervalMs,
    // Unless given, a probe waits 2 s, or the interval when it is shorter.
    timeoutMs: entry.timeout === undefined ? Math.min(parseDuration(HEALTH_CHECK_DEFAULTS.timeout) as number, intervalMs) : parseDuration(entry.timeout) as number,
    healthy: entry.healthy ?? HEALTH_CHECK_DEFAULTS.healthy,
    unhealthy: entry.unhealthy ?? HEALTH_CHECK_DEFAULTS.unhealthy
  }
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

interface EnvRef { name: string, fallback: string | undefined }

// `${VAR}` is not valid inside a YAML flow mapping (`{ secret: ${X} }`: the
// braces are flow indicators), so each reference is swapped for a plain
// placeholder before parsing and substituted in the parsed scalars. The
// placeholders hold no line break, so every line number stays true.
const PLACEHOLDER = /gerbang-env-ref-(\d+)-x/g

function maskEnvRefs (text: string): { masked: string, refs: EnvRef[] } {
  const refs: EnvRef[] = []
  const masked = text.replace(ENV_REF, (_m, name: string, fallback: string | undefined) => {
    refs.push({ name, fallback })
    return `gerbang-env-ref-${refs.length - 1}-x`
  })
  return { masked, refs }
}

function substituteEnv (doc: Document, refs: readonly EnvRef[], env: NodeJS.ProcessEnv, lineAt: (o: number) => number,
  problems: RoutesProblem[]): void {
  visit(doc, {
    Scalar (_key, node) {
      if (typeof node.value !== 'string' || !node.value.includes('gerbang-env-ref-')) return
      node.value = node.value.replace(PLACEHOLDER, (_m, index: string) => {
        const { name, fallback } = refs[Number(index)] as EnvRef
        const value = env[name]
        if (value !== undefined && value !== '') return value
        if (fallback !== undefined) return fallback
        problems.push({
          path: '(env)',
          line: node.range === undefined || node.range === null ? 0 : lineAt(node.range[0]),
          message: `environment variable ${name} is not set (write \${${name}:-default} to give a default)`
        })
        return ''
      })
    }
  })
}

type SchemaError = Pick<ValueError, 'type' | 'path' | 'value' | 'message'> & { schema: { description?: string } }

/**
 * What is wrong, with the value given unless `showValue` is false (it may be
 * a secret). `subject` starts a message about a value (`option 'x' must be…`);
 * unknown and missing ones name themselves as a `noun`.
 */
function schemaMessage (error: SchemaError, showValue = true, noun = 'field', subject = ''): string {
  const field = error.path.split('/').pop() ?? ''
  const got = showValue ? ` (got ${JSON.stringify(error.value)})` : ''
  const start = subject === '' ? '' : `${subject} `
  switch (error.type) {
    case ValueErrorType.ObjectAdditionalProperties:
      return `unknown ${noun} '${field}'`
    case ValueErrorType.ObjectRequiredProperty:
      return `missing required ${noun} '${field}'`
    default:
      if (error.schema.description !== undefined) return `${start}must be ${error.schema.description}${got}`
      return `${start}${error.message.charAt(0).toLowerCase()}${error.message.slice(1)}${got}`
  }
}

/**
 * An integration's `plugins:` list, each checked against its plugin's own
 * schema (defaults filled in) and `check`. Problems name the plugin and the
 * option, never the value: options are where secrets live.
 */
function configurePlugins (
  entries: ReadonlyArray<Record<string, unknown>>, loaded: ReadonlyMap<string, PluginResolution> | undefined,
  at: (...segments: string[]) => { path: string, line: number }, problems: RoutesProblem[]
): ConfiguredPlugin[] {
  const configured: ConfiguredPlugin[] = []
  entries.forEach((entry, index) => {
    const [ref, given] = Object.entries(entry)[0] as [string, unknown]
    const where = at(String(index), ref)
    const builtin = BUILTIN_PLUGINS.get(ref)
    const resolution: PluginResolution = builtin !== undefined
      ? { ok: true, definition: builtin }
      : loaded?.get(ref) ?? { ok: false, problem: `unknown plugin '${ref}' (built-in: ${[...BUILTIN_PLUGINS.keys()].join(', ')})` }
    if (!resolution.ok) {
      problems.push({ ...where, message: resolution.problem })
      return
    }
    const { definition } = resolution
    if (given !== null && given !== undefined && (typeof given !== 'object' || Array.isArray(given))) {
      problems.push({ ...where, message: `${ref}: its options must be a mapping` })
      return
    }
    const options: unknown = Value.Default(definition.options, Value.Clone(given ?? {}))
    const seen = new Set<string>()
    let valid = true
    for (const error of schemaErrors(Value.Errors(definition.options, options))) {
      if (seen.has(error.path)) continue
      seen.add(error.path)
      valid = false
      const segments = error.path.split('/').slice(1).map(unescapePointer)
      problems.push({
        ...at(String(index), ref, ...segments),
        message: `${ref}: ${schemaMessage(error, false, 'option', `option '${segments.join('.')}'`)}`
      })
    }
    if (!valid) return
    const wrong = definition.check?.(options)
    if (wrong !== undefined) {
      problems.push({ ...where, message: `${ref}: ${wrong}` })
      return
    }
    configured.push({ ref, definition, options })
  })
  return configured
}

/** The plugin names and paths a routes file refers to, read leniently (the full parse reports what is wrong). */
function pluginRefsIn (text: string): string[] {
  const doc = parseDocument(maskEnvRefs(text).masked, { prettyErrors: false })
  if (doc.errors.length > 0) return []
  let raw: { integrations?: Record<string, { plugins?: unknown } | null> } | null
  try {
    raw = doc.toJS() as typeof raw
  } catch {
    return [] // parseRoutes reports why the file cannot be expanded
  }
  const refs: string[] = []
  for (const entry of Object.values(raw?.integrations ?? {})) {
    if (!Array.isArray(entry?.plugins)) continue
    for (const item of entry.plugins as unknown[]) {
      if (item !== null && typeof item === 'object' && !Array.isArray(item)) refs.push(...Object.keys(item))
    }
  }
  return refs
}

/** The line of the deepest key or item on `segments` that exists in the document. */
function lineOf (doc: Document, segments: string[], lineAt: (o: number) => number): number {
  let node: unknown = doc.contents
  let line = 1
  for (const segment of segments) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === segment)
      if (pair === undefined) break
      const keyNode = pair.key as YamlNode
      if (keyNode.range != null) line = lineAt(keyNode.range[0])
      node = pair.value
    } else if (isSeq(node)) {
      const item = node.items[Number(segment)] as YamlNode | undefined
      if (item === undefined) break
      if (item.range != null) line = lineAt(item.range[0])
      node = item
    } else {
      break
    }
  }
  return line
}

function dotted (segments: string[]): string {
  return segments.length === 0 ? '(root)' : segments.join('.')
}

function unescapePointer (segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~')
}

function firstLine (text: string): string {
  return text.split('\n')[0] ?? text
}
