// A credential sent in the query string (an integration's apiKeyQuery): read
// by the authenticator (src/auth/authenticator.ts), and taken out of the
// query before it is forwarded (src/proxy/index.ts).

/** The value of one query parameter, decoded; undefined when absent. */
export function queryParam (query: string, name: string): string | undefined {
  if (query === '') return undefined
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=')
    const key = eq === -1 ? pair : pair.slice(0, eq)
    if (safeDecode(key) === name) return eq === -1 ? '' : safeDecode(pair.slice(eq + 1))
  }
  return undefined
}

/** The query string without the named parameter, every other byte as sent. */
export function withoutQueryParam (query: string, name: string): string {
  return query.split('&').filter((pair) => {
    const eq = pair.indexOf('=')
    return safeDecode(eq === -1 ? pair : pair.slice(0, eq)) !== name
  }).join('&')
}

function safeDecode (text: string): string {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '))
  } catch {
    return text
  }
}
