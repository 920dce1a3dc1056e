// Stage 2 of the routes pipeline (src/config/routes-loader.ts): `${VAR}`
// references replaced by the environment's values, then the document
// expanded into plain data.
import { visit } from 'yaml'
import { ENV_PLACEHOLDER, firstLine, type EnvRef, type RoutesSource } from './routes-source.js'
import type { RoutesProblem } from './routes-types.js'

function substituteEnv ({ doc, refs, lineAt }: RoutesSource, env: NodeJS.ProcessEnv, problems: RoutesProblem[]): void {
  visit(doc, {
    Scalar (_key, node) {
      if (typeof node.value !== 'string' || !node.value.includes('gerbang-env-ref-')) return
      node.value = node.value.replace(ENV_PLACEHOLDER, (_m, index: string) => {
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

/**
 * Substitutes the environment into the parsed document and expands it into
 * plain data: the file's mapping, or the problems found.
 */
export function substitute (
  source: RoutesSource, env: NodeJS.ProcessEnv
): { ok: true, raw: object } | { ok: false, problems: RoutesProblem[] } {
  const problems: RoutesProblem[] = []
  substituteEnv(source, env, problems)
  if (problems.length > 0) return { ok: false, problems }

  let raw: unknown
  try {
    raw = source.doc.toJS()
  } catch (err) {
    // The yaml library refuses alias "bombs" (anchors expanding to millions of nodes) here.
    return { ok: false, problems: [{ path: '(yaml)', line: 1, message: `the file cannot be expanded: ${firstLine((err as Error).message)}` }] }
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, problems: [{ path: '(root)', line: 1, message: 'the file must be a mapping with an `integrations` section' }] }
  }
  return { ok: true, raw }
}
