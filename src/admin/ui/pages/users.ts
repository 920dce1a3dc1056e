// /admin/users: list; add, edit (name, role), reset password, delete with users:write.
import { api, messageOf } from '../api.js'
import { h, mount } from '../dom.js'
import { t } from '../i18n.js'
import type { PageContext, Role, RoleList, User } from '../types.js'
import {
  button, confirmDialog, dataTable, field, formDialog, formValue, pageHeader, timeEl, toast, type Column
} from '../widgets.js'

const MIN_PASSWORD = 12

function roleSelect (roles: Role[], current?: string): HTMLSelectElement {
  const names = roles.map((r) => r.name)
  if (current !== undefined && !names.includes(current)) names.unshift(current)
  return h('select', { name: 'role', required: true },
    names.map((name) => {
      const role = roles.find((r) => r.name === name)
      const label = role?.builtIn === true ? `${name} (${t('roles.builtIn')})` : name
      return h('option', { value: name, selected: name === current }, label)
    }))
}

function passwordInput (name = 'password'): HTMLInputElement {
  return h('input', { type: 'password', name, required: true, minlength: MIN_PASSWORD, autocomplete: 'new-password' })
}

function checkPassword (password: string): void {
  if ([...password].length < MIN_PASSWORD) throw new Error(t('users.err.short'))
}

const userPath = (email: string): string => `/users/${encodeURIComponent(email)}`

export async function usersPage (ctx: PageContext): Promise<void> {
  const { signal } = ctx
  const canWrite = ctx.can('users:write')
  const me = ctx.session.user.email.toLowerCase()
  let roles: Role[] = []
  const listSlot = h('div')

  const columns: Array<Column<User>> = [
    { label: t('users.email'), cell: (u) => h('span', { class: 'cell-main' }, u.email, u.email.toLowerCase() === me ? h('span', { class: 'muted' }, ` ${t('users.you')}`) : null) },
    { label: t('common.name'), cell: (u) => u.name },
    { label: t('users.role'), cell: (u) => h('span', { class: 'tag' }, u.role) },
    { label: t('common.created'), cell: (u) => timeEl(u.createdAt) },
    { label: t('common.updated'), cell: (u) => timeEl(u.updatedAt) }
  ]
  if (canWrite) {
    columns.push({
      label: t('common.actions'),
      class: 'actions',
      cell: (u) => h('div', { class: 'row-actions' },
        button(t('common.edit'), () => openEdit(u), { class: 'btn btn-small', 'data-testid': 'user-edit' }),
        button(t('users.reset'), () => openReset(u), { class: 'btn btn-small', 'data-testid': 'user-reset' }),
        u.email.toLowerCase() === me
          ? null
          : button(t('common.delete'), async () => { await remove(u) }, { class: 'btn btn-small btn-danger', 'data-testid': 'user-delete' }))
    })
  }

  async function load (): Promise<void> {
    const data = await api.get<{ items: User[] }>('/users', { signal })
    if (signal.aborted) return
    mount(listSlot, dataTable(t('users.title'), columns, data.items, () => ({ 'data-testid': 'user-row' })).wrap)
  }
  const reload = (): void => {
    load().catch((err: unknown) => { if (!signal.aborted) toast(messageOf(err), 'error') })
  }

  function openAdd (): void {
    formDialog(t('users.addTitle'), [
      field(t('users.email'), h('input', { type: 'email', name: 'email', required: true, autocomplete: 'off' })),
      field(t('common.name'), h('input', { type: 'text', name: 'name', required: true, autocomplete: 'off' })),
      field(t('users.role'), roleSelect(roles, roles.find((r) => r.name === 'viewer')?.name)),
      field(t('users.password'), passwordInput(), t('users.passwordHint'))
    ], async (form) => {
      const password = (form.elements.namedItem('password') as HTMLInputElement).value
      checkPassword(password)
      const email = formValue(form, 'email')
      await api.post('/users', { email, name: formValue(form, 'name'), role: formValue(form, 'role'), password })
      toast(t('users.saved', { email }))
    }, { 'data-testid': 'user-form' }, reload)
  }

  function openEdit (user: User): void {
    formDialog(t('users.editTitle', { email: user.email }), [
      field(t('common.name'), h('input', { type: 'text', name: 'name', required: true, value: user.name, autocomplete: 'off' })),
      field(t('users.role'), roleSelect(roles, user.role))
    ], async (form) => {
      const name = formValue(form, 'name')
      const role = formValue(form, 'role')
      const patch: Record<string, string> = {}
      if (name !== user.name) patch.name = name
      if (role !== user.role) patch.role = role
      if (Object.keys(patch).length > 0) await api.patch(userPath(user.email), patch)
      toast(t('users.saved', { email: user.email }))
    }, { 'data-testid': 'user-form' }, reload)
  }

  function openReset (user: User): void {
    formDialog(t('users.resetTitle', { email: user.email }), [
      // For password managers: whose password this is.
      h('input', { type: 'text', name: 'username', autocomplete: 'username', value: user.email, hidden: true, readonly: true }),
      field(t('users.newPassword'), passwordInput(), t('users.passwordHint'))
    ], async (form) => {
      const password = (form.elements.namedItem('password') as HTMLInputElement).value
      checkPassword(password)
      await api.patch(userPath(user.email), { password })
      toast(t('users.passwordSaved', { email: user.email }))
    }, { 'data-testid': 'password-form' })
  }

  async function remove (user: User): Promise<void> {
    if (!await confirmDialog(t('users.confirmDelete', { email: user.email }), t('common.delete'), true)) return
    try {
      await api.del(userPath(user.email))
      toast(t('users.deleted', { email: user.email }))
    } catch (err) {
      toast(messageOf(err), 'error')
    }
    reload()
  }

  const [, roleList] = await Promise.all([load(), canWrite ? api.get<RoleList>('/roles', { signal }) : undefined])
  if (signal.aborted) return
  // Only the roles this admin may grant: the server refuses any whose permissions go beyond their own.
  const mine = new Set(ctx.session.permissions)
  roles = (roleList?.items ?? []).filter((r) => r.permissions.every((p) => mine.has(p)))
  mount(ctx.root,
    pageHeader(t('users.title'), canWrite ? button(t('common.add'), openAdd, { class: 'btn btn-primary', 'data-testid': 'user-add' }) : null),
    listSlot)
}
