import { readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { fetchOpenApiDocuments } from './operations.js'
import { resolvePluginRefs } from '../upstream-plugins/registry.js'
import { pluginRefsIn, problemAt, readSource, type RoutesSource } from './routes-source.js'
import { substitute } from './routes-substitute.js'
import { validate } from './routes-validate.js'
import { checkDefaults, checkIntegration } from './routes-check.js'
import { compileIntegration } from './routes-compile.js'
import type { Integration, ParseRoutesOptions, RoutesLoadResult, RoutesProblem } from './routes-types.js'
import type { RoutesFile } from './routes-schema.js'

// A routes file becomes the integrations the proxy runs in five stages, each
// in a module of its own, each adding problems with their YAML paths and
// lines (and the next stage running only on what passed):
//
//   source      routes-source.ts      the text parsed once into a YAML document (lines kept)
//   substitute  routes-substitute.ts  ${VAR} from the environment, then the document as data
//   validate    routes-validate.ts    the schema (routes-schema.ts)
//   check       routes-check.ts       what the schema cannot say (URLs, prefixes, CORS, plugins)
//   compile     routes-compile.ts     defaults merged, units parsed, /doc's operations
//
// Every problem found is returned, so an operator can fix them all in one go.

export type {
  CircuitBreakerSettings, HealthCheckSettings, Integration, ParseRoutesOptions, RoutesConfig, RoutesLoadResult,
  RoutesProblem,
  UpstreamTarget
} from './routes-types.js'

/**
 * Parses and validates the text of a routes file. Every problem found is
 * returned, each with its YAML path and 1-based line, so an operator can fix
 * them all in one go.
 */
export function parseRoutes (
  text: string, env: NodeJS.ProcessEnv = process.env, options: ParseRoutesOptions = {}
): RoutesLoadResult {
  const read = readSource(text)
  if (!read.ok) return read
  const validated = expandAndValidate(read.source, env)
  if (!validated.ok) return validated
  return checkAndCompile(read.source, validated.file, options)
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
  const read = readSource(text)
  if (!read.ok) return read
  const { source } = read
  // Operators' plugin files are imported here, before the checks that need their schemas.
  const plugins = await resolvePluginRefs(pluginRefsIn(source), baseDir)
  const validated = expandAndValidate(source, env)
  if (!validated.ok) return validated
  const routes = validated.file
  let result = checkAndCompile(source, routes, { baseDir, plugins })
  if (!result.ok) return result
  // The upstreams' own OpenAPI documents given by URL are read once, here,
  // and the integrations compiled again with them (the YAML is not parsed again).
  const urls = result.config.integrations.flatMap((i) => i.docs?.openapiUrl !== undefined ? [i.docs.openapiUrl] : [])
  if (urls.length > 0) {
    result = checkAndCompile(source, routes, { baseDir, plugins, fetched: await fetchOpenApiDocuments(urls) })
  }
  if (result.ok) result.config.source = { file, text }
  return result
}

/** `file:line: path: message`, the form `gerbang routes check` prints and logs use. */
export function formatProblem (file: string, problem: RoutesProblem): string {
  return `${file}:${problem.line}: ${problem.path}: ${problem.message}`
}

/** Stages 2 and 3: the file as data the schema accepts, or the problems. */
function expandAndValidate (
  source: RoutesSource, env: NodeJS.ProcessEnv
): { ok: true, file: RoutesFile } | { ok: false, problems: RoutesProblem[] } {
  const expanded = substitute(source, env)
  if (!expanded.ok) return expanded
  return validate(source, expanded.raw)
}

/**
 * Stages 4 and 5, one integration after the other (so problems come in file
 * order): checked, then compiled if nothing was wrong with it.
 */
function checkAndCompile (source: RoutesSource, file: RoutesFile, options: ParseRoutesOptions): RoutesLoadResult {
  const problems = checkDefaults(source, file)
  const integrations: Integration[] = []
  const prefixes = new Map<string, string>()
  for (const [name, entry] of Object.entries(file.integrations)) {
    const checked = checkIntegration(source, name, entry, prefixes, options.plugins, problems)
    if (checked === undefined) continue
    const compiled = compileIntegration(checked, file.defaults ?? {}, options)
    if ('openapiProblem' in compiled) {
      problems.push(problemAt(source, ['integrations', name, 'openapi'], compiled.openapiProblem))
      continue
    }
    integrations.push(compiled)
  }
  if (problems.length > 0) return { ok: false, problems }
  return { ok: true, config: { integrations } }
}
