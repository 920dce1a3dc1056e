// fetch() for the admin JSON API: JSON in and out, the CSRF header on every
// request, problem+json turned into ApiError. The token comes with the
// sign-in answer, or in the page itself (a meta element the server adds when
// the browser navigated to the page while signed in); GET /admin/api/session
// needs it too, so it is never read from there.
import { formatDuration, lang, t, tMaybe } from './i18n.js'

const BASE = '/admin/api'

export interface Problem {
  type?: string
  title?: string
  status?: number
  code?: string
  detail?: string
  instance?: string
  requestId?: string
  timestamp?: string
}

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly requestId: string | undefined
  /** Seconds from Retry-After, when the server sent one. */
  readonly retryAfter: number | undefined

  constructor (status: number, code: string, message: string, requestId?: string, retryAfter?: number) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.requestId = requestId
    this.retryAfter = retryAfter
  }
}

/** The token the page was served with (src/admin/ui-pages.ts), or ''. */
function pageToken (): string {
  return document.querySelector<HTMLMetaElement>('meta[name="gerbang-csrf"]')?.content ?? ''
}

let csrfToken = pageToken()
let sessionLost: (() => void) | undefined

const RELOADED_AT = 'gerbang-token-reload'

/**
 * The session cookie no longer matches this page's token (another tab signed
 * in again): reloading the page brings the current session's token. At most
 * once a minute, so a browser that never gets one ends on the login page.
 */
function reloadForToken (): boolean {
  try {
    const last = Number(sessionStorage.getItem(RELOADED_AT) ?? '0')
    if (Date.now() - last < 60_000) return false
    sessionStorage.setItem(RELOADED_AT, String(Date.now()))
  } catch {
    return false
  }
  location.reload()
  return true
}

export function setCsrfToken (token: string): void {
  csrfToken = token
}

/** Called on 401 SESSION_REQUIRED (the session ended); the router sends the user to the login page. */
export function onSessionLost (handler: () => void): void {
  sessionLost = handler
}

let reauth: (() => Promise<boolean>) | undefined
let reauthing: Promise<boolean> | undefined

/**
 * Called on 401 SESSION_REQUIRED while the user works on a page: the router
 * asks for the password in a dialog (the page, and any half-typed form, stay)
 * and resolves true once signed in again; the request is then retried.
 */
export function onReauthenticate (handler: () => Promise<boolean>): void {
  reauth = handler
}

let storeListener: ((down: boolean) => void) | undefined

/** Told when an answer says the store is down (503 STORE_UNAVAILABLE). */
export function onStoreDown (listener: (down: boolean) => void): void {
  storeListener = listener
}

export interface RequestOptions {
  body?: unknown
  signal?: AbortSignal
  /** False: a 401 SESSION_REQUIRED only throws, without leaving the page (the session probe). */
  redirect?: boolean
  /** The answer as text (CSV), not JSON. */
  text?: boolean
}

function retryAfterSeconds (header: string | null): number | undefined {
  if (header === null) return undefined
  const seconds = Number(header)
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds))
  const date = Date.parse(header)
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000))
}

export function isAbort (err: unknown): boolean {
  return err instanceof DOMException && err.name === 'AbortError'
}

export async function request<T> (method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json, application/problem+json' }
  if (csrfToken !== '') headers['x-csrf-token'] = csrfToken
  // fetch() takes null, not undefined, for no body.
  let body: string | null = null
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(options.body)
  }
  let res: Response
  let text: string
  try {
    res = await fetch(BASE + path, {
      method, headers, body, credentials: 'same-origin', cache: 'no-store', signal: options.signal ?? null
    })
    text = await res.text()
  } catch (err) {
    if (isAbort(err)) throw err
    throw new ApiError(0, 'NETWORK', t('error.network'))
  }
  let data: unknown
  if (text !== '') {
    try {
      data = JSON.parse(text)
    } catch {
      data = undefined
    }
  }
  if (!res.ok) {
    const problem: Problem = typeof data === 'object' && data !== null ? data as Problem : {}
    const code = problem.code ?? `HTTP_${res.status}`
    const message = problem.detail ?? problem.title ?? t('error.http', { status: res.status })
    const err = new ApiError(res.status, code, message, problem.requestId ?? res.headers.get('x-request-id') ?? undefined,
      retryAfterSeconds(res.headers.get('retry-after')))
    if (res.status === 503 && code === 'STORE_UNAVAILABLE') storeListener?.(true)
    if (res.status === 401 && code === 'SESSION_REQUIRED' && options.redirect !== false) {
      if (reauth !== undefined) {
        reauthing ??= reauth().finally(() => { reauthing = undefined })
        if (await reauthing) return await request<T>(method, path, options)
      }
      sessionLost?.()
    }
    if (res.status === 403 && code === 'CSRF_INVALID') {
      if (options.redirect !== false) {
        // The page is going away: no error message for a moment before it does.
        if (reloadForToken()) return await new Promise<never>(() => {})
        sessionLost?.()
      } else if (method === 'GET') {
        // The session probe, on a page served without a token: sign in again.
        sessionLost?.()
      }
    }
    throw err
  }
  if (res.status === 204 || text === '') return undefined as T
  if (options.text === true) return text as T
  if (data === undefined) throw new ApiError(res.status, 'BAD_RESPONSE', t('error.badResponse'))
  return data as T
}

export const api = {
  get: async <T>(path: string, options?: RequestOptions) => await request<T>('GET', path, options),
  post: async <T>(path: string, body?: unknown, options?: RequestOptions) => await request<T>('POST', path, { ...options, body }),
  put: async <T>(path: string, body?: unknown, options?: RequestOptions) => await request<T>('PUT', path, { ...options, body }),
  patch: async <T>(path: string, body?: unknown, options?: RequestOptions) => await request<T>('PATCH', path, { ...options, body }),
  del: async <T = void>(path: string, options?: RequestOptions) => await request<T>('DELETE', path, options)
}

/**
 * A readable sentence for any error, in the UI's language: a problem's code
 * picks the text (the server's detail is English; it is shown as it is in
 * English only, where it adds the specifics).
 */
export function messageOf (err: unknown): string {
  if (err instanceof ApiError) {
    if (err.code === 'RATE_LIMITED') return t('problem.RATE_LIMITED', { wait: formatDuration(err.retryAfter ?? 60) })
    const text = tMaybe(`problem.${err.code}`)
    if (text === undefined) return err.message
    // English readers also get the server's specifics where they help fix the input.
    return lang() === 'en' && (err.code === 'BAD_REQUEST' || err.code === 'CONFLICT') ? `${text} (${err.message})` : text
  }
  if (err instanceof Error && err.message !== '') return err.message
  return t('error.unexpected')
}

/** `?a=1&b=x` from defined values. */
export function query (params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== '') search.set(key, String(value))
  const text = search.toString()
  return text === '' ? '' : `?${text}`
}
