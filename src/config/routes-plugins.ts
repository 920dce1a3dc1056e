// Stage 4 of the routes pipeline, for `plugins:` (src/config/routes-check.ts
// calls it): each entry resolved to a built-in or loaded plugin and its
// options checked against that plugin's own schema.
import { Value } from '@sinclair/typebox/value'
import { BUILTIN_PLUGINS, type PluginResolution } from '../upstream-plugins/registry.js'
import type { ConfiguredPlugin } from '../upstream-plugins/chain.js'
import { unescapePointer } from './routes-source.js'
import type { RoutesProblem } from './routes-types.js'
import { schemaErrors, schemaMessage } from './routes-validate.js'

/**
 * An integration's `plugins:` list, each checked against its plugin's own
 * schema (defaults filled in) and `check`. Problems name the plugin and the
 * option, never the value: options are where secrets live.
 */
export function configurePlugins (
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
