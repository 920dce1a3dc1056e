import { validateHeaderName } from 'node:http'
import { Type } from '@sinclair/typebox'
import { definePlugin } from '../src/upstream-plugins/types.js'

// Adds, replaces or removes upstream request headers:
//
//   plugins:
//     - static-headers:
//         set: { x-instansi: dinkes-banten, x-api-version: "2" }
//         remove: [x-debug]
//
// `remove` runs first, then `set`, so a header can be removed and set anew.

// Headers the gateway owns: a plugin setting them would break the request or
// claim an identity the client does not have.
const RESERVED = new Set([
  'host', 'content-length', 'transfer-encoding', 'connection',
  'x-request-id', 'x-client-id', 'x-client-name', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host'
])

export default definePlugin({
  name: 'static-headers',
  options: Type.Object({
    set: Type.Optional(Type.Record(Type.String(), Type.String({ pattern: '^[^\\r\\n\\0]*$' }), {
      description: 'a mapping of header name to value'
    })),
    remove: Type.Optional(Type.Array(Type.String(), { description: 'a list of header names' }))
  }, { additionalProperties: false }),
  check (options) {
    for (const [option, names] of [['remove', options.remove ?? []], ['set', Object.keys(options.set ?? {})]] as const) {
      for (const name of names) {
        if (!isHeaderName(name)) return `option '${option}': '${name}' is not a valid header name`
        if (RESERVED.has(name.toLowerCase())) return `option '${option}': the gateway sets ${name.toLowerCase()} itself`
      }
    }
    return undefined
  },
  create (options) {
    const remove = (options.remove ?? []).map((name) => name.toLowerCase())
    const set = Object.entries(options.set ?? {}).map(([name, value]) => [name.toLowerCase(), value] as const)
    return {
      onRequest (request) {
        for (let i = 0; i < remove.length; i++) request.headers.delete(remove[i] as string)
        for (let i = 0; i < set.length; i++) {
          const [name, value] = set[i] as readonly [string, string]
          request.headers.set(name, value)
        }
      }
    }
  }
})

function isHeaderName (name: string): boolean {
  try {
    validateHeaderName(name)
    return true
  } catch {
    return false
  }
}
