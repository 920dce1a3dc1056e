// Gerbang keys and tokens that a client put in a URL: in the query string of
// an integration that does not read keys from it, or as a path parameter
// (`/kamar;X-API-KEY=gb_…`). They are stripped from what goes upstream and
// from everything logged or echoed (docs/contract.md section 15), found by their
// shape (src/auth/secrets.ts), also with the `_` percent-encoded.

// The prefix, then 43 base64url characters, any of them possibly %-encoded.
const CREDENTIAL = /gbt?(?:_|%5[Ff])(?:[A-Za-z0-9-]|_|%5[Ff]|%2[Dd]){43}/
const CREDENTIAL_G = new RegExp(CREDENTIAL.source, 'g')

/** Whether the text may hold a credential: cheap enough for every request. */
export function mayHoldCredential (text: string): boolean {
  return text.includes('gb') && CREDENTIAL.test(text)
}

/**
 * The path (and query) with every credential removed: query pairs and path
 * parameters holding one go whole; a credential elsewhere in a path segment
 * is cut out. Call only when mayHoldCredential said yes.
 */
export function stripCredentials (url: string): string {
  const q = url.indexOf('?')
  const path = pathWithoutCredentials(q === -1 ? url : url.slice(0, q))
  if (q === -1) return path
  const query = url.slice(q + 1).split('&').filter((pair) => !CREDENTIAL.test(pair)).join('&')
  return query === '' ? path : `${path}?${query}`
}

/** A path (no query) without credentials; a segment that was nothing but one goes, so no `//` is made. */
export function pathWithoutCredentials (path: string): string {
  if (!CREDENTIAL.test(path)) return path
  const segments = path.split('/')
  const last = segments.length - 1
  return segments.flatMap((segment, i) => {
    if (!CREDENTIAL.test(segment)) return [segment]
    const [name = '', ...params] = segment.split(';')
    const kept = [name.replace(CREDENTIAL_G, ''), ...params.filter((p) => !CREDENTIAL.test(p))].join(';')
    return kept === '' && i !== last ? [] : [kept]
  }).join('/')
}
