// A fake SATUSEHAT (its public conventions) on 127.0.0.1: the
// OAuth2 token endpoint and a FHIR R4 upstream on one server, as the real one
// serves both from one host. It counts every token and FHIR request, can
// shorten the lifetime of the tokens it issues, revoke them, answer slowly,
// or fail in the ways a token endpoint does.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomBytes } from 'node:crypto'

export const TOKEN_PATH = '/oauth2/v1/accesstoken'
export const FHIR_BASE = '/fhir-r4/v1'

/** What the token endpoint saw of one request. */
export interface TokenRequest {
  method: string
  url: string
  authorization: string | undefined
  contentType: string | undefined
  form: URLSearchParams
  /** The answer's status. */
  status: number
  /** The token issued, if any. */
  token: string | undefined
}

/** What the FHIR upstream saw of one request. */
export interface FhirRequest {
  method: string
  url: string
  authorization: string | undefined
  /** Whether it carried a token that was valid then (the answer was 200, not 401). */
  valid: boolean
}

/** How the token endpoint answers: as SATUSEHAT does, or one of the failures. */
export type TokenMode = 'ok' | 'not-json' | 'no-token' | 'huge' | { status: number }

export interface FakeSatusehatOptions {
  clientId?: string
  clientSecret?: string
}

export interface FakeSatusehat {
  /** http://127.0.0.1:port */
  url: string
  /** The token endpoint, without the query string. */
  tokenUrl: string
  /** The FHIR base URL, an integration's upstream. */
  fhirUrl: string
  clientId: string
  clientSecret: string
  tokenRequests: TokenRequest[]
  fhirRequests: FhirRequest[]
  /** Every token issued, in order. */
  issued: string[]
  /**
   * expires_in as the next answers give it: a string, as SATUSEHAT sends it
   * ("14399"); undefined leaves it out (the tokens then live an hour).
   */
  expiresIn: string | undefined
  /** How the token endpoint answers from now on. */
  tokenMode: TokenMode
  /** Milliseconds the token endpoint waits before answering. */
  tokenDelayMs: number
  /** Makes every token issued so far invalid (the FHIR upstream answers 401 to them). */
  revokeAll: () => void
  close: () => Promise<void>
}

const INVALID_TOKEN = JSON.stringify({
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'error', code: 'invalid-access-token', details: { text: 'Invalid Access Token.' } }]
})

export async function startFakeSatusehat (options: FakeSatusehatOptions = {}): Promise<FakeSatusehat> {
  const valid = new Map<string, number>()
  const timers = new Set<NodeJS.Timeout>()

  const fake: FakeSatusehat = {
    url: '',
    tokenUrl: '',
    fhirUrl: '',
    clientId: options.clientId ?? 'kLy9m1Q0HnJcX2TbR8sVfWu3pZ5aEdGo7iN4hMxC6YzBqtP',
    clientSecret: options.clientSecret ?? 'Sx3v-secret-8fK2mQ9wZr1TnY6bLp0HcJ4uGd7eVa5N',
    tokenRequests: [],
    fhirRequests: [],
    issued: [],
    expiresIn: '14399',
    tokenMode: 'ok',
    tokenDelayMs: 0,
    revokeAll: () => { valid.clear() },
    close: async () => {
      for (const timer of timers) clearTimeout(timer)
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
    }
  }

  function later (fn: () => void): void {
    if (fake.tokenDelayMs <= 0) {
      fn()
      return
    }
    const timer = setTimeout(() => {
      timers.delete(timer)
      fn()
    }, fake.tokenDelayMs)
    timers.add(timer)
  }

  function answerToken (req: IncomingMessage, res: ServerResponse, raw: string): void {
    const url = new URL(req.url ?? '/', 'http://fake')
    const form = new URLSearchParams(raw)
    const record: TokenRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: req.headers.authorization,
      contentType: req.headers['content-type'],
      form,
      status: 0,
      token: undefined
    }
    fake.tokenRequests.push(record)
    const send = (status: number, body: string, type = 'application/json'): void => {
      record.status = status
      later(() => {
        if (res.destroyed) return
        res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) })
        res.end(body)
      })
    }
    const mode = fake.tokenMode
    if (typeof mode === 'object') {
      // Some endpoints echo what they were sent: a client must not pass it on.
      send(mode.status, JSON.stringify({ ErrorCode: 'invalid_client', Error: 'ClientId is Invalid', client_secret: form.get('client_secret') }))
      return
    }
    const grant = url.searchParams.get('grant_type')
    const type = (req.headers['content-type'] ?? '').split(';')[0]
    if (req.method !== 'POST' || grant !== 'client_credentials' || type !== 'application/x-www-form-urlencoded') {
      send(400, JSON.stringify({ ErrorCode: 'invalid_request', Error: 'Unsupported grant type : ' + String(grant) }))
      return
    }
    if (form.get('client_id') !== fake.clientId || form.get('client_secret') !== fake.clientSecret) {
      send(401, JSON.stringify({ ErrorCode: 'invalid_client', Error: 'ClientId is Invalid', client_secret: form.get('client_secret') }))
      return
    }
    if (mode === 'not-json') {
      send(200, `<html><body>maintenance ${fake.clientSecret}</body></html>`, 'text/html')
      return
    }
    if (mode === 'huge') {
      send(200, JSON.stringify({ access_token: 'x', padding: 'x'.repeat(100_000) }))
      return
    }
    const token = randomBytes(21).toString('base64url')
    const issuedAt = Date.now()
    const answer: Record<string, string> = {
      organization_name: 'dinkes-banten',
      token_type: 'BearerToken',
      issued_at: String(issuedAt),
      client_id: fake.clientId,
      access_token: token,
      application_name: 'b2f5a1c4-4c1e-4b8e-9d3a-7f0c2e6a1d55',
      scope: '',
      refresh_count: '0',
      status: 'approved'
    }
    if (fake.expiresIn !== undefined) answer.expires_in = fake.expiresIn
    if (mode === 'no-token') delete answer.access_token
    else {
      fake.issued.push(token)
      valid.set(token, issuedAt + (fake.expiresIn === undefined ? 3600 : Number(fake.expiresIn)) * 1000)
      record.token = token
    }
    send(200, JSON.stringify(answer))
  }

  function answerFhir (req: IncomingMessage, res: ServerResponse): void {
    const authorization = req.headers.authorization
    const token = authorization?.startsWith('Bearer ') === true ? authorization.slice(7) : undefined
    const until = token === undefined ? undefined : valid.get(token)
    const ok = until !== undefined && Date.now() < until
    fake.fhirRequests.push({ method: req.method ?? '', url: req.url ?? '', authorization, valid: ok })
    if (!ok) {
      res.writeHead(401, { 'content-type': 'application/json' })
      res.end(INVALID_TOKEN)
      return
    }
    const url = new URL(req.url ?? '/', 'http://fake')
    const identifier = url.searchParams.get('identifier') ?? ''
    const nik = identifier.split('|')[1] ?? identifier
    res.writeHead(200, { 'content-type': 'application/fhir+json' })
    res.end(JSON.stringify({
      resourceType: 'Bundle',
      type: 'searchset',
      total: 1,
      entry: [{
        fullUrl: `${fake.fhirUrl}/Patient/P02478375538`,
        resource: {
          resourceType: 'Patient',
          id: 'P02478375538',
          identifier: [{ system: 'https://fhir.kemkes.go.id/id/nik', value: nik }],
          name: [{ use: 'official', text: 'Budi Santoso' }]
        }
      }]
    }))
  }

  const server = createServer((req, res) => {
    const parts: Buffer[] = []
    req.on('data', (chunk: Buffer) => parts.push(chunk))
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0] ?? '/'
      if (path === TOKEN_PATH) answerToken(req, res, Buffer.concat(parts).toString('utf8'))
      else if (path.startsWith(FHIR_BASE + '/')) answerFhir(req, res)
      else {
        res.writeHead(404, { 'content-type': 'application/json' })
        res.end('{"error":"not found"}')
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  fake.url = `http://127.0.0.1:${port}`
  fake.tokenUrl = fake.url + TOKEN_PATH
  fake.fhirUrl = fake.url + FHIR_BASE
  return fake
}
