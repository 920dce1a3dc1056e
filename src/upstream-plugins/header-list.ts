import { validateHeaderName, validateHeaderValue } from 'node:http'
import type { UpstreamHeaders } from './types.js'

/**
 * UpstreamHeaders over the flat [name, value, …] array undici sends and Node
 * writes, so a plugin edits the very array that goes out: no copy per request.
 * Names in the array are lower case (the gateway builds it that way).
 */
export class HeaderList implements UpstreamHeaders {
  readonly array: string[]

  constructor (array: string[]) {
    this.array = array
  }

  get (name: string): string | undefined {
    const lower = name.toLowerCase()
    const a = this.array
    for (let i = 0; i < a.length; i += 2) if (a[i] === lower) return a[i + 1]
    return undefined
  }

  has (name: string): boolean {
    return this.get(name) !== undefined
  }

  set (name: string, value: string): void {
    // Caught here, with the plugin's name on it, rather than as a vague
    // "upstream failed" when undici refuses the request.
    validateHeaderName(name)
    validateHeaderValue(name, value)
    const lower = name.toLowerCase()
    const a = this.array
    let found = false
    for (let i = 0; i < a.length;) {
      if (a[i] !== lower) {
        i += 2
      } else if (!found) {
        a[i + 1] = value
        found = true
        i += 2
      } else {
        a.splice(i, 2)
      }
    }
    if (!found) a.push(lower, value)
  }

  delete (name: string): void {
    const lower = name.toLowerCase()
    const a = this.array
    for (let i = 0; i < a.length;) {
      if (a[i] === lower) a.splice(i, 2)
      else i += 2
    }
  }
}
