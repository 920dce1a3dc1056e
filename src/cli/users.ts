import { hashPassword, isEmailAddress, passwordProblem } from '../auth/passwords.js'
import { findRole, ROLE_NAME_PATTERN } from '../admin/rbac.js'
import { audit } from '../store/audit.js'
import { CliError, dispatch, USERS_USAGE, parseCommand, required } from './common.js'
import { withCliStore } from './store-connection.js'

// gerbang users create: an admin-UI user. The password comes from stdin, never
// from a flag (flags end up in shell history and `ps`), and is stored as an
// scrypt hash only.

const MAX_PASSWORD_BYTES = 1024

export async function users (args: string[]): Promise<number> {
  return await dispatch('users', USERS_USAGE, { create }, args)
}

async function create (args: string[]): Promise<number> {
  const { values } = parseCommand(args, {
    help: { type: 'boolean', short: 'h' },
    email: { type: 'string' },
    role: { type: 'string' },
    name: { type: 'string' }
  }, USERS_USAGE)
  if (values.help === true) {
    process.stdout.write(`usage:\n${USERS_USAGE}\n`)
    return 0
  }
  const email = required(values.email, 'email', USERS_USAGE).trim()
  const role = required(values.role, 'role', USERS_USAGE).trim()
  if (!isEmailAddress(email)) throw new CliError(`'${email}' is not an email address`)
  if (!ROLE_NAME_PATTERN.test(role)) throw new CliError(`--role must be a role name such as admin, operator or viewer, not '${role}'`)
  const name = values.name?.trim() ?? ''
  if (name.length > 100) throw new CliError('--name must be at most 100 characters')

  await withCliStore(async ({ store }) => {
    // Before asking for a password that would be thrown away.
    if (await store.getUser(email) !== undefined) throw new CliError(`a user with email '${email}' already exists (emails are compared ignoring case)`)
    if (await findRole(store, role) === undefined) throw new CliError(`there is no role '${role}': use admin, operator, viewer or one made in the admin UI`)
    const password = await readPassword()
    const problem = passwordProblem(password)
    if (problem !== undefined) throw new CliError(problem)
    await store.createUser({
      email,
      name: name === '' ? email : name,
      role,
      passwordHash: await hashPassword(password),
      createdAt: new Date().toISOString()
    })
    await audit(store, 'cli', 'user.create', { type: 'user', id: email }, { role })
  }, { create: true })
  process.stdout.write(`created ${role} user ${email}\n`)
  return 0
}

/** One line from stdin: typed at a prompt without echo on a terminal, else piped. */
async function readPassword (): Promise<string> {
  if (process.stdin.isTTY) {
    const password = await promptHidden('Password: ')
    if (passwordProblem(password) === undefined && await promptHidden('Repeat it: ') !== password) {
      throw new CliError('the passwords do not match')
    }
    return password
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    chunks.push(chunk)
    size += chunk.length
    if (size > MAX_PASSWORD_BYTES) throw new CliError(`the password on stdin must be at most ${MAX_PASSWORD_BYTES} bytes`)
  }
  const text = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '')
  if (text === '') {
    throw new CliError('no password on stdin: pipe it in, e.g. printf \'%s\\n\' "$PASSWORD" | gerbang users create …')
  }
  if (/[\r\n]/.test(text)) throw new CliError('the password on stdin must be one line')
  return text
}

/** Reads a line from the terminal without echoing it. */
async function promptHidden (prompt: string): Promise<string> {
  const stdin = process.stdin
  process.stderr.write(prompt)
  stdin.setRawMode(true)
  stdin.setEncoding('utf8')
  stdin.resume()
  try {
    return await new Promise<string>((resolve, reject) => {
      let typed = ''
      const onData = (chunk: string): void => {
        for (const char of chunk) {
          if (char === '\r' || char === '\n' || char === '\u0004') {
            stdin.off('data', onData)
            resolve(typed)
            return
          }
          if (char === '\u0003') {
            stdin.off('data', onData)
            reject(new CliError('cancelled'))
            return
          }
          if (char === '\u007f' || char === '\b') typed = [...typed].slice(0, -1).join('')
          else typed += char
        }
      }
      stdin.on('data', onData)
    })
  } finally {
    stdin.setRawMode(false)
    stdin.pause()
    process.stderr.write('\n')
  }
}
