// A small HTTP client for the proxy tests: the request target goes on the wire
// exactly as written (fetch would normalise it), and the whole answer comes
// back as bytes.
import assert from 'node:assert/strict'
import { request, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http'
import { connect, createServer, type AddressInfo } from 'node:net'
import { once } from 'node:events'
import { assertProblem } from '../helpers/problem.js'
import { waitUntil } from '../helpers/time.js'

export interface Answer {
  status: number
  headers: IncomingHttpHeaders
  rawHeaders: string[]
  body: Buffer
}

export interface SendOptions {
  method?: string
  headers?: OutgoingHttpHeaders
  /** A body sent in one piece; give it a content-length header to avoid chunking. */
  body?: Buffer | string
  /** A body sent as separate writes without content-length: chunked. */
  chunks?: Buffer[]
}

/** Sends one request to `base` (http://127.0.0.1:port) with `path` verbatim. */
export async function send (base: string, path: string, options: SendOptions = {}): Promise<Answer> {
  const { hostname, port } = new URL(base)
  const req = request({
    host: hostname,
    port,
    path,
    method: options.method ?? 'GET',
    headers: options.headers ?? {},
    agent: false
  })
  const answered = once(req, 'response')
  if (options.chunks !== undefined) {
    for (const chunk of options.chunks) req.write(chunk)
  } else if (options.body !== undefined) {
    req.write(options.body)
  }
  req.end()
  const [res] = await answered as [IncomingMessage]
  const parts: Buffer[] = []
  for await (const chunk of res) parts.push(chunk as Buffer)
  return { status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(parts) }
}

/**
 * Sends raw bytes (a request with Connection: close) on a new TCP connection
 * and parses the answer; for request targets no HTTP client would send as they are.
 */
export async function sendRaw (base: string, head: string | Buffer): Promise<Answer> {
  const { hostname, port } = new URL(base)
  const socket = connect(Number(port), hostname)
  await once(socket, 'connect')
  // Not end(): Node's HTTP server takes a half-close as the client giving up.
  // The request says Connection: close, so the server closes when it is done.
  socket.write(head)
  const parts: Buffer[] = []
  for await (const chunk of socket) parts.push(chunk as Buffer)
  return parseResponse(Buffer.concat(parts))
}

function parseResponse (data: Buffer): Answer {
  const end = data.indexOf('\r\n\r\n')
  assert.ok(end !== -1, `no complete response head in ${JSON.stringify(data.toString('latin1'))}`)
  const lines = data.subarray(0, end).toString('latin1').split('\r\n')
  const status = Number((lines[0] ?? '').split(' ')[1])
  const headers: IncomingHttpHeaders = {}
  const rawHeaders: string[] = []
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':')
    const name = line.slice(0, colon)
    const value = line.slice(colon + 1).trim()
    rawHeaders.push(name, value)
    headers[name.toLowerCase()] = value
  }
  let body = data.subarray(end + 4)
  if (headers['transfer-encoding'] === 'chunked') body = dechunk(body)
  else if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']))
  return { status, headers, rawHeaders, body }
}

function dechunk (data: Buffer): Buffer {
  const parts: Buffer[] = []
  let at = 0
  for (;;) {
    const nl = data.indexOf('\r\n', at)
    if (nl === -1) break
    const size = parseInt(data.subarray(at, nl).toString('latin1'), 16)
    if (!(size > 0)) break
    parts.push(data.subarray(nl + 2, nl + 2 + size))
    at = nl + 2 + size + 2
  }
  return Buffer.concat(parts)
}

export function json (answer: Answer): Record<string, unknown> {
  return JSON.parse(answer.body.toString('utf8')) as Record<string, unknown>
}

// The one problem-document assertion lives in test/helpers/problem.ts; it is
// exported here too because the proxy tests import their tools from this file.
export { assertProblem }

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/**
 * Polls until `check` holds (log lines are written once the response has
 * finished); fails the test after `timeoutMs`. test/helpers/time.ts's
 * waitUntil, for the tests that call it by this name.
 */
export async function eventually (check: () => boolean, timeoutMs = 5000): Promise<void> {
  await waitUntil('the condition to hold (eventually)', check, timeoutMs)
}

/** A port nothing listens on. */
export async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => { resolve() }))
  return port
}
