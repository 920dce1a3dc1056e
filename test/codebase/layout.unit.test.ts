import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { REPO_ROOT } from '../helpers/process.js'

// What issue 19 asks of the codebase, kept true: no import cycles, no long
// source or test files, a short README, and every path a comment or a doc
// names exists.

const CODE_DIRS = ['src', 'plugins', 'bench', 'demo']
const MAX_LINES = 400

function filesUnder (dir: string, keep: (path: string) => boolean): string[] {
  const out: string[] = []
  const walk = (at: string): void => {
    for (const name of readdirSync(at)) {
      if (name === 'node_modules' || name === 'dist') continue
      const path = join(at, name)
      if (statSync(path).isDirectory()) walk(path)
      else if (keep(path)) out.push(path)
    }
  }
  if (existsSync(dir)) walk(dir)
  return out
}

const sources = CODE_DIRS.flatMap((dir) => filesUnder(join(REPO_ROOT, dir), (p) => /\.(ts|mts|mjs)$/.test(p)))
const tests = filesUnder(join(REPO_ROOT, 'test'), (p) => p.endsWith('.ts'))
const rel = (path: string): string => relative(REPO_ROOT, path)

/** Relative imports, static, type-only and dynamic, resolved to .ts files. */
function importsOf (file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const found: string[] = []
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+'(\.[^']+)'|import\('(\.[^']+)'\)/g)) {
    const spec = (m[1] ?? m[2]) as string
    found.push(resolve(dirname(file), spec.replace(/\.js$/, '.ts')))
  }
  return found
}

test('no module of src/, plugins/, bench/ or demo/ imports itself back through others', () => {
  const graph = new Map(sources.map((f) => [f, importsOf(f).filter((d) => d !== f)]))
  const cycles: string[] = []
  // Tarjan's strongly connected components: any with two or more modules is a cycle.
  let next = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const visit = (v: string): void => {
    index.set(v, next)
    low.set(v, next++)
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue
      if (!index.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number))
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number))
    }
    if (low.get(v) !== index.get(v)) return
    const component: string[] = []
    let w: string
    do {
      w = stack.pop() as string
      onStack.delete(w)
      component.push(rel(w))
    } while (w !== v)
    if (component.length > 1) cycles.push(component.join(' ↔ '))
  }
  for (const v of graph.keys()) if (!index.has(v)) visit(v)
  assert.ok(sources.length > 100, 'the source files were found')
  assert.deepEqual(cycles, [])
})

test(`no source or test file is over ${MAX_LINES} lines`, () => {
  assert.ok(tests.length > 50, 'the test files were found')
  const long = sources.concat(tests)
    .map((f) => ({ file: rel(f), lines: readFileSync(f, 'utf8').split('\n').length - 1 }))
    .filter(({ lines }) => lines > MAX_LINES)
  assert.deepEqual(long, [])
})

test('the README stays under 200 lines and starts with the two commands', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')
  assert.ok(readme.split('\n').length < 200, `README.md has ${readme.split('\n').length} lines`)
  const head = readme.split('\n').slice(0, 30).join('\n')
  assert.match(head, /npm ci && npm run demo/)
  assert.match(head, /npm ci && npm test/)
})

test('every path a comment names, and every relative link of a doc, exists', () => {
  const missing: string[] = []
  const named = /(?:^|[\s(`'"])((?:src|docs|test|bench|plugins|demo|deploy|bin)\/[\w./*-]*[\w*-])/g
  const commented = sources.concat(tests)
  for (const file of commented) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!/^\s*(\/\/|\*|\/\*)/.test(line)) continue
      for (const m of line.matchAll(named)) {
        const path = m[1] as string
        if (path.includes('*')) continue // a glob, like src/admin/ui/i18n-*.ts
        if (path.startsWith('bench/results/')) continue // what a benchmark writes when it runs
        if (!existsSync(join(REPO_ROOT, path)) && !existsSync(join(REPO_ROOT, path.replace(/\.js$/, '.ts')))) {
          missing.push(`${rel(file)}: ${path}`)
        }
      }
    }
  }
  const docs = [join(REPO_ROOT, 'README.md'), ...filesUnder(join(REPO_ROOT, 'docs'), (p) => p.endsWith('.md'))]
  for (const doc of docs) {
    for (const m of readFileSync(doc, 'utf8').matchAll(/\]\(([^)#\s]+)/g)) {
      const link = m[1] as string
      if (/^[a-z]+:/.test(link)) continue
      if (!existsSync(resolve(dirname(doc), link))) missing.push(`${rel(doc)} → ${link}`)
    }
  }
  assert.ok(docs.length > 5, 'the docs were found')
  assert.deepEqual(missing, [])
})
