import { GerbangError } from '../errors.js'
import { authorizationScheme } from './bearer.js'
import { FAILURE_POLICY } from './failure-throttle.js'

// The answers to a request whose credential the authenticator
// (src/auth/authenticator.ts) refuses: 401 with the WWW-Authenticate
// challenge that says what to send, or 429 once an address has sent too
// many invalid ones (src/auth/failure-throttle.ts).

export type CredentialKind = 'key' | 'token'

const WWW_AUTHENTICATE_MISSING = 'Bearer realm="gerbang", ApiKey header="x-api-key"'
const WWW_AUTHENTICATE_INVALID = 'Bearer realm="gerbang", error="invalid_token"'

export const INVALID_DETAIL: Record<CredentialKind, string> = { key: 'the API key is not valid', token: 'the bearer token is not valid' }
export const CREDENTIAL_NAME: Record<CredentialKind, string> = { key: 'the API key', token: 'the bearer token' }

export function invalid (detail: string): GerbangError {
  return new GerbangError('CREDENTIALS_INVALID', detail, undefined, { 'www-authenticate': WWW_AUTHENTICATE_INVALID })
}

export const MISSING = (): GerbangError => new GerbangError('CREDENTIALS_MISSING',
  'send an API key in the x-api-key header, or a bearer token from POST /oauth2/v1/accesstoken',
  undefined, { 'www-authenticate': WWW_AUTHENTICATE_MISSING })

/** An Authorization header the gateway cannot use, and no other credential: say which scheme it was. */
export function unknownScheme (authorization: string): GerbangError {
  return new GerbangError('CREDENTIALS_MISSING',
    `the Authorization scheme '${authorizationScheme(authorization)}' is not accepted here: send Bearer <token> ` +
    '(from POST /oauth2/v1/accesstoken) or an API key in the x-api-key header',
    undefined, { 'www-authenticate': WWW_AUTHENTICATE_MISSING })
}

/**
 * 429 for an address past the failure throttle's `limit` invalid credentials in `windowMs`; `waitMs` until it may try
 * again.
 */
export function tooManyInvalid (limit: number, windowMs: number, waitMs: number): GerbangError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000))
  return new GerbangError('RATE_LIMITED',
    `too many invalid credentials from this address (more than ${limit} in ${Math.ceil(windowMs / 1000)} s); retry after ${seconds} s`,
    { violatedPolicies: [FAILURE_POLICY] }, { 'retry-after': String(seconds) })
}
