// `cors:` in routes.yaml (docs/contract.md section 8): what `routes check` refuses,
// each problem with its YAML path and line like every other, and what it
// makes of a valid entry.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseRoutes } from '../../src/config/routes-loader.js'
import { runGerbang } from '../helpers/process.js'

const header = 'defaults:\n  auth: none\nintegrations:\n  yankes:\n    upstream: http://127.0.0.1:3000\n'

/** yankes with a block-style cors whose origins start on line 8, one per line. */
function withOrigins (origins: string[], more: string[] = []): string {
  return header + '    cors:\n' + more.map((l) => `      ${l}\n`).join('') + '      origins:\n' +
    origins.map((o) => `        - ${JSON.stringify(o)}\n`).join('')
}

interface Broken {
  name: string
  yaml: string
  path: string
  line: number
  message: RegExp
}

const broken: Broken[] = [
  { name: '"*" with credentials', yaml: withOrigins(['*'], ['credentials: true']), path: 'integrations.yankes.cors.origins.0', line: 9, message: /"\*".*credentials: true/ },
  { name: 'a path', yaml: withOrigins(['https://ok.example', 'https://dashboard.example/app']), path: 'integrations.yankes.cors.origins.1', line: 9, message: /no path/ },
  { name: 'a trailing slash', yaml: withOrigins(['https://dashboard.example/']), path: 'integrations.yankes.cors.origins.0', line: 8, message: /trailing slash/ },
  { name: 'no scheme', yaml: withOrigins(['dashboard.example']), path: 'integrations.yankes.cors.origins.0', line: 8, message: /https:\/\/ or http:\/\// },
  { name: 'a scheme not http(s)', yaml: withOrigins(['ftp://dashboard.example']), path: 'integrations.yankes.cors.origins.0', line: 8, message: /https:\/\/ or http:\/\// },
  { name: 'a query string', yaml: withOrigins(['https://dashboard.example?x=1']), path: 'integrations.yankes.cors.origins.0', line: 8, message: /no path/ },
  { name: 'credentials in the origin', yaml: withOrigins(['https://user@dashboard.example']), path: 'integrations.yankes.cors.origins.0', line: 8, message: /user/ },
  { name: 'a wildcard inside the host', yaml: withOrigins(['https://dashboard.*.example']), path: 'integrations.yankes.cors.origins.0', line: 8, message: /wildcard/ },
  { name: 'a wildcard glued to a label', yaml: withOrigins(['https://*example.go.id']), path: 'integrations.yankes.cors.origins.0', line: 8, message: /wildcard/ },
  { name: 'two wildcards', yaml: withOrigins(['https://*.*.example.go.id']), path: 'integrations.yankes.cors.origins.0', line: 8, message: /wildcard/ },
  { name: 'a wildcard in the port', yaml: withOrigins(['https://x.example.go.id:*']), path: 'integrations.yankes.cors.origins.0', line: 8, message: /wildcard/ },
  { name: 'a wildcard without a scheme', yaml: withOrigins(['*.example.go.id']), path: 'integrations.yankes.cors.origins.0', line: 8, message: /https:\/\/ or http:\/\// },
  { name: 'a pattern over a top-level domain', yaml: withOrigins(['https://*.id']), path: 'integrations.yankes.cors.origins.0', line: 8, message: /two labels/ },
  { name: 'a pattern over an IP address', yaml: withOrigins(['https://*.10.0.0.1']), path: 'integrations.yankes.cors.origins.0', line: 8, message: /domain name/ },
  { name: 'a bad host', yaml: withOrigins(['https://dash_board.example']), path: 'integrations.yankes.cors.origins.0', line: 8, message: /host/ },
  { name: '"*" among others', yaml: withOrigins(['https://ok.example', '*']), path: 'integrations.yankes.cors.origins.1', line: 9, message: /alone/ },
  { name: 'no origins', yaml: header + '    cors: { origins: [] }\n', path: 'integrations.yankes.cors.origins', line: 6, message: /one or more/ },
  { name: 'a bad header name', yaml: header + '    cors:\n      origins: ["https://ok.example"]\n      headers: ["x custom"]\n', path: 'integrations.yankes.cors.headers.0', line: 8, message: /header name/ },
  { name: 'a bad maxAge', yaml: header + '    cors:\n      origins: ["https://ok.example"]\n      maxAge: 10 minutes\n', path: 'integrations.yankes.cors.maxAge', line: 8, message: /duration/ },
  { name: 'a maxAge over a day', yaml: header + '    cors:\n      origins: ["https://ok.example"]\n      maxAge: 2d\n', path: 'integrations.yankes.cors.maxAge', line: 8, message: /24 h|1d/ },
  { name: 'an unknown field', yaml: header + '    cors:\n      origins: ["https://ok.example"]\n      origin: ["https://ok.example"]\n', path: 'integrations.yankes.cors.origin', line: 8, message: /unknown field 'origin'/ },
  { name: 'cors: true', yaml: header + '    cors: true\n', path: 'integrations.yankes.cors', line: 6, message: /false, or a mapping/ },
  {
    name: 'a problem in defaults',
    yaml: 'defaults:\n  auth: none\n  cors:\n    origins:\n      - https://ok.example\n      - https://ok.example/\nintegrations:\n  yankes:\n    upstream: http://127.0.0.1:3000\n',
    path: 'defaults.cors.origins.1',
    line: 6,
    message: /trailing slash/
  }
]

describe('cors problems, each with its YAML path and line', () => {
  for (const file of broken) {
    test(file.name, () => {
      const result = parseRoutes(file.yaml, {})
      assert.ok(!result.ok, `${file.name}: accepted`)
      assert.equal(result.problems.length, 1, JSON.stringify(result.problems))
      const [problem] = result.problems
      assert.equal(problem?.path, file.path, JSON.stringify(problem))
      assert.equal(problem?.line, file.line, JSON.stringify(problem))
      assert.match(problem?.message ?? '', file.message)
    })
  }
})

test('valid entries: exact origins normalised as browsers send them, patterns, credentials, maxAge and headers', () => {
  const result = parseRoutes(header + [
    '    cors:',
    '      origins:',
    '        - https://Dashboard.BantenProv.go.id:443',
    '        - http://127.0.0.1:5173',
    '        - http://[::1]:8080',
    '        - https://*.bantenprov.go.id',
    '        - http://*.dev.example:3000',
    '      credentials: true',
    '      maxAge: 90s',
    '      headers: [X-Custom, x-trace]',
    ''
  ].join('\n'), {})
  assert.ok(result.ok, JSON.stringify(result))
  const cors = result.config.integrations[0]?.cors
  assert.ok(cors !== null && cors !== undefined)
  assert.deepEqual(JSON.parse(JSON.stringify(cors)), {
    origins: ['https://dashboard.bantenprov.go.id', 'http://127.0.0.1:5173', 'http://[::1]:8080', 'https://*.bantenprov.go.id', 'http://*.dev.example:3000'],
    credentials: true,
    maxAgeS: 90,
    headers: ['x-custom', 'x-trace']
  })
})

test('routes check prints cors problems like every other, file:line: path: message, and start refuses the file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gerbang-cors-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const path = join(dir, 'routes.yaml')
  await writeFile(path, withOrigins(['*', 'https://a.example/'], ['credentials: true']))
  const check = await runGerbang(['routes', 'check', path])
  assert.equal(check.code, 1, check.stdout + check.stderr)
  assert.deepEqual(check.stdout.trim().split('\n').map((l) => l.split(': ').slice(0, 2).join(': ')), [
    `${path}:9: integrations.yankes.cors.origins.0`,
    `${path}:10: integrations.yankes.cors.origins.1`
  ])
  const start = await runGerbang(['start', '--routes', path, '--port', '0', '--host', '127.0.0.1'])
  assert.equal(start.code, 1)
  assert.ok(start.stderr.includes(`${path}:9: integrations.yankes.cors.origins.0`), start.stderr)
})
