// /admin/roles: built-in roles (read-only) and custom roles, a role ×
// permission matrix; create, edit, delete custom roles with roles:write.
import { api, messageOf } from '../api.js'
import { h, mount } from '../dom.js'
import { t, tMaybe } from '../i18n.js'
import type { PageContext, Role, RoleList } from '../types.js'
import {
  badge, button, confirmDialog, dataTable, field, formDialog, formValue, pageHeader, toast, type Column
} from '../widgets.js'

// The store's rule for role names (src/admin/rbac.ts ROLE_NAME_PATTERN).
const ROLE_NAME_RE = /^[a-z][a-z0-9-]{1,39}$/

const permLabel = (p: string): string => tMaybe(`perm.${p}`) ?? p

function matrix (data: RoleList): HTMLElement {
  const columns: Array<Column<Role>> = [
    { label: t('users.role'), cell: (r) => h('span', { class: 'cell-main' }, r.name) },
    ...data.permissions.map((p): Column<Role> => ({
      label: permLabel(p),
      class: 'center',
      cell: (r) => r.permissions.includes(p)
        ? h('span', { class: 'yes', title: permLabel(p) }, h('span', { 'aria-hidden': 'true' }, '✓'), h('span', { class: 'sr-only' }, t('roles.has')))
        : h('span', { class: 'no' }, h('span', { 'aria-hidden': 'true' }, '·'), h('span', { class: 'sr-only' }, t('roles.hasNot')))
    }))
  ]
  const table = dataTable(t('roles.matrix'), columns, data.items, (r) => ({ 'data-testid': 'matrix-row', 'data-role': r.name }))
  for (const [i, th] of [...table.wrap.querySelectorAll('thead th')].entries()) {
    if (i > 0) th.setAttribute('title', data.permissions[i - 1] ?? '')
  }
  table.wrap.classList.add('matrix')
  return table.wrap
}

function permissionBoxes (all: string[], chosen: string[]): HTMLElement {
  return h('fieldset', { class: 'checks' },
    h('legend', null, t('roles.permissions')),
    all.map((p) => h('label', { class: 'check' },
      h('input', { type: 'checkbox', name: 'permissions', value: p, checked: chosen.includes(p) }),
      h('span', null, permLabel(p), h('span', { class: 'muted small' }, ' (', h('code', null, p), ')')))))
}

function chosenPermissions (form: HTMLFormElement): string[] {
  return [...form.querySelectorAll<HTMLInputElement>('input[name="permissions"]')].filter((b) => b.checked).map((b) => b.value)
}

export async function rolesPage (ctx: PageContext): Promise<void> {
  const { signal } = ctx
  const canWrite = ctx.can('roles:write')
  const body = h('div')
  let data: RoleList = { items: [], permissions: [] }

  const columns: Array<Column<Role>> = [
    {
      label: t('common.name'),
      cell: (r) => h('div', null, h('span', { class: 'cell-main' }, r.name), ' ',
        r.builtIn ? badge(t('roles.builtIn'), 'info', { 'data-testid': 'role-builtin' }) : badge(t('roles.custom'), 'muted'))
    },
    { label: t('common.description'), cell: (r) => r.description },
    { label: t('roles.permissions'), cell: (r) => r.permissions.map((p) => h('span', { class: 'tag tag-text', title: p }, permLabel(p))) }
  ]
  if (canWrite) {
    columns.push({
      label: t('common.actions'),
      class: 'actions',
      cell: (r) => r.builtIn
        ? h('span', { class: 'muted small', title: t('roles.builtInNote') }, t('common.none'))
        : h('div', { class: 'row-actions' },
          button(t('common.edit'), () => openForm(r), { class: 'btn btn-small', 'data-testid': 'role-edit' }),
          button(t('common.delete'), async () => { await remove(r) }, { class: 'btn btn-small btn-danger', 'data-testid': 'role-delete' }))
    })
  }

  async function load (): Promise<void> {
    data = await api.get<RoleList>('/roles', { signal })
    if (signal.aborted) return
    mount(body,
      h('h2', null, t('roles.list')),
      h('p', { class: 'muted small' }, t('roles.builtInNote')),
      dataTable(t('roles.list'), columns, data.items, (r) => ({ 'data-testid': 'role-row', 'data-role': r.name })).wrap,
      h('h2', null, t('roles.matrix')),
      matrix(data))
  }
  const reload = (): void => {
    load().catch((err: unknown) => { if (!signal.aborted) toast(messageOf(err), 'error') })
  }

  function openForm (role?: Role): void {
    const name = h('input', { type: 'text', name: 'name', required: true, pattern: '[a-z][a-z0-9\\-]{1,39}', maxlength: 40, autocomplete: 'off' })
    formDialog(role === undefined ? t('roles.addTitle') : t('roles.editTitle', { name: role.name }), [
      role === undefined ? field(t('common.name'), name, t('roles.nameHint')) : null,
      field(t('common.description'), h('input', { type: 'text', name: 'description', value: role?.description ?? '', autocomplete: 'off' })),
      permissionBoxes(data.permissions, role?.permissions ?? [])
    ], async (form) => {
      const description = formValue(form, 'description')
      const permissions = chosenPermissions(form)
      if (role === undefined) {
        const roleName = formValue(form, 'name')
        if (!ROLE_NAME_RE.test(roleName)) throw new Error(`${t('roles.err.name')} ${t('roles.nameHint')}`)
        await api.post('/roles', { name: roleName, description, permissions })
        toast(t('roles.saved', { name: roleName }))
      } else {
        await api.put(`/roles/${encodeURIComponent(role.name)}`, { description, permissions })
        toast(t('roles.saved', { name: role.name }))
      }
    }, { 'data-testid': 'role-form' }, reload)
  }

  async function remove (role: Role): Promise<void> {
    if (!await confirmDialog(t('roles.confirmDelete', { name: role.name }), t('common.delete'), true)) return
    try {
      await api.del(`/roles/${encodeURIComponent(role.name)}`)
      toast(t('roles.deleted', { name: role.name }))
      reload()
    } catch (err) {
      toast(messageOf(err), 'error')
    }
  }

  await load()
  if (signal.aborted) return
  mount(ctx.root,
    pageHeader(t('roles.title'), canWrite ? button(t('common.add'), () => openForm(), { class: 'btn btn-primary', 'data-testid': 'role-add' }) : null),
    body)
}
