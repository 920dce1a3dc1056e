// A request path is forwarded only when it cannot step outside the
// integration's upstream prefix, whatever the upstream does with it: no `.` or
// `..` segment (plain, percent-encoded to any depth, or with a `;param`
// suffix, which Tomcat, Jetty and Spring read as `..`), no encoded `/` or `\`,
// no empty segment (`//`), no NUL or control characters. Such paths are
// refused with 400 rather than "fixed", so what reaches the upstream is always
// exactly what the client sent.

// Past this many rounds of percent-decoding a segment still holding `%` is
// refused: no honest client encodes a path that deep.
const MAX_DECODE_ROUNDS = 8

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
    const reason = unsafeSegmentReason(segments[s] as string)
    if (reason !== undefined) return reason
  }
  return undefined
}

function unsafeSegmentReason (raw: string): string | undefined {
  let segment = raw
  for (let round = 0; ; round++) {
    const semicolon = segment.indexOf(';')
    const name = semicolon === -1 ? segment : segment.slice(0, semicolon)
    if (name === '.' || name === '..') return 'dot segments (. and ..) are not allowed in paths'
    if (!segment.includes('%')) return undefined
    if (round === MAX_DECODE_ROUNDS) return 'the path is percent-encoded too many times'
    let decoded: string
    try {
      decoded = decodeURIComponent(segment)
    } catch {
      return 'the path has an invalid percent-encoding'
    }
    if (decoded.includes('/') || decoded.includes('\\')) return 'encoded slashes are not allowed in paths'
    if (hasControlCharacter(decoded)) return 'control characters are not allowed in paths'
    if (decoded === segment) return undefined
    segment = decoded
  }
}

function hasControlCharacter (text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 32 || c === 127) return true
  }
  return false
}
