import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import type { TestContext } from 'node:test'

// A real Python WSGI upstream (the standard library's wsgiref): it sees
// headers the way CGI-style stacks do, `x-client-id` and `x_client_id` both
// as HTTP_X_CLIENT_ID, repeated names joined with commas. Each request
// answers with the CGI environment's HTTP_* variables and REQUEST_URI as JSON.
const APP = `
import json, sys
from wsgiref.simple_server import make_server, WSGIRequestHandler

class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass

def app(environ, start_response):
    seen = {k: v for k, v in environ.items() if k.startswith('HTTP_')}
    seen['PATH_INFO'] = environ.get('PATH_INFO', '')
    seen['QUERY_STRING'] = environ.get('QUERY_STRING', '')
    body = json.dumps(seen).encode()
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(body)))])
    return [body]

server = make_server('127.0.0.1', 0, app, handler_class=Quiet)
print(server.server_port, flush=True)
server.serve_forever()
`

export interface WsgiOrigin {
  url: string
}

/** Starts the WSGI upstream on 127.0.0.1 and a free port; stopped when the test ends. */
export async function startWsgiOrigin (t: TestContext): Promise<WsgiOrigin> {
  const child = spawn('python3', ['-c', APP], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = once(child, 'exit')
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  const lines = createInterface({ input: child.stdout })
  const [first] = await once(lines, 'line') as [string]
  lines.close()
  const port = Number(first)
  if (!Number.isInteger(port) || port <= 0) throw new Error(`the WSGI upstream did not start: ${first}`)
  return { url: `http://127.0.0.1:${port}` }
}
