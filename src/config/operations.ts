import { readFileSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import type { OperationEntry } from './routes-schema.js'

// The operations an integration documents in /doc (issue 5): inline
// `operations:` from routes.yaml or the paths of the upstream's own OpenAPI
// 3.x file (`openapi:`), normalised to OpenAPI 3.1 operation objects whose
// paths are relative to the integration's prefix. Read once at load time;
// nothing here is on the request path.

/** One documented operation; `path` is relative to the integration's prefix. */
export interface DocOperation {
  /** Lower-case HTTP method, as OpenAPI spells it. */
  method: string
  /** Starts with '/', e.g. /kamar/{id}. */
  path: string
  /** An OpenAPI operation object, without tags, security or the gateway's own error responses. */
  operation: Record<string, unknown>
}

export interface IntegrationDocs {
  operations: DocOperation[]
  /** Components taken from the upstream's OpenAPI file, names prefixed with `<integration>.`. */
  components: Record<string, Record<string, unknown>>
  /** Set when `openapi:` is a URL: it is linked from the document, not fetched (yet). */
  openapiUrl?: string
}

const OPENAPI_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']

/** The `{name}` parameters in a path template. */
export function pathParams (path: string): string[] {
  return [...path.matchAll(/\{([^}/]+)\}/g)].map((m) => m[1] as string)
}

/** Inline `operations:` to OpenAPI operation objects. */
export function inlineOperations (entries: OperationEntry[]): IntegrationDocs {
  const operations = entries.map((entry): DocOperation => {
    const operation: Record<string, unknown> = { summary: entry.summary }
    if (entry.description !== undefined) operation.description = entry.description
    const declared = (entry.parameters ?? []).map((p) => ({
      name: p.name,
      in: p.in,
      required: p.in === 'path' ? true : (p.required ?? false),
      ...(p.description !== undefined ? { description: p.description } : {}),
      schema: p.schema ?? { type: 'string' }
    }))
    for (const name of pathParams(entry.path)) {
      if (!declared.some((p) => p.in === 'path' && p.name === name)) {
        declared.push({ name, in: 'path', required: true, schema: { type: 'string' } })
      }
    }
    if (declared.length > 0) operation.parameters = declared
    if (entry.requestBody !== undefined) {
      operation.requestBody = { required: true, content: { 'application/json': { schema: entry.requestBody } } }
    }
    const responses: Record<string, unknown> = {}
    for (const [status, response] of Object.entries(entry.responses ?? {})) {
      responses[status] = {
        description: response.description,
        ...(response.example !== undefined ? { content: { 'application/json': { example: response.example } } } : {})
      }
    }
    if (Object.keys(responses).length === 0) responses['200'] = { description: 'Jawaban dari layanan hulu (upstream)' }
    operation.responses = responses
    return { method: entry.method.toLowerCase(), path: entry.path, operation }
  })
  return { operations, components: {} }
}

export function isOpenApiUrl (ref: string): boolean {
  return /^https?:\/\//i.test(ref)
}

const FETCH_TIMEOUT_MS = 5000
const MAX_DOCUMENT_BYTES = 5 * 1024 * 1024

/** Fetches `openapi:` URLs once, at load time, each bounded in time and size; failures are kept as Errors. */
export async function fetchOpenApiDocuments (urls: Iterable<string>): Promise<Map<string, string | Error>> {
  const fetched = new Map<string, string | Error>()
  await Promise.all([...new Set(urls)].map(async (url) => {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), redirect: 'follow' })
      if (!res.ok) throw new Error(`the server answered ${res.status}`)
      const text = await res.text()
      if (text.length > MAX_DOCUMENT_BYTES) throw new Error(`the document is larger than ${MAX_DOCUMENT_BYTES} bytes`)
      fetched.set(url, text)
    } catch (err) {
      fetched.set(url, err instanceof Error
        ? new Error((err.cause as Error | undefined)?.message ?? err.message)
        : new Error(String(err)))
    }
  }))
  return fetched
}

/**
 * Reads the upstream's OpenAPI 3.x file (YAML or JSON) and re-bases its paths
 * under the integration: paths outside `rewritePrefix` are not reachable
 * through the gateway and are left out. Returns a message when the file is
 * missing, unparseable or not OpenAPI 3.x.
 */
export function openapiOperations (
  ref: string, baseDir: string, integration: string, rewritePrefix: string, methods: ReadonlySet<string> | null,
  fetched: ReadonlyMap<string, string | Error> = new Map()
): IntegrationDocs | string {
  let file: string
  let text: string
  if (isOpenApiUrl(ref)) {
    // URLs are fetched before parsing (fetchOpenApiDocuments); a file that
    // was parsed without them only links to the URL.
    const got = fetched.get(ref)
    if (got === undefined) return { operations: [], components: {}, openapiUrl: ref }
    if (got instanceof Error) return `cannot fetch OpenAPI document ${ref}: ${got.message}`
    file = ref
    text = got
  } else {
    file = isAbsolute(ref) ? ref : resolve(baseDir, ref)
    try {
      text = readFileSync(file, 'utf8')
    } catch (err) {
      return `cannot read OpenAPI file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`
    }
  }
  let doc: unknown
  try {
    doc = parseYaml(text, { prettyErrors: false })
  } catch (err) {
    return `OpenAPI file ${file} is not valid YAML or JSON: ${((err as Error).message.split('\n')[0]) ?? ''}`
  }
  if (!isObject(doc) || typeof doc.openapi !== 'string' || !/^3\.\d+\.\d+/.test(doc.openapi)) {
    return `${file} is not an OpenAPI 3.x document (no \`openapi: 3.x.y\` field)`
  }
  if (doc.paths !== undefined && !isObject(doc.paths)) return `${file}: \`paths\` must be a mapping`
  const rename = (value: unknown): unknown => renameRefs(value, integration)

  const operations: DocOperation[] = []
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    if (!isObject(item) || !path.startsWith('/')) continue
    let rest: string
    if (rewritePrefix === '') rest = path
    else if (path === rewritePrefix || path.startsWith(rewritePrefix + '/')) rest = path.slice(rewritePrefix.length) || '/'
    else continue
    const shared = Array.isArray(item.parameters) ? item.parameters as unknown[] : []
    for (const method of OPENAPI_METHODS) {
      const op = item[method]
      if (!isObject(op)) continue
      if (methods !== null && !methods.has(method.toUpperCase())) continue
      const operation = rename(op) as Record<string, unknown>
      delete operation.tags
      delete operation.security
      delete operation.servers
      const own = Array.isArray(operation.parameters) ? operation.parameters as unknown[] : []
      const key = (p: unknown): string => isObject(p) ? `${String(p.in)}:${String(p.name)}` : ''
      const merged = [...own, ...(rename(shared) as unknown[]).filter((p) => !own.some((o) => key(o) === key(p) && key(p) !== ':'))]
      if (merged.length > 0) operation.parameters = merged
      if (!isObject(operation.responses)) operation.responses = { 200: { description: 'Jawaban dari layanan hulu (upstream)' } }
      operations.push({ method, path: rest, operation })
    }
  }
  const components: Record<string, Record<string, unknown>> = {}
  if (isObject(doc.components)) {
    for (const [kind, entries] of Object.entries(doc.components)) {
      if (!isObject(entries)) continue
      components[kind] = Object.fromEntries(Object.entries(entries).map(([name, value]) => [`${integration}.${name}`, rename(value)]))
    }
  }
  return { operations, components }
}

function renameRefs (value: unknown, integration: string): unknown {
  if (Array.isArray(value)) return value.map((v) => renameRefs(v, integration))
  if (!isObject(value)) return value
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) {
    if (k === '$ref' && typeof v === 'string') {
      out[k] = v.replace(/^#\/components\/([^/]+)\/(.+)$/, (_m, kind: string, name: string) => `#/components/${kind}/${integration}.${name}`)
    } else {
      out[k] = renameRefs(v, integration)
    }
  }
  return out
}

function isObject (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}
