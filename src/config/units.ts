// Durations and rates as routes.yaml writes them: `250ms`, `10s`, `1m`, `1h`, `1d`;
// rates as `N/<duration>` (`600/1m`).

/** An integration's name (a routes.yaml key, a client's grant): lowercase letters, digits and '-'. */
export const INTEGRATION_NAME_PATTERN = /^[a-z0-9-]+$/

export const DURATION_PATTERN = '^[0-9]+(ms|s|m|h|d)$'
export const RATE_PATTERN = '^[0-9]+/[0-9]+(ms|s|m|h|d)$'

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const DURATION_RE = new RegExp(DURATION_PATTERN)

/** Parses a duration string into milliseconds; undefined when it is not one. */
export function parseDuration (text: string): number | undefined {
  const match = DURATION_RE.exec(text)
  if (match === null) return undefined
  const unit = match[1] as string
  return Number(text.slice(0, text.length - unit.length)) * (UNIT_MS[unit] as number)
}

export interface Rate {
  limit: number
  windowMs: number
}

export function parseRate (text: string): Rate | undefined {
  const slash = text.indexOf('/')
  if (slash < 1) return undefined
  const limit = Number(text.slice(0, slash))
  const windowMs = parseDuration(text.slice(slash + 1))
  if (!Number.isInteger(limit) || windowMs === undefined) return undefined
  return { limit, windowMs }
}

export const SIZE_PATTERN = '^[0-9]+(b|kb|mb|gb)$'
const SIZE_UNIT: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }

/** Parses `512kb`, `10mb` (binary units) into bytes. */
export function parseSize (text: string): number | undefined {
  const match = /^([0-9]+)(b|kb|mb|gb)$/.exec(text.toLowerCase())
  if (match === null) return undefined
  return Number(match[1]) * (SIZE_UNIT[match[2] as string] as number)
}

/** A rate the way routes.yaml writes it: `600/1m`. */
export function formatRate ({ limit, windowMs }: Rate): string {
  const unit = windowMs % 3_600_000 === 0
    ? [3_600_000, 'h'] as const
    : windowMs % 60_000 === 0
      ? [60_000, 'm'] as const
      : windowMs % 1000 === 0 ? [1000, 's'] as const : [1, 'ms'] as const
  return `${limit}/${windowMs / unit[0]}${unit[1]}`
}
