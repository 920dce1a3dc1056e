// Bahasa Indonesia first, English second. The choice lives in localStorage
// `gerbang.lang`. Times are shown in Asia/Jakarta (WIB, UTC+7, no DST).
//
// The texts themselves are in i18n-*.ts, one file per area of the console;
// every page looks them up here.

import { ACCESS_STRINGS } from './i18n-access.js'
import { AUDIT_STRINGS } from './i18n-audit.js'
import { CLIENT_STRINGS } from './i18n-clients.js'
import { COMMON_STRINGS } from './i18n-common.js'
import { DASHBOARD_STRINGS } from './i18n-dashboard.js'
import { KEY_REQUEST_STRINGS } from './i18n-key-requests.js'
import { ROUTES_STRINGS } from './i18n-routes.js'

// [Bahasa Indonesia, English] for every text of the UI.
const STRINGS = {
  ...COMMON_STRINGS,
  ...DASHBOARD_STRINGS,
  ...CLIENT_STRINGS,
  ...KEY_REQUEST_STRINGS,
  ...ACCESS_STRINGS,
  ...ROUTES_STRINGS,
  ...AUDIT_STRINGS
} satisfies Record<string, [id: string, en: string]>

/** Every key and its two texts, for the completeness test (test/admin/i18n.test.ts). */
export function allStrings (): Array<[string, string, string]> {
  return Object.entries(STRINGS).map(([key, [id, en]]) => [key, id, en])
}

export type Key = keyof typeof STRINGS

export type Lang = 'id' | 'en'
const STORAGE_KEY = 'gerbang.lang'

function readLang (): Lang {
  try {
    return localStorage.getItem(STORAGE_KEY) === 'en' ? 'en' : 'id'
  } catch {
    return 'id'
  }
}

let current: Lang = readLang()

export function lang (): Lang {
  return current
}

export function setLang (next: Lang): void {
  current = next
  try {
    localStorage.setItem(STORAGE_KEY, next)
  } catch {
    // Private mode or storage disabled: the choice lasts until the page reloads.
  }
  document.documentElement.lang = next
}

/** The text for key in the current language, with `{name}` placeholders filled in. */
export function t (key: Key, params?: Record<string, string | number>): string {
  const text = STRINGS[key][current === 'id' ? 0 : 1]
  if (params === undefined) return text
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = params[name]
    return value === undefined ? whole : String(value)
  })
}

/** A translation when the key exists (e.g. `perm.<permission>`), undefined otherwise. */
export function tMaybe (key: string): string | undefined {
  return (STRINGS as Record<string, [string, string] | undefined>)[key]?.[current === 'id' ? 0 : 1]
}

const JAKARTA = 'Asia/Jakarta'
const PARTS = new Intl.DateTimeFormat('en-US', {
  timeZone: JAKARTA,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23'
})

function jakartaParts (date: Date): Record<string, string> {
  const out: Record<string, string> = {}
  for (const part of PARTS.formatToParts(date)) out[part.type] = part.value
  return out
}

function parse (iso: string | number | Date): Date | undefined {
  const date = iso instanceof Date ? iso : new Date(iso)
  return Number.isNaN(date.getTime()) ? undefined : date
}

/** `2026-11-21 17:10:58 WIB` (ISO 8601 order, Jakarta time). */
export function formatDateTime (iso: string | number | Date): string {
  const date = parse(iso)
  if (date === undefined) return String(iso)
  const p = jakartaParts(date)
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second} WIB`
}

/** `17:10` in Jakarta, for chart axes. */
export function formatClock (iso: string | number | Date): string {
  const date = parse(iso)
  if (date === undefined) return ''
  const p = jakartaParts(date)
  return `${p.hour}:${p.minute}`
}

/** `YYYY-MM-DD` of today in Jakarta, for date inputs. */
export function jakartaToday (): string {
  const p = jakartaParts(new Date())
  return `${p.year}-${p.month}-${p.day}`
}

/** The UTC ISO string of 23:59:59 WIB on a `YYYY-MM-DD` date. */
export function endOfJakartaDay (date: string): string | undefined {
  const parsed = parse(`${date}T23:59:59+07:00`)
  return parsed?.toISOString()
}

export function formatNumber (n: number, maxFractionDigits = 0): string {
  return new Intl.NumberFormat(current === 'id' ? 'id-ID' : 'en-US', { maximumFractionDigits: maxFractionDigits }).format(n)
}

/** A duration in words, rounded up: `30 detik`, `15 menit` (895 s), `1 jam 5 menit`, `7 hari`. */
export function formatDuration (seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds))
  const one = (n: number, unit: 'day' | 'hour' | 'minute' | 'second'): string =>
    t(n === 1 ? `duration.${unit}` : `duration.${unit}s`, { n: formatNumber(n) })
  if (s < 60) return one(s, 'second')
  if (s < 3600) return one(Math.ceil(s / 60), 'minute')
  const big = s < 86_400 ? 3600 : 86_400
  const small = big === 3600 ? 60 : 3600
  const n = Math.floor(s / big)
  const rest = Math.ceil((s - n * big) / small)
  const first = one(n, big === 3600 ? 'hour' : 'day')
  return rest === 0 ? first : t('duration.and', { a: first, b: one(rest, big === 3600 ? 'minute' : 'hour') })
}

/** Milliseconds as `250 md` / `2,5 s`. */
export function formatMs (ms: number): string {
  return ms < 1000 ? t('ms', { n: formatNumber(ms) }) : `${formatNumber(ms / 1000, 1)} s`
}

/** 0..1 as a percentage, e.g. `1,5%`. */
export function formatPercent (ratio: number): string {
  return new Intl.NumberFormat(current === 'id' ? 'id-ID' : 'en-US', { style: 'percent', maximumFractionDigits: 2 }).format(ratio)
}
