// The gateway compiles route schemas on first use (src/http/lazy-schemas.ts):
// every one must still compile, and a route must answer exactly as with
// Fastify's own eager compilers (the same validation errors, coercions and
// serialized bodies).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import Fastify, { type FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { buildApp } from '../../src/app.js'
import { compileAllSchemas, lazySchemaCompilers, lazySchemasOf } from '../../src/http/lazy-schemas.js'
import { routesFrom, oneIntegration } from '../helpers/gateway.js'

test('every route schema of the gateway compiles; none is compiled before its route is used', async (t) => {
  const app = await buildApp({ routes: routesFrom(oneIntegration('yankes', 'http://127.0.0.1:9')) })
  t.after(async () => { await app.close() })
  await app.ready()
  const compiled = compileAllSchemas(app)
  // The admin API's bodies, queries, params and answers, and /doc's key-request forms.
  assert.ok(compiled > 40, `only ${compiled} schemas were waiting`)
  assert.equal(compileAllSchemas(app), 0, 'each is compiled once')
})

const Body = Type.Object({
  name: Type.String({ minLength: 2 }),
  email: Type.Optional(Type.String({ format: 'email' })),
  count: Type.Integer({ minimum: 1 }),
  tags: Type.Optional(Type.Array(Type.String(), { maxItems: 2 })),
  choice: Type.Optional(Type.Union([Type.Null(), Type.Array(Type.String())]))
}, { additionalProperties: false })
const Query = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5 })),
  on: Type.Optional(Type.Boolean())
})
const Params = Type.Object({ id: Type.String({ pattern: '^[a-z]+$' }) })
const Answer = Type.Object({ id: Type.String(), limit: Type.Optional(Type.Integer()), at: Type.String({ format: 'date-time' }) })

function sample (lazy: boolean): FastifyInstance {
  const compilersFactory = lazySchemaCompilers()
  const app = Fastify(lazy ? { schemaController: { compilersFactory } } : {})
  if (lazy) lazySchemasOf(app, compilersFactory)
  app.post('/things/:id', { schema: { body: Body, querystring: Query, params: Params, response: { 200: Answer } } },
    async (request) => ({ ...(request.params as object), ...(request.query as object), body: request.body, secret: 'x', at: '2026-01-01T00:00:00Z' }))
  app.get('/echo', { schema: { querystring: Query } }, async (request) => request.query)
  return app
}

test('a lazily compiled route answers exactly as Fastify\'s eager compilers do', async (t) => {
  const eager = sample(false)
  const lazy = sample(true)
  t.after(async () => { await Promise.all([eager.close(), lazy.close()]) })
  const requests = [
    { method: 'POST', url: '/things/abc?limit=3&on=true', payload: { name: 'ok', count: '2', tags: ['a'] } },
    { method: 'POST', url: '/things/abc', payload: { name: 'ok', count: 1, choice: null } },
    { method: 'POST', url: '/things/ABC', payload: { name: 'ok', count: 1 } },
    { method: 'POST', url: '/things/abc?limit=9', payload: { name: 'ok', count: 1 } },
    { method: 'POST', url: '/things/abc?limit=x', payload: { name: 'ok', count: 1 } },
    { method: 'POST', url: '/things/abc', payload: { name: 'o', count: 0 } },
    { method: 'POST', url: '/things/abc', payload: { name: 'ok', count: 1, extra: true } },
    { method: 'POST', url: '/things/abc', payload: { name: 'ok', count: 1, email: 'not-an-address' } },
    { method: 'POST', url: '/things/abc', payload: { name: 'ok', count: 1, tags: ['a', 'b', 'c'] } },
    { method: 'POST', url: '/things/abc', payload: 'null', headers: { 'content-type': 'application/json' } },
    { method: 'GET', url: '/echo?limit=2&on=1' },
    { method: 'GET', url: '/echo?limit=0' },
    { method: 'HEAD', url: '/echo?limit=2' },
    { method: 'HEAD', url: '/echo?limit=0' }
  ] as const
  for (const request of requests) {
    const [a, b] = await Promise.all([eager.inject(request), lazy.inject(request)])
    assert.equal(b.statusCode, a.statusCode, `${request.method} ${request.url}`)
    assert.equal(b.body, a.body, `${request.method} ${request.url}`)
    assert.equal(b.headers['content-type'], a.headers['content-type'])
  }
  // Every route was used (HEAD /echo is a route of its own), so nothing is left to compile.
  assert.equal(compileAllSchemas(lazy), 0)
})
