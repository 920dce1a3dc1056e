import { Readable } from 'node:stream'
import { buffer as readBody } from 'node:stream/consumers'
import type { Dispatcher } from 'undici'
import { GerbangError } from '../errors.js'
import { sendProblem } from '../http/problem.js'
import { upstreamRequestHeaders } from './headers.js'
import { PluginRequest, REPLAY_BODY_LIMIT } from '../upstream-plugins/chain.js'
import { PluginStage } from './plugin-stage.js'
import type { Exchange } from './exchange.js'
import { Forwarding } from './forwarding.js'

// The way in: what the client sends is checked (body size, the breaker)
// and turned into undici dispatch options once; Forwarding
// (src/proxy/forwarding.ts) takes it from there.

/** A chunked request body that counts its bytes and fails once it passes the limit. */
async function * limitedBody (body: Readable, limit: number, name: string): AsyncGenerator<Buffer> {
  let size = 0
  for await (const chunk of body) {
    size += (chunk as Buffer).length
    if (size > limit) {
      throw new GerbangError('PAYLOAD_TOO_LARGE', `the request body is larger than ${limit} bytes, the limit for ${name}`)
    }
    yield chunk as Buffer
  }
}

/** Sets content-length in a flat [name, value, …] header array (a re-sent body's own length). */
function withContentLength (headers: string[], length: number): void {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === 'content-length') {
      headers[i + 1] = String(length)
      return
    }
  }
  headers.push('content-length', String(length))
}

/** Forwards a request to its route's upstream. */
export function forward (exchange: Exchange): void {
  const { request, reply, route, path, principal, peerTrusted } = exchange
  const req = request.raw
  const { integration, breaker } = route
  const method = req.method as Dispatcher.HttpMethod
  const length = req.headers['content-length']
  if (length !== undefined && Number(length) > integration.bodyLimit) {
    sendProblem(request, reply, new GerbangError('PAYLOAD_TOO_LARGE',
      `the request body is ${length} bytes; ${integration.name} accepts at most ${integration.bodyLimit}`))
    return
  }
  const admission = breaker.admit(request.log)
  if (admission === 'reject') {
    sendProblem(request, reply, breaker.refusal())
    return
  }
  let body: Readable | Buffer | null = null
  // apiKeyForm: the form body was read whole and its key field taken out (src/proxy/api-key-form.ts).
  const formBody = request.formBody
  if (formBody !== null) {
    if (formBody.length > integration.bodyLimit) {
      sendProblem(request, reply, new GerbangError('PAYLOAD_TOO_LARGE',
        `the request body is ${formBody.length} bytes; ${integration.name} accepts at most ${integration.bodyLimit}`))
      return
    }
    body = formBody
  } else if (length !== undefined) {
    if (length !== '0') body = req
  } else if (req.headers['transfer-encoding'] !== undefined) {
    body = Readable.from(limitedBody(req, integration.bodyLimit, integration.name), { objectMode: false })
  }

  // Picked here, before the headers: the CLIENT span names the target the request goes to.
  const target = route.balancer.pick()
  // The gateway's span is the upstream's parent: with a recorded trace, the CLIENT span of this call.
  const span = request.traceSpan
  const traceparent = span === null ? request.traceparent : span.upstream(method, target.origin, path)
  const headers = upstreamRequestHeaders(req, request.id, request.protocol, peerTrusted, traceparent, principal)
  if (formBody !== null) withContentLength(headers, formBody.length)
  const options: Dispatcher.DispatchOptions = {
    method,
    path,
    headers,
    body,
    // Pipelining a non-idempotent request over a reused socket is unsafe; one at a time.
    blocking: false,
    reset: false
  }
  const probe = admission === 'probe'
  if (route.plugins === null) {
    new Forwarding(exchange, target, options, probe, undefined).start()
    return
  }
  const plugins = new PluginStage(route.plugins,
    new PluginRequest(integration.name, method, path, headers, principal?.id))
  const forwarding = new Forwarding(exchange, target, options, probe, plugins)
  // A plugin may ask to send the request again (a fresh token after a 401):
  // a small body is kept for that; a larger one streams and is sent once.
  if (route.plugins.retries && body === req && Number(length) <= REPLAY_BODY_LIMIT) {
    readBody(req).then((whole) => {
      options.body = whole
      forwarding.startWithPlugins()
    }, () => { /* the client went away: Forwarding saw the close */ })
  } else {
    forwarding.startWithPlugins()
  }
}
