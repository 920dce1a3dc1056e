// routes.yaml text for tests, written one way: the one builder every test
// file uses when it needs a routes file of its own.

/**
 * The fields of `defaults` or of one integration, in the order they are
 * written. A string (or number, or boolean) goes after "key: " as it is, so
 * flow mappings (`{ failures: 2 }`) and ${VAR} references pass through; a
 * list of strings becomes a block list under the key ("- item"); undefined
 * fields are left out.
 */
export type RoutesFields = Record<string, string | number | boolean | readonly string[] | undefined>

export interface RoutesSpec {
  defaults?: RoutesFields
  integrations: Record<string, RoutesFields & { upstream: string }>
}

function fieldLines (fields: RoutesFields, indent: string): string[] {
  const lines: string[] = []
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue
    if (typeof value === 'object') {
      lines.push(`${indent}${key}:`, ...value.map((item) => `${indent}  - ${item}`))
    } else {
      lines.push(`${indent}${key}: ${String(value)}`)
    }
  }
  return lines
}

/** routes.yaml text: `defaults` when given, then every integration with its fields; ends with a newline. */
export function routesYaml ({ defaults, integrations }: RoutesSpec): string {
  const lines = defaults === undefined ? [] : ['defaults:', ...fieldLines(defaults, '  ')]
  lines.push('integrations:')
  for (const [name, fields] of Object.entries(integrations)) lines.push(`  ${name}:`, ...fieldLines(fields, '    '))
  return lines.join('\n') + '\n'
}
