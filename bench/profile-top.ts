// Summarizes a V8 .cpuprofile (from `node --cpu-prof`, see BENCH_PROFILE in
// bench/README.md) without a browser: self time by package and by function.
// usage: node dist/bench/profile-top.js FILE_OR_DIR [TOP]
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}

interface ProfileNode {
  id: number
  callFrame: CallFrame
}

interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  /** Microseconds before each sample. */
  timeDeltas: number[]
}

// V8's pseudo-frames: time the process spent not running JavaScript.
const IDLE = '(idle)'

function packageOf (url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)'
  if (url.startsWith('node:')) return 'node internals'
  const nm = url.lastIndexOf('/node_modules/')
  if (nm !== -1) {
    const parts = url.slice(nm + '/node_modules/'.length).split('/')
    return parts[0]?.startsWith('@') === true ? `${parts[0]}/${parts[1] ?? ''}` : parts[0] ?? url
  }
  if (url.includes('/dist/src/')) return 'gerbang (src)'
  if (url.includes('/dist/bench/')) return 'bench'
  return url
}

function shortUrl (url: string): string {
  const nm = url.lastIndexOf('/node_modules/')
  if (nm !== -1) return url.slice(nm + '/node_modules/'.length)
  const dist = url.lastIndexOf('/dist/')
  if (dist !== -1) return url.slice(dist + 1)
  return url.replace(/^file:\/\//, '')
}

function summarize (file: string, top: number): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const selfUs = new Map<number, number>()
  // Each sample's time is the delta to the next one (the last gets none).
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0))
  }

  const byFunction = new Map<string, number>()
  const byPackage = new Map<string, number>()
  let busyUs = 0
  let idleUs = 0
  for (const [id, us] of selfUs) {
    const frame = (byId.get(id) as ProfileNode).callFrame
    if (frame.functionName === IDLE) {
      idleUs += us
      continue
    }
    busyUs += us
    const key = frame.url === ''
      ? frame.functionName
      : `${frame.functionName === '' ? '(anonymous)' : frame.functionName}  ${shortUrl(frame.url)}:${frame.lineNumber + 1}`
    byFunction.set(key, (byFunction.get(key) ?? 0) + us)
    const pkg = packageOf(frame.url, frame.functionName)
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us)
  }

  const pct = (us: number): string => `${(us / busyUs * 100).toFixed(1).padStart(5)} %`
  const ms = (us: number): string => `${(us / 1000).toFixed(0).padStart(7)} ms`
  const sorted = (m: Map<string, number>): Array<[string, number]> => [...m].sort((a, b) => b[1] - a[1])
  const lines = [
    file,
    `  busy ${(busyUs / 1e6).toFixed(2)} s, idle ${(idleUs / 1e6).toFixed(2)} s (percentages are of busy time)`,
    '',
    '  self time by package:',
    ...sorted(byPackage).slice(0, 15).map(([k, us]) => `  ${ms(us)} ${pct(us)}  ${k}`),
    '',
    `  top ${top} functions by self time:`,
    ...sorted(byFunction).slice(0, top).map(([k, us]) => `  ${ms(us)} ${pct(us)}  ${k}`)
  ]
  return lines.join('\n')
}

const target = process.argv[2]
if (target === undefined) {
  process.stderr.write('usage: node dist/bench/profile-top.js FILE_OR_DIR [TOP]\n')
  process.exit(2)
}
const top = Number(process.argv[3] ?? 30)
const files = statSync(target).isDirectory()
  ? readdirSync(target).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(target, f))
  : [target]
if (files.length === 0) {
  process.stderr.write(`no .cpuprofile in ${target}\n`)
  process.exit(1)
}
process.stdout.write(files.map((f) => summarize(f, top)).join('\n\n') + '\n')
