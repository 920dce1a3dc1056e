// What the forwarding tests (test/proxy/forwarding-*.test.ts) share: a real
// origin on 127.0.0.1 that echoes what it received or answers awkward
// statuses and headers, and a gateway with an integration for each case.
import { type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import { startGateway, type TestGateway } from '../helpers/gateway.js'
import { startOrigin, type Origin, type SeenRequest } from '../helpers/origin.js'
import { closedPort } from './client.js'

export interface Echo {
  method: string
  url: string
  headers: Record<string, string | string[] | undefined>
  rawHeaders: string[]
  bodyBytes: number
  sha256: string
  text: string
}

export const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex')

/**
 * The origin: /status/NNN answers that status (with a body of its own where
 * one is allowed), /headers answers with awkward response headers, anything
 * else echoes the request as JSON.
 */
async function startTestOrigin (t: TestContext): Promise<Origin> {
  const origin = await startOrigin((req, res) => {
    const parts: Buffer[] = []
    req.on('data', (chunk: Buffer) => { parts.push(chunk) })
    req.on('end', () => {
      const body = Buffer.concat(parts)
      const url = req.url ?? ''
      const status = /\/status\/(\d{3})/.exec(url)?.[1]
      if (status !== undefined) {
        answerStatus(Number(status), res)
        return
      }
      if (url.endsWith('/headers')) {
        res.setHeader('content-type', 'text/plain; charset=utf-8')
        res.setHeader('x-custom', 'nilai khusus; a=b')
        res.setHeader('x-multi', ['one', 'two'])
        res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; HttpOnly', 'c=3; Secure; SameSite=Lax'])
        res.setHeader('connection', 'x-internal')
        res.setHeader('x-internal', 'do-not-leak')
        res.setHeader('keep-alive', 'timeout=7, max=3')
        res.setHeader('proxy-authenticate', 'Basic realm="origin"')
        res.setHeader('x-request-id', 'upstream-own-id')
        res.setHeader('content-length', 5)
        res.end('hello')
        return
      }
      const echo: Echo = {
        method: req.method ?? '',
        url,
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        bodyBytes: body.length,
        sha256: sha256(body),
        text: body.length <= 4096 ? body.toString('utf8') : ''
      }
      const out = JSON.stringify(echo)
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out), 'x-origin': 'echo' })
      res.end(out)
    })
  })
  t.after(async () => { await origin.close() })
  return origin
}

function answerStatus (status: number, res: ServerResponse): void {
  switch (status) {
    case 201:
      res.writeHead(201, { 'content-type': 'application/json', location: '/kamar/7', 'content-length': 8 })
      res.end('{"id":7}')
      return
    case 204:
      res.writeHead(204, { 'x-deleted': 'yes' })
      res.end()
      return
    case 304:
      res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=60' })
      res.end()
      return
    case 404:
      res.writeHead(404, { 'content-type': 'application/json', 'x-origin': 'echo' })
      res.end('{"error":"kamar tidak ditemukan","rs":1}')
      return
    case 422:
      // The upstream's own problem document is its business: passed on untouched.
      res.writeHead(422, { 'content-type': 'application/problem+json' })
      res.end('{"title":"rs tidak valid","status":422,"kode":"RS_INVALID"}')
      return
    case 503:
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '120' })
      res.end('sedang pemeliharaan\n')
      return
    default:
      res.writeHead(status, { 'content-type': 'text/plain' })
      res.end(`origin says ${status}\n`)
  }
}

export interface Setup {
  origin: Origin
  gw: TestGateway
  /** What the origin saw, newest last. */
  last: () => SeenRequest
}

/**
 * yankes: upstream with a base path and rewritePrefix; plain: bare origin;
 * layanan: a two-segment prefix; getonly: methods [GET]; small: bodyLimit 1kb;
 * dead: nothing listens.
 */
export async function setup (t: TestContext): Promise<Setup> {
  const origin = await startTestOrigin(t)
  const dead = await closedPort()
  const gw = await startGateway(t, [
    'defaults:',
    '  auth: none',
    'integrations:',
    '  yankes:',
    `    upstream: ${origin.url}/base`,
    '    rewritePrefix: /api',
    '  plain:',
    `    upstream: ${origin.url}`,
    '  layanan:',
    `    upstream: ${origin.url}`,
    '    prefix: /layanan/rs',
    '  getonly:',
    `    upstream: ${origin.url}`,
    '    methods: [GET]',
    '  small:',
    `    upstream: ${origin.url}`,
    '    bodyLimit: 1kb',
    '  dead:',
    `    upstream: http://127.0.0.1:${dead}`,
    '    connectTimeout: 2s',
    ''
  ].join('\n'))
  return {
    origin,
    gw,
    last: () => {
      const seen = origin.seen.at(-1)
      assert.ok(seen !== undefined, 'the origin saw no request')
      return seen
    }
  }
}

export function echoOf (answer: { body: Buffer }): Echo {
  return JSON.parse(answer.body.toString('utf8')) as Echo
}
