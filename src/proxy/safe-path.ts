// A request path is forwarded only when it cannot step outside the
// integration's upstream prefix, whatever the upstream does with it: no `.` or
// `..` segment (plain, percent-encoded, double-encoded), no encoded `/` or `\`,
// no empty segment (`//`), no NUL or control characters. Such paths are
// refused with 400 rather than "fixed", so what reaches the upstream is always
// exactly what the client sent.

const MAX_DECODE_ROUNDS = 3

/** Why a path (the part after the integration prefix, no query) is refused, or undefined when it is safe. */
export function unsafePathReason (path: string): string | undefined {
  let suspicious = false
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i)
    if (c === 37 /* % */ || c === 46 /* . */) {
      suspicious = true
    } else if (c === 92 /* \ */) {
      return 'backslashes are not allowed in paths'
    } else if (c === 47 /* / */ && path.charCodeAt(i + 1) === 47) {
      return 'empty path segments (//) are not allowed'
    } else if (c < 32 || c === 127) {
      return 'control characters are not allowed in paths'
    }
  }
  if (!suspicious) return undefined

  const segments = path.split('/')
  for (let s = 1; s < segments.length; s++) {
    let segment = segments[s] as string
    for (let round = 0; round <= MAX_DECODE_ROUNDS; round++) {
      if (segment === '.' || segment === '..') return 'dot segments (. and ..) are not allowed in paths'
      if (!segment.includes('%')) break
      let decoded: string
      try {
        decoded = decodeURIComponent(segment)
      } catch {
        return 'the path has an invalid percent-encoding'
      }
      if (/[/\\]/.test(decoded)) return 'encoded slashes are not allowed in paths'
      if (hasControlCharacter(decoded)) return 'control characters are not allowed in paths'
      if (decoded === segment) break
      segment = decoded
    }
  }
  return undefined
}

function hasControlCharacter (text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 32 || c === 127) return true
  }
  return false
}
