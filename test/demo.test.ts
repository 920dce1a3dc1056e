import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { resolve } from 'node:path'
import { promisify } from 'node:util'
import { REPO_ROOT } from './helpers/process.js'

// `npm run demo` is a newcomer's first contact: every command it prints must
// work as printed, pasted into a shell.

const DEMO = resolve(REPO_ROOT, 'dist/demo/run.js')
const BANNER_LAST_LINE = 'Tekan Ctrl+C'
const INTEGRATIONS = ['yankes', 'satu-data', 'dashboard', 'otorisasi', 'bpjs']
const execFileAsync = promisify(execFile)

function requireCurl (): void {
  const probe = spawnSync('curl', ['--version'], { stdio: 'ignore' })
  if (probe.error !== undefined) {
    assert.fail('curl is not on PATH: install curl (e.g. `apt-get install curl`) to run test/demo.test.ts, ' +
      'which runs the curl commands the demo prints')
  }
}

interface CurlAnswer {
  status: number
  body: string
}

/** Runs a printed line through sh as a user would, adding only what the test needs to read the answer. */
async function runCurl (line: string): Promise<CurlAnswer> {
  // --noproxy: a proxy from the environment must not see (or break) 127.0.0.1 traffic.
  const command = `${line} --noproxy '*' --max-time 10 -sS -w '\\n%{http_code}'`
  const { stdout } = await execFileAsync('sh', ['-c', command], { timeout: 15_000 })
  const nl = stdout.lastIndexOf('\n')
  return { status: Number(stdout.slice(nl + 1)), body: stdout.slice(0, nl) }
}

function parseJson (line: string, body: string): Record<string, unknown> {
  try {
    return JSON.parse(body) as Record<string, unknown>
  } catch {
    return assert.fail(`${line}\nanswered a body that is not JSON:\n${body}`)
  }
}

test('npm run demo: every printed curl command answers 200 with sample data, and SIGTERM exits 0', { timeout: 60_000 }, async (t) => {
  requireCurl()

  // Started from elsewhere than the repository: the demo must find its routes.yaml anyway.
  const child = spawn(process.execPath, [DEMO], {
    cwd: tmpdir(),
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })

  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`no banner within 20 s:\n${stdout}\n${stderr}`)) }, 20_000)
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString()
      if (stdout.split('\n').some((l) => l.startsWith(BANNER_LAST_LINE))) {
        clearTimeout(timer)
        resolve()
      }
    })
    exited.then(([code, signal]) => {
      clearTimeout(timer)
      reject(new Error(`the demo exited (${String(code ?? signal)}) before printing its banner:\n${stdout}\n${stderr}`))
    }, reject)
  })

  const lines = stdout.split('\n')
  const port = /ready\): http:\/\/127\.0\.0\.1:([0-9]+)/.exec(stdout)?.[1]
  assert.ok(port !== undefined && port !== '0', `the banner must name the real port:\n${stdout}`)
  const base = `http://127.0.0.1:${port}`

  const curls = lines.filter((l) => l.startsWith('curl '))
  for (const line of curls) assert.ok(line.includes(`'${base}/`), `${line}\nmust call the gateway at ${base}`)
  for (const name of INTEGRATIONS) {
    assert.ok(curls.some((l) => l.includes(`${base}/${name}/`)), `no curl example for ${name}:\n${curls.join('\n')}`)
  }
  assert.ok(curls.some((l) => l.includes('?')), 'no curl example with a query string')
  assert.ok(curls.some((l) => l.includes(`${base}/dashboard/`) && l.includes(' -d ') && l.includes('application/json')),
    'no dashboard curl example with a JSON body')

  const answers = await Promise.all(curls.map(async (line) => ({ line, ...await runCurl(line) })))
  for (const { line, status, body } of answers) {
    assert.equal(status, 200, `${line}\nanswered ${status}:\n${body}`)
  }
  const json = answers.map(({ line, body }) => ({ line, body: parseJson(line, body) }))

  const yankesLists = json.filter(({ line, body }) => line.includes(`${base}/yankes/`) && Array.isArray(body.data) &&
    typeof (body.meta as { pagination?: unknown } | undefined)?.pagination === 'object')
  assert.ok(yankesLists.length > 0, 'no yankes example answers a JSON:API list with data and meta.pagination')
  for (const { body } of yankesLists) {
    const pagination = (body.meta as { pagination: Record<string, unknown> }).pagination
    for (const field of ['total', 'count', 'per_page', 'current_page', 'total_pages']) {
      assert.equal(typeof pagination[field], 'number', `meta.pagination.${field}`)
    }
    assert.equal(typeof (body.links as Record<string, unknown>).self, 'string')
  }

  const satuData = json.filter(({ line }) => line.includes(`${base}/satu-data/`))
  for (const { line, body } of satuData) {
    assert.equal(body.status, 1, `${line}: status`)
    assert.equal(body.code, 200, `${line}: code`)
    assert.equal(typeof body.results, 'object', `${line}: results`)
    assert.notEqual(body.results, null, `${line}: results`)
  }

  const dashboard = json.filter(({ line }) => line.includes(`${base}/dashboard/`))
  for (const { line, body } of dashboard) assert.equal(body.type, 'success', line)

  // The printed admin login opens /admin, on the admin UI's own port (GERBANG_ADMIN_PORT).
  const email = /email: +(\S+)/.exec(stdout)?.[1]
  const password = /kata sandi \(password\): +(\S+)/.exec(stdout)?.[1]
  assert.ok(email !== undefined && password !== undefined, `no admin login in the banner:\n${stdout}`)
  const adminBase = /Admin UI: (http:\/\/127\.0\.0\.1:[0-9]+)\/admin$/m.exec(stdout)?.[1]
  assert.ok(adminBase !== undefined && adminBase !== base && !adminBase.endsWith(':0'), `the banner names the admin port:\n${stdout}`)
  assert.equal((await fetch(`${base}/admin`)).status, 404, 'the admin UI is not on the gateway\'s port')
  const signIn = await fetch(`${adminBase}/admin/api/session`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password })
  })
  assert.equal(signIn.status, 200, await signIn.clone().text())
  assert.equal((await signIn.json() as { user: { role: string } }).user.role, 'admin')
  assert.equal((await fetch(`${adminBase}/admin`)).status, 200)

  child.kill('SIGTERM')
  const [code, signal] = await exited
  assert.equal(signal, null, `the demo was killed by ${String(signal)}:\n${stderr}`)
  assert.equal(code, 0, `the demo exited ${String(code)} on SIGTERM:\n${stderr}`)
})
