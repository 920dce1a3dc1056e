// The soak's load: a weighted mix of requests (KINDS) sent at SOAK_RATE,
// open loop, so that a slow or failing upstream does not slow the sending.
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Pool } from 'undici'
import { answerCode, errorName } from './counts.js'
import type { Credentials, Key } from './credentials.js'
import { MAX_IN_FLIGHT, RATE } from './settings.js'

interface RequestSpec {
  method: 'GET' | 'POST'
  path: string
  headers: Record<string, string>
  body?: string
}

export interface Kind {
  name: string
  weight: number
  build: (c: Credentials, n: number) => RequestSpec
}

export const key = (k: Key): Record<string, string> => ({ 'x-api-key': k.key })
const bearer = (c: Credentials): Record<string, string> =>
  c.token === undefined ? key(c.oauth) : { authorization: `Bearer ${c.token}` }
const post = (headers: Record<string, string>, n: number, path: string): RequestSpec => ({
  method: 'POST',
  path,
  headers: { ...headers, 'content-type': 'application/json' },
  body: JSON.stringify({ id: n, kecamatan: 'Cipocok Jaya', pria: 1520 + (n % 97), wanita: 1375 + (n % 89), catatan: 'soak' })
})
const get = (headers: Record<string, string>, path: string): RequestSpec => ({ method: 'GET', path, headers })
// A fixed wrong key (remembered as unknown) and fresh random ones (each looked up once).
const WRONG_KEY = 'gb_' + randomBytes(32).toString('base64url')

/** The mix, by weight (they add up to 100): shares of SOAK_RATE. */
export const KINDS: readonly Kind[] = [
  { name: 'fast GET key', weight: 28, build: (c, n) => get(key(c.main), `/fast/items/${n % 500}?page=${n % 7}`) },
  { name: 'fast POST key', weight: 7, build: (c, n) => post(key(c.main), n, '/fast/items') },
  { name: 'slow GET token', weight: 14, build: (c, n) => get(bearer(c), `/slow/report?id=${n % 100}`) },
  { name: 'slow POST token', weight: 4, build: (c, n) => post(bearer(c), n, '/slow/report') },
  { name: 'flaky GET key', weight: 12, build: (c, n) => get(key(c.main), `/flaky/data/${n % 300}`) },
  { name: 'flaky POST token', weight: 3, build: (c, n) => post(bearer(c), n, '/flaky/data') },
  { name: 'flap GET key', weight: 8, build: (c, n) => get(key(c.main), `/flap/status/${n % 50}`) },
  { name: 'flap GET token', weight: 4, build: (c, n) => get(bearer(c), `/flap/status/${n % 50}`) },
  { name: 'fast GET limited', weight: 8, build: (c, n) => get(key(c.limited), `/fast/items/${n % 500}`) },
  { name: 'slow GET forbidden', weight: 2, build: (c, n) => get(key(c.fastOnly), `/slow/report?id=${n % 100}`) },
  { name: 'bad key', weight: 2, build: (_c, n) => get({ 'x-api-key': n % 2 === 0 ? WRONG_KEY : 'gb_' + randomBytes(32).toString('base64url') }, '/fast/items/1') },
  { name: 'no credentials', weight: 1, build: () => get({}, '/fast/items/1') },
  { name: 'unknown route', weight: 1, build: (c) => get(key(c.main), '/tidak-ada/apa-apa') },
  { name: '/readyz', weight: 3, build: () => get({}, '/readyz') },
  { name: '/healthz', weight: 3, build: () => get({}, '/healthz') }
]
const TOTAL_WEIGHT = KINDS.reduce((a, k) => a + k.weight, 0)

function pickKind (): Kind {
  let r = Math.random() * TOTAL_WEIGHT
  for (const kind of KINDS) {
    r -= kind.weight
    if (r < 0) return kind
  }
  return KINDS[0] as Kind
}

/** Sends RATE requests a second, open loop: a slow answer does not slow the sending. */
export class Generator {
  readonly #pool: Pool
  readonly #creds: () => Credentials
  readonly #onAnswer: (kind: Kind, status: number | undefined, code: string | undefined, ms: number) => void
  #timer: NodeJS.Timeout | undefined
  #t0 = 0
  #scheduled = 0
  inFlight = 0
  sent = 0
  dropped = 0

  constructor (
    pool: Pool, creds: () => Credentials,
    onAnswer: (kind: Kind, status: number | undefined, code: string | undefined, ms: number) => void
  ) {
    this.#pool = pool
    this.#creds = creds
    this.#onAnswer = onAnswer
  }

  start (): void {
    this.#t0 = performance.now()
    this.#timer = setInterval(() => { this.#tick() }, 10)
  }

  #tick (): void {
    const due = Math.floor((performance.now() - this.#t0) / 1000 * RATE) - this.#scheduled
    for (let i = 0; i < due; i++) {
      this.#scheduled++
      if (this.inFlight >= MAX_IN_FLIGHT) {
        this.dropped++
        continue
      }
      this.#fire(pickKind(), this.#scheduled)
    }
  }

  #fire (kind: Kind, n: number): void {
    const spec = kind.build(this.#creds(), n)
    this.inFlight++
    this.sent++
    const t0 = performance.now()
    this.#pool.request({ method: spec.method, path: spec.path, headers: spec.headers, body: spec.body ?? null })
      .then(async (res) => {
        const text = await res.body.text()
        this.#onAnswer(kind, res.statusCode, res.statusCode >= 400 ? answerCode(text) : undefined,
          performance.now() - t0)
      })
      .catch((err: unknown) => { this.#onAnswer(kind, undefined, errorName(err), performance.now() - t0) })
      .finally(() => { this.inFlight-- })
  }

  /** Stops sending; waits (at most 10 s) for the answers still due. */
  async stop (): Promise<void> {
    clearInterval(this.#timer)
    const deadline = Date.now() + 10_000
    while (this.inFlight > 0 && Date.now() < deadline) await sleep(50)
  }
}
