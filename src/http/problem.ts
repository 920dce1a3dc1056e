import type { FastifyReply, FastifyRequest } from 'fastify'
import { GerbangError, PROBLEM_CONTENT_TYPE, problemJson } from '../errors.js'
import { mayHoldCredential, pathWithoutCredentials } from './url-credentials.js'
import { corsHeadersBeforeRouting } from '../proxy/cors.js'

/**
 * The request path as logs and problem documents show it: without its query
 * string, and without credentials a client put in the path.
 */
export function pathOnly (url: string): string {
  const q = url.indexOf('?')
  const path = q === -1 ? url : url.slice(0, q)
  return mayHoldCredential(path) ? pathWithoutCredentials(path) : path
}

/** Answers with a problem document for `error`: the one way Gerbang says something went wrong. */
export function sendProblem (request: FastifyRequest, reply: FastifyReply, error: GerbangError): void {
  const body = problemJson(error, pathOnly(request.raw.url ?? '/'), request.id)
  request.bytesOut = Buffer.byteLength(body)
  // Set here as well as in the onSend hook: framework-error replies skip the hooks.
  reply.code(error.status).header('content-type', PROBLEM_CONTENT_TYPE).header('x-request-id', request.id)
  if (error.headers !== undefined) reply.headers(error.headers)
  // A browser app on an allowed origin reads the gateway's errors too (docs/contract.md section 8).
  // (Framework-error requests, such as an undecodable URL, come without the request decorators.)
  let cors = request.corsHeaders ?? null
  if (cors === null && request.integration == null && request.headers.origin !== undefined) {
    cors = corsHeadersBeforeRouting(request, request.headers.origin)
  }
  if (cors !== null) for (let i = 0; i < cors.length; i += 2) reply.header(cors[i] as string, cors[i + 1])
  // A body the client is still sending would otherwise be read to the end for nothing.
  if (hasUnreadBody(request)) reply.header('connection', 'close')
  reply.send(body)
}

function hasUnreadBody (request: FastifyRequest): boolean {
  const { headers } = request.raw
  const declared = headers['transfer-encoding'] !== undefined ||
    (headers['content-length'] !== undefined && headers['content-length'] !== '0')
  return declared && !request.raw.complete
}
