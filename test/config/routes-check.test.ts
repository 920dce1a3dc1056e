import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { REPO_ROOT, runGerbang } from '../helpers/process.js'

const dir = await mkdtemp(join(tmpdir(), 'gerbang-routes-'))
test.after(async () => { await rm(dir, { recursive: true, force: true }) })

interface BrokenFile {
  name: string
  yaml: string
  line: number
  path: string
  message: RegExp
}

const header = 'defaults:\n  auth: none\nintegrations:\n'

// Each file has exactly one problem, on a known line.
const broken: BrokenFile[] = [
  {
    name: 'bad YAML',
    yaml: header + '  yankes:\n    upstream: http://127.0.0.1:3000\n   timeout: 10s\n',
    line: 6,
    path: '(yaml)',
    message: /same column/
  },
  {
    name: 'unknown field',
    yaml: header + '  yankes:\n    upstream: http://127.0.0.1:3000\n    timeot: 10s\n',
    line: 6,
    path: 'integrations.yankes.timeot',
    message: /unknown field 'timeot'/
  },
  {
    name: 'bad duration',
    yaml: header + '  yankes:\n    upstream: http://127.0.0.1:3000\n    timeout: 10 seconds\n',
    line: 6,
    path: 'integrations.yankes.timeout',
    message: /duration like 250ms/
  },
  {
    name: 'bad URL',
    yaml: header + '  yankes:\n    upstream: yankes.internal:3000 nope\n',
    line: 5,
    path: 'integrations.yankes.upstream',
    message: /not a URL|must be http or https/
  },
  {
    name: 'upstream scheme',
    yaml: header + '  yankes:\n    upstream: ftp://127.0.0.1/data\n',
    line: 5,
    path: 'integrations.yankes.upstream',
    message: /must be http or https/
  },
  {
    name: 'duplicate prefix',
    yaml: header + '  yankes:\n    upstream: http://127.0.0.1:3000\n  kamar:\n    upstream: http://127.0.0.1:3001\n    prefix: /yankes\n',
    line: 8,
    path: 'integrations.kamar.prefix',
    message: /already used by integration 'yankes'/
  },
  {
    name: 'bad name',
    yaml: header + '  Yankes_Baru:\n    upstream: http://127.0.0.1:3000\n',
    line: 4,
    path: 'integrations.Yankes_Baru',
    message: /a-z, 0-9 and '-'/
  },
  {
    name: 'bad rate',
    yaml: header + '  yankes:\n    upstream: http://127.0.0.1:3000\n    rateLimit: 60 per minute\n',
    line: 6,
    path: 'integrations.yankes.rateLimit',
    message: /rate like 600\/1m/
  },
  {
    name: 'missing upstream',
    yaml: header + '  yankes:\n    prefix: /yankes\n',
    // No upstream line exists: the integration's own line is the place to add it.
    line: 4,
    path: 'integrations.yankes.upstream',
    message: /missing required field 'upstream'/
  },
  {
    name: 'reserved prefix',
    yaml: header + '  yankes:\n    upstream: http://127.0.0.1:3000\n    prefix: /admin\n',
    line: 6,
    path: 'integrations.yankes.prefix',
    message: /reserved/
  },
  {
    name: 'duplicate key',
    yaml: header + '  yankes:\n    upstream: http://127.0.0.1:3000\n  yankes:\n    upstream: http://127.0.0.1:3001\n',
    line: 6,
    path: '(yaml)',
    message: /unique/i
  },
  {
    name: 'unknown method',
    yaml: header + '  yankes:\n    upstream: http://127.0.0.1:3000\n    methods:\n      - GET\n      - GOT\n',
    line: 8,
    path: 'integrations.yankes.methods.1',
    message: /GET, HEAD, POST/
  },
  {
    name: 'missing environment variable',
    // A literal ${VAR} reference, as an operator writes it in routes.yaml.
    // eslint-disable-next-line no-template-curly-in-string
    yaml: header + '  yankes:\n    upstream: ${GERBANG_TEST_SURELY_UNSET_UPSTREAM}\n',
    line: 5,
    path: '(env)',
    message: /GERBANG_TEST_SURELY_UNSET_UPSTREAM is not set/
  }
]

// Each case spawns the CLI twice; running them side by side keeps the file quick.
describe('broken routes files', { concurrency: 4 }, () => {
  for (const file of broken) {
    test(`routes check reports ${file.name} with its line, and start refuses it`, async () => {
      const path = join(dir, `${file.name.replaceAll(' ', '-')}.yaml`)
      await writeFile(path, file.yaml)

      const check = await runGerbang(['routes', 'check', path])
      assert.equal(check.code, 1, check.stdout + check.stderr)
      const lines = check.stdout.trim().split('\n')
      assert.equal(lines.length, 1, `one problem expected, got:\n${check.stdout}`)
      const [location, problemPath, ...rest] = (lines[0] as string).split(': ')
      assert.equal(location, `${path}:${file.line}`)
      assert.equal(problemPath, file.path)
      assert.match(rest.join(': '), file.message)

      const start = await runGerbang(['start', '--routes', path, '--port', '0', '--host', '127.0.0.1'])
      assert.equal(start.code, 1)
      assert.match(start.stderr, /will not start/)
      assert.ok(start.stderr.includes(`${path}:${file.line}: ${file.path}`), start.stderr)
    })
  }
})

test('routes check lists every problem of a file, one line each', async () => {
  const path = join(dir, 'many.yaml')
  await writeFile(path, header + '  yankes:\n    upstream: nope\n    timeout: soon\n    colour: blue\n')
  const check = await runGerbang(['routes', 'check', path])
  assert.equal(check.code, 1)
  const lines = check.stdout.trim().split('\n').sort()
  assert.deepEqual(lines.map((l) => l.split(': ')[0]), [`${path}:6`, `${path}:7`])
  // The schema problems are reported first; the URL is checked once the shape is right.
  assert.match(check.stdout, /timeout/)
  assert.match(check.stdout, /unknown field 'colour'/)
})

test('routes check accepts a valid file and the repository routes.yaml', async () => {
  const path = join(dir, 'valid.yaml')
  await writeFile(path, header + '  yankes:\n    upstream: http://127.0.0.1:3000/api/v1\n    rewritePrefix: /api\n    methods: [GET]\n    timeout: 10s\n    rateLimit: 60/1m\n')
  const check = await runGerbang(['routes', 'check', path])
  assert.equal(check.code, 0, check.stdout)
  assert.match(check.stdout, /ok, 1 integrations/)

  const repo = await runGerbang(['routes', 'check', join(REPO_ROOT, 'routes.yaml')])
  assert.equal(repo.code, 0, repo.stdout + repo.stderr)
})

test('routes check refuses a YAML alias bomb, naming the file', async () => {
  const path = join(dir, 'bomb.yaml')
  const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
  for (const [i, name] of ['b', 'c', 'd', 'e', 'f'].entries()) {
    const previous = 'abcde'[i] as string
    levels.push(`${name}: &${name} [${Array(9).fill('*' + previous).join(',')}]`)
  }
  await writeFile(path, levels.join('\n') + '\nintegrations: {}\n')
  const check = await runGerbang(['routes', 'check', path])
  assert.equal(check.code, 1)
  assert.match(check.stdout, new RegExp(`^${path.replaceAll('.', '\\.')}:\\d+: \\(yaml\\): .*alias`, 'm'))
})

test('start refuses REDIS_URL without GERBANG_KEY_PEPPER', async () => {
  const path = join(dir, 'apikey.yaml')
  await writeFile(path, 'integrations:\n  yankes:\n    upstream: http://127.0.0.1:3000\n')
  const start = await runGerbang(['start', '--routes', path, '--port', '0', '--host', '127.0.0.1'],
    { REDIS_URL: 'redis://127.0.0.1:1', GERBANG_KEY_PEPPER: '' })
  assert.equal(start.code, 1)
  assert.match(start.stderr, /GERBANG_KEY_PEPPER is required with REDIS_URL/)
})
