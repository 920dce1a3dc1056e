// What the benches print and write: figures, aligned tables, the machine a
// result was measured on.
import { cpus } from 'node:os'

/** A line of progress, as the benches print it. */
export function say (line: string): void {
  process.stdout.write(`bench: ${line}\n`)
}

/** To 0.1. */
export function round1 (value: number): number {
  return Math.round(value * 10) / 10
}

export function fmt (value: number | null | undefined, digits = 0): string {
  return value === null || value === undefined || Number.isNaN(value) ? '-' : value.toFixed(digits)
}

/** Columns padded to their widest cell; the first left-aligned, the others right-aligned. */
export function table (header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)).join('  ')
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

/** Like table, with the columns in `left` (and the first) left-aligned, and no trailing spaces. */
export function grid (header: string[], rows: string[][], left: number[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => i === 0 || left.includes(i) ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)).join('  ').trimEnd()
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

export function ratio (a: number, b: number): number {
  return b === 0 ? Number.NaN : Math.round(a / b * 100) / 100
}

/** Where a result was measured, at the head of every results file. */
export function machine (redisVersion: string | undefined): Record<string, unknown> {
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    redis: redisVersion
  }
}
