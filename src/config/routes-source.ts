// Stage 1 of the routes pipeline (src/config/routes-loader.ts): the text,
// parsed once into a YAML document that keeps every node's position, so each
// later stage can name the line of what it finds wrong.
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml'
import type { RoutesProblem } from './routes-types.js'

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}\n]*))?\}/g

export interface EnvRef { name: string, fallback: string | undefined }

// `${VAR}` is not valid inside a YAML flow mapping (`{ secret: ${X} }`: the
// braces are flow indicators), so each reference is swapped for a plain
// placeholder before parsing, and substituted in the parsed scalars by stage 2
// (src/config/routes-substitute.ts). The
// placeholders hold no line break, so every line number stays true.
export const ENV_PLACEHOLDER = /gerbang-env-ref-(\d+)-x/g

export function maskEnvRefs (text: string): { masked: string, refs: EnvRef[] } {
  const refs: EnvRef[] = []
  const masked = text.replace(ENV_REF, (_m, name: string, fallback: string | undefined) => {
    refs.push({ name, fallback })
    return `gerbang-env-ref-${refs.length - 1}-x`
  })
  return { masked, refs }
}

/** A routes file parsed: its document (`${VAR}` references masked), the references, and offsets to lines. */
export interface RoutesSource {
  doc: Document
  refs: readonly EnvRef[]
  lineAt: (offset: number) => number
}

/** Parses the text of a routes file; the YAML syntax problems when it is not YAML. */
export function readSource (
  text: string
): { ok: true, source: RoutesSource } | { ok: false, problems: RoutesProblem[] } {
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
  return { ok: true, source: { doc, refs, lineAt } }
}

/** A problem at `segments` (a YAML path), with its dotted path and line. */
export function problemAt (source: RoutesSource, segments: readonly string[], message: string): RoutesProblem {
  return { path: dotted(segments), line: lineOf(source, segments), message }
}

/** The plugin names and paths a routes file refers to, read leniently (the full parse reports what is wrong). */
export function pluginRefsIn ({ doc }: RoutesSource): string[] {
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
export function lineOf ({ doc, lineAt }: RoutesSource, segments: readonly string[]): number {
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

export function dotted (segments: readonly string[]): string {
  return segments.length === 0 ? '(root)' : segments.join('.')
}

export function unescapePointer (segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~')
}

export function firstLine (text: string): string {
  return text.split('\n')[0] ?? text
}
