// GERBANG_DOC_SERVERS (issue 18, item 5): the Production and Development
// servers /doc offers. Its own module: readEnv checks it at start, and the
// CLI loads nothing of the portal for that.

export type DocLang = 'id' | 'en'

/** One Production or Development server of GERBANG_DOC_SERVERS. */
export interface DocServer {
  kind: 'production' | 'development'
  url: string
}

const SERVER_LABELS: Record<DocServer['kind'], Record<DocLang, string>> = {
  production: { id: 'Produksi', en: 'Production' },
  development: { id: 'Pengembangan', en: 'Development' }
}

/**
 * GERBANG_DOC_SERVERS: `production=https://…,development=https://…` (either
 * or both, in that order on the page). Unset or empty: none, and /doc offers
 * the server it was read from. Throws, naming the entry, when one is wrong.
 */
export function parseDocServers (value: string | undefined): DocServer[] {
  if (value === undefined || value.trim() === '') return []
  const servers: DocServer[] = []
  for (const entry of value.split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    const at = entry.indexOf('=')
    const kind = entry.slice(0, at).trim()
    const url = entry.slice(at + 1).trim()
    if (at < 0 || (kind !== 'production' && kind !== 'development')) {
      throw new Error(`GERBANG_DOC_SERVERS: '${entry}' is not production=<url> or development=<url>`)
    }
    let parsed: URL
    try { parsed = new URL(url) } catch { throw new Error(`GERBANG_DOC_SERVERS: '${url}' is not a URL`) }
    if ((parsed.protocol !== 'https:' && parsed.protocol !== 'http:') || parsed.search !== '' || parsed.hash !== '') {
      throw new Error(`GERBANG_DOC_SERVERS: '${url}' must be an http(s) URL without query or fragment`)
    }
    if (servers.some((s) => s.kind === kind)) throw new Error(`GERBANG_DOC_SERVERS: ${kind} is given twice`)
    servers.push({ kind, url: url.replace(/\/+$/, '') })
  }
  return servers.sort((a, b) => (a.kind === 'production' ? 0 : 1) - (b.kind === 'production' ? 0 : 1))
}

/** The OpenAPI `servers` of /doc/json: the configured ones, else the server the page came from. */
export function serversFor (servers: DocServer[], lang: DocLang): Array<{ url: string, description: string }> {
  if (servers.length === 0) return [{ url: '/', description: lang === 'id' ? 'Server ini' : 'This server' }]
  return servers.map((s) => ({ url: s.url, description: SERVER_LABELS[s.kind][lang] }))
}

/** The origins of the configured servers, for connect-src of /doc's CSP (Try it out calls them). */
export function serverOrigins (servers: DocServer[]): string[] {
  return [...new Set(servers.map((s) => new URL(s.url).origin))]
}
