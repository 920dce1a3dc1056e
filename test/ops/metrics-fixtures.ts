// What the /metrics tests (test/ops/metrics-*.test.ts) share: a strict parser
// of the Prometheus text format (0.0.4) to read every gerbang_* metric
// through, and a gateway with known integrations in front of an origin whose
// paths answer known statuses.
import { type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { type TestGateway } from '../helpers/gateway.js'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { waitUntil } from '../helpers/time.js'
import { routesYaml, type RoutesSpec } from '../helpers/routes.js'

// ---------------------------------------------------------------------------
// A strict parser of the text exposition format
// (https://prometheus.io/docs/instrumenting/exposition_formats/): HELP and
// TYPE once per family and before its samples, each family's samples in one
// group, label values with their three escapes, no duplicate series, and
// histograms whose buckets add up.

interface Sample { name: string, labels: Record<string, string>, value: number }
interface Family { name: string, type: string, help: string | undefined, samples: Sample[] }
export type Exposition = Map<string, Family>

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])

/** A value as Prometheus reads it (Go's strconv.ParseFloat): NaN and Inf in any case; prom-client writes `Nan`. */
function parseValue (text: string, where: string): number {
  const special = /^([-+]?)(inf|infinity|nan)$/i.exec(text)
  if (special !== null) {
    if ((special[2] as string).toLowerCase() === 'nan') {
      if (special[1] !== '') throw new Error(`${where}: '${text}' is not a sample value`)
      return NaN
    }
    return special[1] === '-' ? -Infinity : Infinity
  }
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`${where}: '${text}' is not a sample value`)
  return Number(text)
}

/** Parses `name{a="x",b="y"} value [timestamp]`. */
function parseSample (line: string, where: string): Sample {
  let i = 0
  while (i < line.length && line[i] !== '{' && line[i] !== ' ') i++
  const name = line.slice(0, i)
  if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name '${name}'`)
  const labels: Record<string, string> = {}
  if (line[i] === '{') {
    i++
    while (line[i] !== '}') {
      const eq = line.indexOf('=', i)
      if (eq === -1) throw new Error(`${where}: label without '='`)
      const label = line.slice(i, eq)
      if (!LABEL_NAME.test(label)) throw new Error(`${where}: bad label name '${label}'`)
      if (label in labels) throw new Error(`${where}: label '${label}' twice`)
      if (line[eq + 1] !== '"') throw new Error(`${where}: label value of '${label}' is not quoted`)
      let value = ''
      let j = eq + 2
      for (;;) {
        const c = line[j]
        if (c === undefined) throw new Error(`${where}: unterminated label value`)
        if (c === '"') break
        if (c === '\\') {
          const next = line[j + 1]
          if (next === '\\') value += '\\'
          else if (next === '"') value += '"'
          else if (next === 'n') value += '\n'
          else throw new Error(`${where}: bad escape '\\${next ?? ''}' in a label value`)
          j += 2
        } else {
          value += c
          j++
        }
      }
      labels[label] = value
      i = j + 1
      if (line[i] === ',') i++
      else if (line[i] !== '}') throw new Error(`${where}: expected ',' or '}' after label '${label}'`)
    }
    i++
  }
  if (line[i] !== ' ') throw new Error(`${where}: expected a space before the value`)
  const rest = line.slice(i + 1).split(' ')
  if (rest.length > 2 || rest[0] === '') throw new Error(`${where}: expected 'value [timestamp]'`)
  if (rest[1] !== undefined && !/^-?\d+$/.test(rest[1])) throw new Error(`${where}: bad timestamp '${rest[1]}'`)
  return { name, labels, value: parseValue(rest[0] as string, where) }
}

function unescapeHelp (text: string): string {
  return text.replace(/\\(\\|n)/g, (_, c: string) => c === 'n' ? '\n' : '\\')
}

/** The family a sample belongs to, given the families declared so far. */
function familyOf (families: Exposition, name: string): Family | undefined {
  const own = families.get(name)
  if (own !== undefined) return own
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue
    const family = families.get(name.slice(0, -suffix.length))
    if (family === undefined) continue
    if (family.type === 'histogram' || (family.type === 'summary' && suffix !== '_bucket')) return family
  }
  return undefined
}

const seriesKey = (name: string, labels: Record<string, string>): string =>
  name + JSON.stringify(Object.entries(labels).sort(([a], [b]) => a < b ? -1 : 1))

export function parseExposition (text: string): Exposition {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline')
  const families: Exposition = new Map()
  const seen = new Set<string>()
  const closed = new Set<string>()
  let current: Family | undefined
  const lines = text.slice(0, -1).split('\n')
  lines.forEach((line, index) => {
    const where = `line ${index + 1}`
    if (line === '') return
    if (line.startsWith('#')) {
      const meta = /^# (HELP|TYPE) ([^ ]+) ?(.*)$/.exec(line)
      if (meta === null) return // a comment
      const [, kind, name = '', rest = ''] = meta
      if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name '${name}'`)
      let family = families.get(name)
      if (family !== undefined && family.samples.length > 0) throw new Error(`${where}: ${kind ?? ''} for ${name} after its samples`)
      if (family === undefined) {
        family = { name, type: 'untyped', help: undefined, samples: [] }
        families.set(name, family)
      }
      if (kind === 'HELP') {
        if (family.help !== undefined) throw new Error(`${where}: second HELP for ${name}`)
        family.help = unescapeHelp(rest)
      } else {
        if (family.type !== 'untyped') throw new Error(`${where}: second TYPE for ${name}`)
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type '${rest}'`)
        family.type = rest
      }
      return
    }
    const sample = parseSample(line, where)
    const family = familyOf(families, sample.name)
    if (family === undefined) throw new Error(`${where}: ${sample.name} has no TYPE line before it`)
    if (family !== current) {
      if (current !== undefined) closed.add(current.name)
      if (closed.has(family.name)) throw new Error(`${where}: samples of ${family.name} are not in one group`)
      current = family
    }
    const key = seriesKey(sample.name, sample.labels)
    if (seen.has(key)) throw new Error(`${where}: series ${sample.name}${JSON.stringify(sample.labels)} twice`)
    seen.add(key)
    if (family.type === 'counter' && !(sample.value >= 0)) throw new Error(`${where}: counter ${sample.name} is ${sample.value}`)
    family.samples.push(sample)
  })
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family)
  return families
}

/** Per label set: `le` ascending and ending at +Inf, counts cumulative, +Inf = _count, a _sum. */
function checkHistogram (family: Family): void {
  const groups = new Map<string, { buckets: Array<[number, number]>, sum?: number, count?: number }>()
  for (const s of family.samples) {
    const { le, ...rest } = s.labels
    const key = seriesKey('', rest)
    const group = groups.get(key) ?? { buckets: [] }
    groups.set(key, group)
    if (s.name === `${family.name}_bucket`) {
      if (le === undefined) throw new Error(`${family.name}_bucket without le`)
      group.buckets.push([parseValue(le, `${family.name} le`), s.value])
    } else if (s.name === `${family.name}_sum`) group.sum = s.value
    else if (s.name === `${family.name}_count`) group.count = s.value
    else throw new Error(`${s.name} in histogram ${family.name}`)
  }
  for (const [key, g] of groups) {
    const what = `${family.name}${key}`
    assert.ok(g.buckets.length > 0, `${what}: no buckets`)
    for (let i = 1; i < g.buckets.length; i++) {
      const [le, count] = g.buckets[i] as [number, number]
      const [prevLe, prevCount] = g.buckets[i - 1] as [number, number]
      assert.ok(le > prevLe, `${what}: le ${le} after ${prevLe}`)
      assert.ok(count >= prevCount, `${what}: bucket le=${le} (${count}) below le=${prevLe} (${prevCount})`)
    }
    const last = g.buckets[g.buckets.length - 1] as [number, number]
    assert.equal(last[0], Infinity, `${what}: the last bucket is not +Inf`)
    assert.equal(g.count, last[1], `${what}: _count differs from the +Inf bucket`)
    assert.equal(typeof g.sum, 'number', `${what}: no _sum`)
  }
}

/** Every series of a family as `{"a":"x","b":"y"} → value`, for exact comparisons. */
export function seriesOf (metrics: Exposition, name: string, sampleName = name): Record<string, number> {
  const family = metrics.get(name)
  assert.ok(family !== undefined, `${name} is not exposed`)
  const out: Record<string, number> = {}
  for (const s of family.samples) {
    if (s.name !== sampleName) continue
    const labels = Object.fromEntries(Object.entries(s.labels).sort(([a], [b]) => a < b ? -1 : 1))
    out[JSON.stringify(labels)] = s.value
  }
  return out
}

export const L = (labels: Record<string, string>): string =>
  JSON.stringify(Object.fromEntries(Object.entries(labels).sort(([a], [b]) => a < b ? -1 : 1)))

export function valueOf (
  metrics: Exposition, sampleName: string, labels: Record<string, string> = {}
): number | undefined {
  const family = familyOf(metrics, sampleName)
  return family?.samples.find((s) => s.name === sampleName && L(s.labels) === L(labels))?.value
}

export async function fruitOrigin (t: TestContext): Promise<Origin> {
  const origin = await startOrigin((req, res) => {
    req.resume()
    const path = req.url ?? ''
    const answer = (status: number): void => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ status }))
    }
    if (path.startsWith('/missing')) answer(404)
    else if (path.startsWith('/forbidden')) answer(403)
    else if (path.startsWith('/boom')) answer(500)
    else if (path.startsWith('/slow')) setTimeout(() => { answer(200) }, 1100)
    else answer(200)
  })
  t.after(origin.close)
  return origin
}

/** yankes and sempit (rate limit 2/1m) on `origin`, mati (auth: none) on a dead port, and `extra` integrations. */
export function metricsRoutes (origin: string, deadPort: number, extra: RoutesSpec['integrations'] = {}): string {
  return routesYaml({
    defaults: { rateLimit: '1000/1m' },
    integrations: {
      yankes: { upstream: origin },
      sempit: { upstream: origin, rateLimit: '2/1m' },
      mati: { upstream: `http://127.0.0.1:${deadPort}`, auth: 'none' },
      ...extra
    }
  })
}

/** Waits until the gateway has finished (and counted) `n` requests: each writes its access line as it is counted. */
export async function untilCounted (gw: TestGateway, n: number): Promise<void> {
  const finished = (): number => gw.logs.filter((l) => l.msg === 'request').length
  await waitUntil(`${n} requests to finish`, () => finished() >= n, { intervalMs: 5, detail: () => `only ${finished()} of ${n} finished` })
}

export async function scrape (gw: TestGateway, headers: Record<string, string> = {}): Promise<Exposition> {
  const res = await fetch(`${gw.url}/metrics`, { headers })
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8')
  return parseExposition(await res.text())
}
