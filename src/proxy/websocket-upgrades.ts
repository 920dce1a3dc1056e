import { randomUUID } from 'node:crypto'
import { ServerResponse, type IncomingMessage, type Server } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { WebSocketServer, type WebSocket } from 'ws'
import { GerbangError, PROBLEM_CONTENT_TYPE, problemJson } from '../errors.js'
import { pathOnly } from '../http/problem.js'
import { saneRequestId } from './headers.js'
import { isWebSocketUpgrade } from './websocket-handshake.js'

// The client's side of a WebSocket upgrade (src/proxy/websocket.ts relays
// it): the server's 'upgrade' listener, which hands the request to Fastify
// like any other with a ServerResponse on its socket, so a refusal is the
// usual problem+json; and, once the upstream has accepted, the client's
// handshake (101) completed by `ws` with the upstream's subprotocol.

declare module 'http' {
  interface IncomingMessage {
    /**
     * Set by Node's HTTP server: the request asked to upgrade and the server
     * takes upgrades (here: a WebSocket one, see `listen`). Always false on
     * requests that did not.
     */
    upgrade: boolean
  }
}

/** An upgrade request between the 'upgrade' event and its answer (an HTTP refusal, or the handshake). */
export interface PendingUpgrade {
  socket: Duplex
  head: Buffer
  res: ServerResponse
  /** Ends the connection once a refusal has been written; taken off when the handshake completes instead. */
  answered: () => void
  /** The subprotocol the upstream chose, for the client's handshake. */
  protocol: string | false
  /** Header lines for the 101 (x-request-id, rate limits). */
  headerLines: string[]
}

/** The upgrade requests of one relay, from the 'upgrade' event to the client's 101. */
export class ClientUpgrades {
  readonly #pending = new WeakMap<IncomingMessage, PendingUpgrade>()
  /** One handshake server per message size limit (an integration's bodyLimit). */
  readonly #servers = new Map<number, WebSocketServer>()
  /** The upgrade whose handshake ws is completing (handleUpgrade is synchronous). */
  #current: PendingUpgrade | undefined

  /**
   * Takes upgrade requests on the gateway's server. Node 24 asks first
   * whether a request is one (shouldUpgradeCallback): only WebSocket
   * upgrades are, and any other (`Upgrade: h2c`) is an ordinary request.
   */
  listen (server: Server): void {
    (server as Server & {
      shouldUpgradeCallback?: (req: IncomingMessage) => boolean
    }).shouldUpgradeCallback = isWebSocketUpgrade
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => { this.#onUpgrade(server, req, socket, head) })
  }

  /** The upgrade `req` came with; undefined for a request that is not one. */
  pending (req: IncomingMessage): PendingUpgrade | undefined {
    return this.#pending.get(req)
  }

  #onUpgrade (server: Server, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node's HTTP server has let go of the socket: its errors are ours now.
    socket.on('error', destroySocket)
    const res = new ServerResponse(req)
    // An upgrade's connection is never reused for another request.
    res.shouldKeepAlive = false
    res.assignSocket(socket as Socket)
    const answered = (): void => {
      res.detachSocket(socket as Socket)
      ;(socket as Socket).destroySoon()
    }
    res.once('finish', answered)
    if (isWebSocketUpgrade(req)) {
      this.#pending.set(req, { socket, head, res, answered, protocol: false, headerLines: [] })
    } else {
      // Node 20 has no shouldUpgradeCallback: another protocol's upgrade
      // (h2c) is answered as the plain request it also is, as without this
      // listener. Its body, if any, is beyond reach once Node has let go.
      req.upgrade = false
      if (req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0') {
        const requestId = saneRequestId(req.headers['x-request-id']) ?? randomUUID()
        const body = problemJson(new GerbangError('BAD_REQUEST', 'a request with a body cannot ask to upgrade to ' +
          `${req.headers.upgrade ?? ''}: send it without Upgrade`), pathOnly(req.url ?? '/'), requestId)
        res.writeHead(400, { 'content-type': PROBLEM_CONTENT_TYPE, 'content-length': Buffer.byteLength(body), 'x-request-id': requestId }).end(body)
        return
      }
    }
    // The request goes the way every request goes: Host check, then Fastify.
    server.emit('request', req, res)
  }

  /**
   * Completes the client's handshake (101, with `protocol` when the upstream
   * chose one; messages of at most `maxPayload` bytes) and writes the
   * upgrade's access line. Undefined when the client has gone.
   */
  accept (request: FastifyRequest, reply: FastifyReply, upgrade: PendingUpgrade, protocol: string | false,
    maxPayload: number, limitHeaders: string[]): WebSocket | undefined {
    const { res, socket, head } = upgrade
    // From here the gateway writes to the socket itself.
    reply.hijack()
    const req = request.raw
    this.#pending.delete(req)
    res.off('finish', upgrade.answered)
    res.detachSocket(socket as Socket)
    upgrade.protocol = protocol
    upgrade.headerLines.push(`X-Request-Id: ${request.id}`)
    for (let i = 0; i < limitHeaders.length; i += 2) upgrade.headerLines.push(`${limitHeaders[i] as string}: ${limitHeaders[i + 1] as string}`)
    let client: WebSocket | undefined
    // Synchronous: ws completes the handshake at once (no verifyClient), or destroys a socket already closed.
    this.#current = upgrade
    try {
      this.#serverFor(maxPayload).handleUpgrade(req, socket, head, (ws) => { client = ws })
    } finally {
      this.#current = undefined
    }
    // The upgrade's access line and metrics: Fastify writes them on the response's 'finish'.
    res.statusCode = 101
    res.emit('finish')
    return client
  }

  /** The handshake server for messages of at most `maxPayload` bytes from the client (its integration's bodyLimit). */
  #serverFor (maxPayload: number): WebSocketServer {
    let server = this.#servers.get(maxPayload)
    if (server === undefined) {
      server = new WebSocketServer({
        noServer: true,
        clientTracking: false,
        perMessageDeflate: false,
        maxPayload,
        autoPong: false,
        handleProtocols: () => this.#current?.protocol ?? false
      })
      server.on('headers', (lines: string[]) => { if (this.#current !== undefined) lines.push(...this.#current.headerLines) })
      this.#servers.set(maxPayload, server)
    }
    return server
  }
}

function destroySocket (this: Duplex): void {
  this.destroy()
}
