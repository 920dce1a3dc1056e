import { stat } from 'node:fs/promises'
import { isAbsolute, relative, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Kind, Type } from '@sinclair/typebox'
import bpjsVclaim from '../../plugins/bpjs-vclaim.js'
import oauth2ClientCredentials from '../../plugins/oauth2-client-credentials.js'
import staticHeaders from '../../plugins/static-headers.js'
import { PluginFailure, type PluginDefinition, type PluginKit } from './types.js'

// Where a plugin named in routes.yaml comes from: a built-in, or an
// operator's file found by name or given by path.

/** The plugins that ship with Gerbang (the top-level plugins/ folder), by name. */
export const BUILTIN_PLUGINS: ReadonlyMap<string, PluginDefinition> = new Map(
  [staticHeaders, oauth2ClientCredentials, bpjsVclaim].map((d): [string, PluginDefinition] => [d.name, d])
)

const PLUGIN_NAME_PATTERN = /^[a-z0-9][a-z0-9-]*$/

/** A plugin found and loaded, or why it could not be. */
export type PluginResolution = { ok: true, definition: PluginDefinition } | { ok: false, problem: string }

// This file runs from dist/src/upstream-plugins/: the project's own plugins/
// are compiled into dist/plugins/, and plain .js ones stay in plugins/.
const COMPILED_PLUGINS = fileURLToPath(new URL('../../plugins/', import.meta.url))
const PROJECT_PLUGINS = fileURLToPath(new URL('../../../plugins/', import.meta.url))

const KIT: PluginKit = { Type, PluginFailure }

/** A reference written as a path (`./x.js`, `/etc/gerbang/x.mjs`) rather than a name. */
function isPathRef (ref: string): boolean {
  return ref.includes('/') || /\.(?:m?js|ts)$/.test(ref)
}

/**
 * Resolves every plugin reference that is not a built-in: a name is looked
 * for as `plugins/<name>.js|.mjs` beside the routes file, then among the
 * project's plugins (compiled from plugins/<name>.ts by `npm run build`, or
 * plain .js); a path is taken relative to the routes file.
 */
export async function resolvePluginRefs (
  refs: Iterable<string>, baseDir: string
): Promise<Map<string, PluginResolution>> {
  const resolved = new Map<string, PluginResolution>()
  for (const ref of refs) {
    if (resolved.has(ref) || BUILTIN_PLUGINS.has(ref)) continue
    resolved.set(ref, await resolveOne(ref, baseDir))
  }
  return resolved
}

async function resolveOne (ref: string, baseDir: string): Promise<PluginResolution> {
  let candidates: string[]
  if (isPathRef(ref)) {
    candidates = [isAbsolute(ref) ? ref : resolve(baseDir, ref)]
  } else if (!PLUGIN_NAME_PATTERN.test(ref)) {
    return { ok: false, problem: `'${ref}' is neither a plugin name (a-z, 0-9, '-') nor a path to a .js, .mjs or .ts file` }
  } else {
    const local = resolve(baseDir, 'plugins')
    candidates = [...new Set([
      resolve(local, `${ref}.js`), resolve(local, `${ref}.mjs`),
      resolve(COMPILED_PLUGINS, `${ref}.js`),
      resolve(PROJECT_PLUGINS, `${ref}.js`), resolve(PROJECT_PLUGINS, `${ref}.mjs`),
      resolve(local, `${ref}.ts`), resolve(PROJECT_PLUGINS, `${ref}.ts`)
    ])]
  }
  for (const file of candidates) {
    let mtimeMs: number
    try {
      const info = await stat(file)
      if (!info.isFile()) continue
      mtimeMs = info.mtimeMs
    } catch {
      continue
    }
    return await importPlugin(ref, file, mtimeMs)
  }
  const where = isPathRef(ref)
    ? `no file ${candidates[0] ?? ref}`
    : `not a built-in (${[...BUILTIN_PLUGINS.keys()].join(', ')}) and no plugins/${ref}.js, .mjs or .ts beside the routes file or in the project`
  return { ok: false, problem: `unknown plugin '${ref}': ${where}` }
}

async function importPlugin (ref: string, file: string, mtimeMs: number): Promise<PluginResolution> {
  const shown = displayPath(file)
  let module: { default?: unknown }
  try {
    // The modification time in the URL: an edited plugin file is imported
    // anew at the next reload, instead of Node's cached first version.
    module = await import(`${pathToFileURL(file).href}?mtime=${Math.trunc(mtimeMs)}`) as { default?: unknown }
  } catch (err) {
    const code = (err as { code?: unknown }).code
    if (file.endsWith('.ts') && code === 'ERR_UNKNOWN_FILE_EXTENSION') {
      return {
        ok: false,
        problem: `${shown} is TypeScript, which this Node cannot load: put it in the project's plugins/ folder and run \`npm run build\`, or give a .js file`
      }
    }
    return { ok: false, problem: `cannot load ${shown}: ${firstLine((err as Error).message)}` }
  }
  let exported = module.default
  if (typeof exported === 'function') {
    try {
      exported = (exported as (kit: PluginKit) => unknown)(KIT)
    } catch (err) {
      return { ok: false, problem: `${shown}: its default export threw: ${firstLine((err as Error).message)}` }
    }
  }
  const problem = definitionProblem(exported)
  if (problem !== undefined) return { ok: false, problem: `${shown}: ${problem}` }
  const definition = exported as PluginDefinition
  if (!isPathRef(ref) && definition.name !== ref) {
    return { ok: false, problem: `${shown} names its plugin '${definition.name}', not '${ref}'` }
  }
  return { ok: true, definition }
}

/** What is wrong with a module's default export as a plugin definition, if anything. */
function definitionProblem (value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') {
    return 'its default export must be a plugin definition (name, options, create) or a function returning one'
  }
  const d = value as Partial<Record<keyof PluginDefinition, unknown>>
  if (typeof d.name !== 'string' || !PLUGIN_NAME_PATTERN.test(d.name)) return 'its `name` must be a string of a-z, 0-9 and \'-\''
  if (d.options === null || typeof d.options !== 'object' || !(Kind in d.options)) {
    return '`options` must be a TypeBox schema (import Type from @sinclair/typebox, or use the `Type` given to a default-exported function)'
  }
  if (typeof d.create !== 'function') return '`create` must be a function'
  if (d.check !== undefined && typeof d.check !== 'function') return '`check` must be a function'
  if (d.responseBodyLimit !== undefined && (typeof d.responseBodyLimit !== 'number' || !Number.isInteger(d.responseBodyLimit) || d.responseBodyLimit < 1)) {
    return '`responseBodyLimit` must be a positive integer'
  }
  return undefined
}

function displayPath (file: string): string {
  const rel = relative(process.cwd(), file)
  return rel.startsWith('..') || isAbsolute(rel) ? file : rel
}

function firstLine (text: string): string {
  return text.split('\n', 1)[0] ?? ''
}
