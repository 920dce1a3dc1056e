// Takes the samples: every SAMPLE_S the gateway's RSS and CPU, its /metrics
// (heap, event-loop lag, handles, collections, breakers, store), and the
// load's answers counted since the last one.
import type { Pool } from 'undici'
import { cpuUs, rssMb } from '../proc.js'
import { hasExited, type Started } from '../processes.js'
import { parseMetrics, request, type AdminPoller, type ControlCounts } from './control.js'
import { Counts, errorName } from './counts.js'
import { mb, ms, type Sample } from './samples.js'
import { METRICS_TOKEN } from './settings.js'
import type { Generator, Kind } from './traffic.js'

export interface SamplerContext {
  gateway: Started
  /** The pool of the soak's own requests, for /metrics. */
  control: Pool
  controlCounts: ControlCounts
  admin: AdminPoller
  /** Seconds since the traffic started. */
  now: () => number
  event: (what: string) => void
  notes: string[]
}

export class Sampler {
  readonly samples: Sample[] = []
  /** Every answer of the run, by kind of request. */
  readonly byKind = new Map<string, Counts>()
  /** Set once a sample finds the gateway gone: the run stops. */
  gatewayDied = false
  readonly #cx: SamplerContext
  /** The answers since the last sample. */
  #window = new Counts()
  #lastGatewayCpu: number | null
  #lastSelfCpu = process.cpuUsage()
  #lastSampleAt = performance.now()
  #metricsMissing = false

  constructor (cx: SamplerContext) {
    this.#cx = cx
    this.#lastGatewayCpu = cpuUs(cx.gateway.pid)
  }

  /** The generator's callback: one answer, or a broken connection (no status), counted. */
  readonly onAnswer = (kind: Kind, status: number | undefined, code: string | undefined, took: number): void => {
    let k = this.byKind.get(kind.name)
    if (k === undefined) {
      k = new Counts()
      this.byKind.set(kind.name, k)
    }
    for (const c of [this.#window, k]) {
      if (status === undefined) c.error(code ?? 'unknown')
      else c.add(status, code, took)
    }
  }

  async sample (generator: Generator): Promise<void> {
    const { gateway: gw, control, controlCounts, admin, now, event, notes } = this.#cx
    const samples = this.samples
    const t = Math.round(now())
    const rss = rssMb(gw.pid)
    const at = performance.now()
    const gatewayCpu = cpuUs(gw.pid)
    const selfCpu = process.cpuUsage()
    const wallUs = (at - this.#lastSampleAt) * 1000
    const counts = this.#window
    counts.dropped = generator.dropped - samples.reduce((a, s) => a + s.counts.dropped, 0)
    this.#window = new Counts()
    const s: Sample = {
      t,
      rssMb: rss,
      heapUsedMb: null,
      heapTotalMb: null,
      externalMb: null,
      lagP99Ms: null,
      lagMaxMs: null,
      handles: null,
      majorGcs: null,
      gatewayCpuPct: gatewayCpu === null || this.#lastGatewayCpu === null
        ? null
        : Math.round((gatewayCpu - this.#lastGatewayCpu) / wallUs * 100),
      loadgenCpuPct: Math.round((selfCpu.user - this.#lastSelfCpu.user +
        selfCpu.system - this.#lastSelfCpu.system) / wallUs * 100),
      inFlight: generator.inFlight,
      breakers: [],
      storeUp: null,
      duringLogin: at < admin.loginUntil,
      counts
    }
    this.#lastGatewayCpu = gatewayCpu
    this.#lastSelfCpu = selfCpu
    this.#lastSampleAt = at
    samples.push(s)
    if (hasExited(gw)) {
      if (!this.gatewayDied) event(`the gateway exited (code ${String(gw.child.exitCode)}, signal ${String(gw.child.signalCode)})`)
      this.gatewayDied = true
      return
    }
    if (this.#metricsMissing) return
    try {
      const res = await request(control, 'GET', '/metrics', { authorization: `Bearer ${METRICS_TOKEN}` })
      controlCounts.add('GET /metrics', res.status)
      if (res.status === 404) {
        this.#metricsMissing = true
        notes.push('GET /metrics answered 404: no heap, event-loop lag or breaker figures')
        return
      }
      if (res.status !== 200) return
      const m = parseMetrics(res.body)
      s.heapUsedMb = mb(m.get('nodejs_heap_size_used_bytes'))
      s.heapTotalMb = mb(m.get('nodejs_heap_size_total_bytes'))
      s.externalMb = mb(m.get('nodejs_external_memory_bytes'))
      s.lagP99Ms = ms(m.get('nodejs_eventloop_lag_p99_seconds'))
      s.lagMaxMs = ms(m.get('nodejs_eventloop_lag_max_seconds'))
      s.handles = m.get('nodejs_active_handles_total') ?? null
      s.majorGcs = m.get('nodejs_gc_duration_seconds_count{kind="major"}') ?? null
      s.storeUp = m.get('gerbang_store_up') ?? null
      for (const [name, value] of m) {
        const match = /^gerbang_circuit_breaker_state\{integration="([^"]+)",state="([^"]+)"\}$/.exec(name)
        if (match !== null && value === 1 && match[2] !== 'closed') s.breakers.push(`${match[1] ?? ''}:${match[2] ?? ''}`)
      }
    } catch (err) {
      controlCounts.add('GET /metrics', `error ${errorName(err)}`)
    }
  }
}
