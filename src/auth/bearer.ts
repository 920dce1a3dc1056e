// `Authorization: Bearer <token>` (RFC 6750), and `BearerToken <token>`: the
// token endpoint answers `token_type: "BearerToken"` as SATUSEHAT does, and
// clients that echo token_type (Swagger UI's OAuth2 flow among them) send
// that scheme back. Both are the gateway's credential; scheme names are
// case-insensitive (RFC 9110 section 11.1).

/** The token of a Bearer or BearerToken Authorization value; undefined for any other scheme. */
export function bearerToken (authorization: string): string | undefined {
  const space = authorization.indexOf(' ')
  // "Bearer" is 6 characters, "BearerToken" 11.
  if (space !== 6 && space !== 11) return undefined
  const scheme = authorization.slice(0, space).toLowerCase()
  if (scheme !== 'bearer' && scheme !== 'bearertoken') return undefined
  return authorization.slice(space + 1).trim()
}

/** The scheme of an Authorization value, fit to quote in an error: short and printable. */
export function authorizationScheme (authorization: string): string {
  const scheme = authorization.split(' ', 1)[0] ?? ''
  return /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,30}$/.test(scheme) ? scheme : '(unreadable)'
}
