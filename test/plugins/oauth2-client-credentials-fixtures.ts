// What the oauth2-client-credentials tests
// (test/plugins/oauth2-client-credentials-*.test.ts) share: the plugin's hooks
// created with a log that is kept, an UpstreamRequest as the gateway hands it
// over, and a fake SATUSEHAT on 127.0.0.1.
import { type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import pino from 'pino'
import type { Static } from '@sinclair/typebox'
import plugin from '../../plugins/oauth2-client-credentials.js'
import { type PluginHooks, type UpstreamHeaders, type UpstreamRequest } from '../../src/upstream-plugins/types.js'
import { startFakeSatusehat, type FakeSatusehat } from '../helpers/satusehat.js'

export type Options = Static<typeof plugin.options>

class Headers implements UpstreamHeaders {
  readonly map = new Map<string, string>()
  constructor (init: Record<string, string> = {}) {
    for (const [name, value] of Object.entries(init)) this.map.set(name.toLowerCase(), value)
  }

  get (name: string): string | undefined { return this.map.get(name.toLowerCase()) }
  has (name: string): boolean { return this.map.has(name.toLowerCase()) }
  set (name: string, value: string): void { this.map.set(name.toLowerCase(), value) }
  delete (name: string): void { this.map.delete(name.toLowerCase()) }
}

/** An UpstreamRequest as the gateway hands it over; `attempt` is writable, as the gateway's is. */
export interface FakeRequest extends UpstreamRequest {
  attempt: number
  readonly headers: Headers
}

export function fakeRequest (headers: Record<string, string> = {}): FakeRequest {
  return {
    integration: 'satusehat',
    method: 'GET',
    path: '/Patient',
    query: 'identifier=https%3A%2F%2Ffhir.kemkes.go.id%2Fid%2Fnik%7C3601234567890001',
    headers: new Headers(headers),
    clientId: undefined,
    attempt: 0
  }
}

export interface Created {
  hooks: Required<Pick<PluginHooks, 'onRequest' | 'retryOn'>>
  /** Every line the plugin logged, parsed. */
  logs: Array<Record<string, unknown>>
  /** The same lines as written. */
  logText: () => string
}

export function create (options: Options): Created {
  const logs: Array<Record<string, unknown>> = []
  const lines: string[] = []
  const sink = new Writable({
    write (chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue
        lines.push(line)
        logs.push(JSON.parse(line) as Record<string, unknown>)
      }
      done()
    }
  })
  const hooks = plugin.create(options, { integration: 'satusehat', log: pino({ level: 'debug' }, sink) })
  assert.ok(hooks.onRequest !== undefined && hooks.retryOn !== undefined)
  return { hooks: { onRequest: hooks.onRequest, retryOn: hooks.retryOn }, logs, logText: () => lines.join('\n') }
}

export async function fakeSatusehat (t: TestContext): Promise<FakeSatusehat> {
  const fake = await startFakeSatusehat()
  t.after(fake.close)
  return fake
}

export function satusehatOptions (fake: FakeSatusehat, extra: Partial<Options> = {}): Options {
  return { tokenUrl: fake.tokenUrl, clientId: fake.clientId, clientSecret: fake.clientSecret, ...extra }
}

export async function onRequest (created: Created, request: FakeRequest = fakeRequest()): Promise<FakeRequest> {
  await created.hooks.onRequest(request)
  return request
}

export function assertNoSecret (text: string, fake: { clientSecret: string, issued?: string[] }): void {
  assert.ok(!text.includes(fake.clientSecret), `the client secret leaked: ${text}`)
  for (const token of fake.issued ?? []) assert.ok(!text.includes(token), `a token leaked: ${text}`)
}
