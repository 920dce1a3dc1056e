// Stage 3 of the routes pipeline (src/config/routes-loader.ts): the expanded
// data against the schema (src/config/routes-schema.ts), one problem per
// path, each at its line. Plugin options are checked against their plugins'
// schemas in stage 4 with the same messages.
import { Value } from '@sinclair/typebox/value'
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors'
import { RoutesFileSchema, type RoutesFile } from './routes-schema.js'
import { dotted, lineOf, unescapePointer, type RoutesSource } from './routes-source.js'
import type { RoutesProblem } from './routes-types.js'

/** The file's data as the schema has it, or every schema problem (the first per path). */
export function validate (
  source: RoutesSource, raw: object
): { ok: true, file: RoutesFile } | { ok: false, problems: RoutesProblem[] } {
  const problems: RoutesProblem[] = []
  const seen = new Set<string>()
  for (const error of schemaErrors(Value.Errors(RoutesFileSchema, raw))) {
    if (seen.has(error.path)) continue
    seen.add(error.path)
    const segments = error.path.split('/').slice(1).map(unescapePointer)
    // Plugin options carry secrets from the environment: never echo them.
    const secret = segments[0] === 'integrations' && segments[2] === 'plugins'
    problems.push({ path: dotted(segments), line: lineOf(source, segments), message: schemaMessage(error, !secret) })
  }
  if (problems.length > 0) return { ok: false, problems }
  return { ok: true, file: raw as RoutesFile }
}

/**
 * Schema errors, with one refinement: a mapping or list given where a union
 * allows one (`circuitBreaker: { failures: 0 }`, an `upstream:` list) reports
 * what is wrong inside it, at its own path, rather than "not any of the
 * union's forms".
 */
export function * schemaErrors (errors: Iterable<ValueError>): Generator<ValueError> {
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

type SchemaError = Pick<ValueError, 'type' | 'path' | 'value' | 'message'> & { schema: { description?: string } }

/**
 * What is wrong, with the value given unless `showValue` is false (it may be
 * a secret). `subject` starts a message about a value (`option 'x' must be…`);
 * unknown and missing ones name themselves as a `noun`.
 */
export function schemaMessage (error: SchemaError, showValue = true, noun = 'field', subject = ''): string {
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
