// Issue 13, acceptance 1: a real Chromium. A page served from a second local
// origin that routes.yaml allows calls an `auth: apiKey` integration with
// fetch and x-api-key, reads the JSON and x-request-id, hits the rate limit
// and reads the 429 problem and Retry-After; the same page from an origin not
// allowed fails with a CORS error and nothing reaches the upstream.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway } from '../helpers/gateway.js'
import { startOrigin } from '../helpers/origin.js'
import { launchChromium, servePage } from '../helpers/chromium.js'

// The browser app: what a province dashboard does with the gateway.
const PAGE = `<!doctype html>
<html lang="id"><head><meta charset="utf-8"><title>Dasbor Dinkes</title></head>
<body><h1>Ketersediaan kamar</h1><pre id="out"></pre>
<script>
  window.callGateway = async (base, key) => {
    const headers = key === undefined ? {} : { 'x-api-key': key }
    try {
      const res = await fetch(base + '/yankes/kamar?rs=1', { headers })
      return {
        ok: true,
        status: res.status,
        requestId: res.headers.get('x-request-id'),
        retryAfter: res.headers.get('retry-after'),
        rateLimit: res.headers.get('ratelimit'),
        contentType: res.headers.get('content-type'),
        body: await res.json()
      }
    } catch (err) {
      return { ok: false, error: String(err) }
    }
  }
</script></body></html>`

interface CallResult {
  ok: boolean
  status?: number
  requestId?: string | null
  retryAfter?: string | null
  rateLimit?: string | null
  contentType?: string | null
  body?: Record<string, unknown>
  error?: string
}

test('a browser app on an allowed origin reads answers, x-request-id, the 429 problem and Retry-After; a foreign origin gets a CORS error', async (t) => {
  const upstream = await startOrigin((req, res) => {
    req.resume()
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ rs: 'RSUD Banten', kamarKosong: 12 }))
  })
  t.after(async () => { await upstream.close() })
  const allowed = await servePage(t, PAGE)
  const foreign = await servePage(t, PAGE)
  const gw = await startGateway(t, [
    'integrations:',
    '  yankes:',
    `    upstream: ${upstream.url}`,
    '    methods: [GET]',
    '    rateLimit: 3/1m',
    `    cors: { origins: ["${allowed}"] }`,
    ''
  ].join('\n'))
  const { key } = await gw.app.clients.create({ name: 'Dasbor Dinkes', integrations: ['yankes'] })
  const context = await launchChromium(t)

  // The allowed origin: three answers, then the limit.
  const page = context.pages()[0] ?? await context.newPage()
  await page.goto(`${allowed}/`)
  const results: CallResult[] = []
  for (let i = 0; i < 4; i++) {
    results.push(await page.evaluate(async ([base, k]) => await (globalThis as unknown as {
      callGateway: (b: string, k?: string) => Promise<CallResult>
    }).callGateway(base, k), [gw.url, key] as const))
  }
  for (const [i, r] of results.slice(0, 3).entries()) {
    assert.equal(r.ok, true, `call ${i + 1}: ${r.error ?? ''}`)
    assert.equal(r.status, 200)
    assert.deepEqual(r.body, { rs: 'RSUD Banten', kamarKosong: 12 })
    assert.match(r.requestId ?? '', /^[0-9a-f-]{36}$/, 'x-request-id is readable')
    assert.match(r.rateLimit ?? '', /r=\d+/, 'RateLimit is readable')
  }
  const limited = results[3] as CallResult
  assert.equal(limited.ok, true, limited.error)
  assert.equal(limited.status, 429)
  assert.match(limited.contentType ?? '', /^application\/problem\+json/)
  assert.equal(limited.body?.code, 'RATE_LIMITED')
  assert.equal(limited.body?.requestId, limited.requestId)
  assert.match(limited.retryAfter ?? '', /^\d+$/, 'Retry-After is readable')
  assert.ok(Number(limited.retryAfter) > 0 && Number(limited.retryAfter) <= 60)
  // The preflight was the gateway's to answer: the upstream saw the three GETs, nothing else.
  assert.deepEqual(upstream.seen.map((r) => r.method), ['GET', 'GET', 'GET'])
  assert.equal(upstream.seen[0]?.headers['x-api-key'], undefined)

  // The same page from an origin routes.yaml does not list.
  const other = await context.newPage()
  const consoleErrors: string[] = []
  other.on('console', (message) => { if (message.type() === 'error') consoleErrors.push(message.text()) })
  await other.goto(`${foreign}/`)
  const call = async (k?: string): Promise<CallResult> =>
    await other.evaluate(async ([base, kk]) => await (globalThis as unknown as {
      callGateway: (b: string, k?: string) => Promise<CallResult>
    }).callGateway(base, kk), [gw.url, k] as const)
  // With the key (a preflight first), and without (a simple GET, sent at once).
  for (const r of [await call(key), await call(undefined)]) {
    assert.equal(r.ok, false, `a foreign origin's fetch must fail, got ${JSON.stringify(r)}`)
    assert.match(r.error ?? '', /TypeError: Failed to fetch/)
  }
  assert.ok(consoleErrors.some((m) => /CORS policy/.test(m) && m.includes(foreign)), `Chromium reports a CORS error: ${consoleErrors.join('\n')}`)
  assert.equal(upstream.seen.length, 3, 'nothing from the foreign origin reached the upstream')
})
