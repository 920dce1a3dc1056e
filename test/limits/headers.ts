// Reading the rate-limit fields the way a client library would: a small
// RFC 8941 (Structured Field Values) parser for Lists of Items, and checks of
// RateLimit-Policy and RateLimit against draft-ietf-httpapi-ratelimit-headers-11
// (docs/contract.md section 5).
//
// Only what these fields use is supported: Lists whose members are Items
// (no Inner Lists, no Dictionaries), with Integer, Decimal, String, Token and
// Boolean bare items and their parameters. Anything else is a parse error,
// never a silent pass.

/** A Token, kept apart from a String: `"default"` and `default` differ in RFC 8941. */
export class Token {
  constructor (readonly value: string) {}
}

/** A Decimal, kept apart from an Integer: `5.0` is not `5`. */
export class Decimal {
  constructor (readonly value: number) {}
}

export type BareItem = bigint | Decimal | string | Token | boolean

export interface Item {
  value: BareItem
  /** In the order written; a repeated key keeps its last value (RFC 8941 4.2.3.2). */
  params: Map<string, BareItem>
}

export class StructuredFieldError extends Error {
  constructor (message: string, readonly input: string, readonly at: number) {
    super(`${message} at offset ${at} of ${JSON.stringify(input)}`)
    this.name = 'StructuredFieldError'
  }
}

const DIGIT = /[0-9]/
const ALPHA = /[A-Za-z]/
const LCALPHA = /[a-z]/
const KEY_CHAR = /[a-z0-9_\-.*]/
// tchar (RFC 9110) plus ':' and '/'.
const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z:/]/

class Parser {
  #at = 0
  constructor (readonly input: string) {}

  fail (message: string): never {
    throw new StructuredFieldError(message, this.input, this.#at)
  }

  peek (): string | undefined {
    return this.input[this.#at]
  }

  next (): string {
    const c = this.input[this.#at]
    if (c === undefined) this.fail('unexpected end of field')
    this.#at++
    return c
  }

  get done (): boolean {
    return this.#at >= this.input.length
  }

  skipSP (): void {
    while (this.peek() === ' ') this.#at++
  }

  skipOWS (): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.#at++
  }

  // RFC 8941 4.2.1
  list (): Item[] {
    const members: Item[] = []
    while (!this.done) {
      if (this.peek() === '(') this.fail('Inner Lists are not supported here')
      members.push(this.item())
      this.skipOWS()
      if (this.done) return members
      if (this.next() !== ',') this.fail('expected "," between list members')
      this.skipOWS()
      if (this.done) this.fail('trailing comma')
    }
    return members
  }

  // RFC 8941 4.2.3
  item (): Item {
    const value = this.bareItem()
    return { value, params: this.parameters() }
  }

  // RFC 8941 4.2.3.1
  bareItem (): BareItem {
    const c = this.peek()
    if (c === undefined) this.fail('expected an item')
    if (c === '-' || DIGIT.test(c)) return this.number()
    if (c === '"') return this.string()
    if (c === '*' || ALPHA.test(c)) return this.token()
    if (c === '?') return this.boolean()
    if (c === ':') this.fail('Byte Sequences are not supported here')
    return this.fail(`unexpected character ${JSON.stringify(c)}`)
  }

  // RFC 8941 4.2.3.2
  parameters (): Map<string, BareItem> {
    const params = new Map<string, BareItem>()
    while (this.peek() === ';') {
      this.#at++
      this.skipSP()
      const key = this.key()
      let value: BareItem = true
      if (this.peek() === '=') {
        this.#at++
        value = this.bareItem()
      }
      params.delete(key)
      params.set(key, value)
    }
    return params
  }

  // RFC 8941 4.2.3.3
  key (): string {
    const first = this.peek()
    if (first === undefined || (first !== '*' && !LCALPHA.test(first))) this.fail('a parameter key must start with a-z or *')
    let key = ''
    while (this.peek() !== undefined && KEY_CHAR.test(this.peek() as string)) key += this.next()
    return key
  }

  // RFC 8941 4.2.4
  number (): bigint | Decimal {
    let sign = 1n
    if (this.peek() === '-') {
      this.#at++
      sign = -1n
    }
    if (this.peek() === undefined || !DIGIT.test(this.peek() as string)) this.fail('a number needs a digit')
    let text = ''
    let decimal = false
    while (this.peek() !== undefined) {
      const c = this.peek() as string
      if (DIGIT.test(c)) {
        text += this.next()
      } else if (c === '.' && !decimal) {
        if (text.length > 12) this.fail('a Decimal has at most 12 integer digits')
        decimal = true
        text += this.next()
      } else {
        break
      }
      if (!decimal && text.length > 15) this.fail('an Integer has at most 15 digits')
      if (decimal && text.length > 16) this.fail('a Decimal has at most 16 characters')
    }
    if (!decimal) return sign * BigInt(text)
    if (text.endsWith('.')) this.fail('a Decimal cannot end with "."')
    if (text.length - text.indexOf('.') - 1 > 3) this.fail('a Decimal has at most 3 fractional digits')
    return new Decimal(Number(sign) * Number(text))
  }

  // RFC 8941 4.2.5
  string (): string {
    this.next() // the opening quote
    let out = ''
    for (;;) {
      const c = this.next()
      if (c === '\\') {
        const escaped = this.next()
        if (escaped !== '"' && escaped !== '\\') this.fail('only \\" and \\\\ are escapes in a String')
        out += escaped
      } else if (c === '"') {
        return out
      } else {
        const code = c.charCodeAt(0)
        if (code < 0x20 || code > 0x7e) this.fail('a String holds printable ASCII only')
        out += c
      }
    }
  }

  // RFC 8941 4.2.6
  token (): Token {
    let out = ''
    while (this.peek() !== undefined && TOKEN_CHAR.test(this.peek() as string)) out += this.next()
    return new Token(out)
  }

  // RFC 8941 4.2.8
  boolean (): boolean {
    this.next()
    const c = this.next()
    if (c === '1') return true
    if (c === '0') return false
    return this.fail('a Boolean is ?0 or ?1')
  }
}

/**
 * Parses a List field (RFC 8941 4.2 with field type "list"). Several field
 * lines of one field are joined with ", " first, as the RFC says; an empty
 * or absent field is an empty list.
 */
export function parseList (field: string | readonly string[] | null | undefined): Item[] {
  if (field === null || field === undefined) return []
  const joined = typeof field === 'string' ? field : field.join(', ')
  const parser = new Parser(joined.replace(/^ +| +$/g, ''))
  return parser.list()
}

// ---------------------------------------------------------------------------
// draft-ietf-httpapi-ratelimit-headers-11

/** One quota policy of RateLimit-Policy: q (quota units) in w (window seconds). */
export interface QuotaPolicy {
  q: number
  w: number | undefined
  /** Every parameter, for anything else a test wants to look at. */
  params: Map<string, BareItem>
}

/** One entry of RateLimit: r (remaining quota units) and t (seconds until the quota resets). */
export interface RateLimitEntry {
  r: number
  t: number | undefined
  params: Map<string, BareItem>
}

function nonNegativeInteger (item: Item, name: string, key: string, required: boolean): number | undefined {
  const value = item.params.get(key)
  if (value === undefined) {
    if (required) throw new Error(`policy "${name}" lacks its required "${key}" parameter`)
    return undefined
  }
  if (typeof value !== 'bigint') throw new Error(`policy "${name}": "${key}" must be an Integer, got ${JSON.stringify(String(value instanceof Object ? value.value : value))}`)
  if (value < 0n) throw new Error(`policy "${name}": "${key}" must not be negative, got ${value}`)
  return Number(value)
}

/** Each member's policy name: a String (draft-11 sections 3 and 4). Names are unique. */
function named<T> (items: Item[], what: string, read: (item: Item, name: string) => T): Map<string, T> {
  const out = new Map<string, T>()
  for (const item of items) {
    if (typeof item.value !== 'string') {
      throw new Error(`${what}: every member must be a String naming a policy, got ${item.value instanceof Token ? `Token ${item.value.value}` : String(item.value)}`)
    }
    if (out.has(item.value)) throw new Error(`${what}: policy "${item.value}" appears twice`)
    out.set(item.value, read(item, item.value))
  }
  return out
}

/** `"default";q=60;w=60, "daily";q=10000;w=86400` → policy name → { q, w }. Throws on anything malformed. */
export function parseRateLimitPolicy (field: string | readonly string[] | null | undefined): Map<string, QuotaPolicy> {
  return named(parseList(field), 'RateLimit-Policy', (item, name) => {
    const qu = item.params.get('qu')
    if (qu !== undefined && !(qu instanceof Token)) throw new Error(`policy "${name}": "qu" must be a Token`)
    return {
      q: nonNegativeInteger(item, name, 'q', true) as number,
      w: nonNegativeInteger(item, name, 'w', false),
      params: item.params
    }
  })
}

/** `"default";r=59;t=42` → policy name → { r, t }. Throws on anything malformed. */
export function parseRateLimit (field: string | readonly string[] | null | undefined): Map<string, RateLimitEntry> {
  return named(parseList(field), 'RateLimit', (item, name) => ({
    r: nonNegativeInteger(item, name, 'r', true) as number,
    t: nonNegativeInteger(item, name, 't', false),
    params: item.params
  }))
}
