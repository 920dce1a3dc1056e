// A small hand-written SVG line chart: requests per minute (left axis, solid
// line over a light area) and error rate (right axis, dashed line).
import { h, s } from './dom.js'
import { formatClock, formatDateTime, formatNumber, formatPercent, t } from './i18n.js'
import type { DashboardPoint } from './types.js'

const W = 480
const H = 220
const M = { top: 26, right: 48, bottom: 38, left: 44 }
const PLOT_W = W - M.left - M.right
const PLOT_H = H - M.top - M.bottom
const Y_TICKS = 4
const X_TICKS = 6

/** A round axis maximum and step (1, 2, 2.5, 5 × 10^n) covering max. */
export function niceScale (max: number, ticks = Y_TICKS, floor = 1): { max: number, step: number } {
  const top = Math.max(max, floor)
  const raw = top / ticks
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  const norm = raw / magnitude
  const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * magnitude
  return { max: Math.ceil(top / step - 1e-9) * step, step }
}

const fmt = (x: number): string => x.toFixed(1)

function linePath (xs: number[], ys: number[]): string {
  return xs.map((x, i) => `${i === 0 ? 'M' : 'L'}${fmt(x)} ${fmt(ys[i] ?? 0)}`).join(' ')
}

export interface ChartOptions {
  /** The integration's name, for data-testid and the accessible label. */
  name: string
}

export function lineChart (points: DashboardPoint[], options: ChartOptions): SVGSVGElement {
  const times = points.map((p) => Date.parse(p.t))
  const rates = points.map((p) => p.requests > 0 ? Math.min(1, p.errors / p.requests) : 0)
  const first = times[0] ?? Date.now()
  const last = times[times.length - 1] ?? first
  const span = Math.max(last - first, 1)
  const x = (time: number): number => points.length === 1
    ? M.left + PLOT_W / 2
    : M.left + ((time - first) / span) * PLOT_W

  const reqScale = niceScale(Math.max(0, ...points.map((p) => p.requests)))
  const rateScale = niceScale(Math.max(0, ...rates) * 100, Y_TICKS, 1)
  const yReq = (v: number): number => M.top + PLOT_H - (v / reqScale.max) * PLOT_H
  const yRate = (ratio: number): number => M.top + PLOT_H - ((ratio * 100) / rateScale.max) * PLOT_H

  const from = points[0]?.t
  const to = points[points.length - 1]?.t
  const label = from === undefined || to === undefined
    ? `${options.name}: ${t('chart.noData')}`
    : t('chart.aria', { name: options.name, from: formatDateTime(from), to: formatDateTime(to) })

  const svg = s('svg', {
    class: 'chart',
    viewBox: `0 0 ${W} ${H}`,
    role: 'img',
    'aria-label': label,
    'data-testid': `chart-${options.name}`,
    preserveAspectRatio: 'xMidYMid meet'
  }, s('title', null, label))

  // Horizontal grid lines with both axes' tick labels.
  const grid = s('g', { class: 'chart-grid' })
  for (let i = 0; i <= Y_TICKS; i++) {
    const y = M.top + PLOT_H - (i / Y_TICKS) * PLOT_H
    grid.append(
      s('line', { x1: M.left, x2: M.left + PLOT_W, y1: fmt(y), y2: fmt(y), stroke: '#d9dee5', 'stroke-width': 1 }),
      s('text', { x: M.left - 6, y: fmt(y + 4), 'text-anchor': 'end', class: 'chart-tick' },
        formatNumber((reqScale.max * i) / Y_TICKS, 2)),
      s('text', { x: M.left + PLOT_W + 6, y: fmt(y + 4), 'text-anchor': 'start', class: 'chart-tick' },
        formatPercent((rateScale.max * i) / Y_TICKS / 100)))
  }
  svg.append(grid)

  // Time labels along the bottom.
  const axis = s('g', { class: 'chart-axis' },
    s('line', { x1: M.left, x2: M.left + PLOT_W, y1: M.top + PLOT_H, y2: M.top + PLOT_H, stroke: '#7a8594', 'stroke-width': 1 }))
  if (points.length > 0) {
    const count = Math.min(X_TICKS, points.length)
    const seen = new Set<number>()
    for (let i = 0; i < count; i++) {
      const index = count === 1 ? 0 : Math.round((i / (count - 1)) * (points.length - 1))
      if (seen.has(index)) continue
      seen.add(index)
      const time = times[index] ?? first
      const px = x(time)
      axis.append(
        s('line', { x1: fmt(px), x2: fmt(px), y1: M.top + PLOT_H, y2: M.top + PLOT_H + 4, stroke: '#7a8594' }),
        s('text', {
          x: fmt(px),
          y: M.top + PLOT_H + 16,
          'text-anchor': count === 1 ? 'middle' : i === 0 ? 'start' : i === count - 1 ? 'end' : 'middle',
          class: 'chart-tick'
        }, formatClock(time)))
    }
  }
  // Axis titles: each y axis's unit above it, time below.
  axis.append(
    s('text', { x: M.left + PLOT_W / 2, y: H - 4, 'text-anchor': 'middle', class: 'chart-axis-title' }, t('chart.time')),
    s('text', { x: 2, y: 12, 'text-anchor': 'start', class: 'chart-axis-title chart-title-requests' }, t('chart.requests')),
    s('text', { x: W - 2, y: 12, 'text-anchor': 'end', class: 'chart-axis-title chart-title-errors' }, t('chart.errorRate')))
  svg.append(axis)

  if (points.length > 0) {
    const xs = times.map(x)
    const reqYs = points.map((p) => yReq(p.requests))
    const rateYs = rates.map(yRate)
    const base = fmt(M.top + PLOT_H)
    const requestsLine = linePath(xs, reqYs)
    svg.append(
      s('path', { class: 'chart-area', d: `${requestsLine} L${fmt(xs[xs.length - 1] ?? 0)} ${base} L${fmt(xs[0] ?? 0)} ${base} Z`, fill: '#1d6fb8', 'fill-opacity': 0.12, stroke: 'none' }),
      s('path', { class: 'chart-line chart-requests', d: requestsLine, fill: 'none', stroke: '#1d6fb8', 'stroke-width': 2, 'stroke-linejoin': 'round' }),
      s('path', { class: 'chart-line chart-errors', d: linePath(xs, rateYs), fill: 'none', stroke: '#c62828', 'stroke-width': 2, 'stroke-dasharray': '5 3', 'stroke-linejoin': 'round' }))

    // One invisible column per point, whose <title> is the hover tooltip.
    const hover = s('g', { class: 'chart-hover' })
    const half = points.length === 1 ? PLOT_W / 2 : PLOT_W / (points.length - 1) / 2
    points.forEach((p, i) => {
      const px = xs[i] ?? 0
      const left = Math.max(M.left, px - half)
      const right = Math.min(M.left + PLOT_W, px + half)
      hover.append(s('rect', { x: fmt(left), y: M.top, width: fmt(Math.max(right - left, 1)), height: PLOT_H, fill: 'transparent' },
        s('title', null, pointText(p))))
    })
    svg.append(hover)
  }
  return svg
}

/** What one point says: time, requests, 4xx, 5xx and the error rate, per minute. */
export function pointText (p: DashboardPoint): string {
  return t('chart.pointFull', {
    time: formatDateTime(p.t),
    requests: formatNumber(p.requests, 2),
    rejected: formatNumber(p.rejected ?? 0, 2),
    errors: formatNumber(p.errors, 2),
    rate: formatPercent(p.requests > 0 ? Math.min(1, p.errors / p.requests) : 0)
  })
}

/**
 * The chart with a tooltip that follows the pointer, and the arrow keys when
 * the chart has focus (Home/End for the ends): each point's numbers in words.
 */
export function chartBox (points: DashboardPoint[], options: ChartOptions): HTMLElement {
  const svg = lineChart(points, options)
  const tip = h('div', { class: 'chart-tip', role: 'status', 'aria-live': 'polite', 'data-testid': `tip-${options.name}`, hidden: true })
  const marker = s('line', { class: 'chart-marker', y1: M.top, y2: M.top + PLOT_H, x1: 0, x2: 0, stroke: '#1c2530', 'stroke-width': 1, visibility: 'hidden' })
  svg.append(marker)
  const box = h('div', { class: 'chart-box' }, svg, tip)
  if (points.length === 0) return box
  let index = points.length - 1
  const times = points.map((p) => Date.parse(p.t))
  const first = times[0] ?? 0
  const span = Math.max((times[times.length - 1] ?? first) - first, 1)
  const xOf = (i: number): number => points.length === 1
    ? M.left + PLOT_W / 2
    : M.left + (((times[i] ?? first) - first) / span) * PLOT_W
  const show = (i: number): void => {
    index = Math.max(0, Math.min(points.length - 1, i))
    const p = points[index]
    if (p === undefined) return
    tip.textContent = pointText(p)
    tip.hidden = false
    const x = xOf(index)
    marker.setAttribute('x1', x.toFixed(1))
    marker.setAttribute('x2', x.toFixed(1))
    marker.setAttribute('visibility', 'visible')
    // CSSOM, not a style attribute: allowed by the CSP.
    const share = x / W
    tip.style.left = `${(share * 100).toFixed(1)}%`
    tip.classList.toggle('chart-tip-left', share > 0.6)
  }
  const hide = (): void => {
    tip.hidden = true
    marker.setAttribute('visibility', 'hidden')
  }
  svg.setAttribute('tabindex', '0')
  svg.setAttribute('aria-describedby', tip.id = `tip-${options.name}`)
  svg.addEventListener('pointermove', (event) => {
    const rect = svg.getBoundingClientRect()
    const x = ((event.clientX - rect.left) / rect.width) * W
    const share = Math.max(0, Math.min(1, (x - M.left) / PLOT_W))
    let best = 0
    for (let i = 1; i < points.length; i++) {
      if (Math.abs(xOf(i) - (M.left + share * PLOT_W)) < Math.abs(xOf(best) - (M.left + share * PLOT_W))) best = i
    }
    show(best)
  })
  svg.addEventListener('pointerleave', () => { if (document.activeElement !== svg) hide() })
  svg.addEventListener('focus', () => { show(index) })
  svg.addEventListener('blur', hide)
  svg.addEventListener('keydown', (event) => {
    const moves: Record<string, number> = {
      ArrowLeft: index - 1, ArrowRight: index + 1, Home: 0, End: points.length - 1
    }
    const next = moves[event.key]
    if (next === undefined) return
    event.preventDefault()
    show(next)
  })
  return box
}
