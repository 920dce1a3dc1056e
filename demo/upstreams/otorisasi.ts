// otorisasi: users, roles, permissions.
import { byId } from './data.js'
import type { Route, Service } from './service.js'

const PERMISSIONS = ([
  ['lihat-dashboard', 'Lihat dashboard', 'Melihat dashboard pimpinan'],
  ['ubah-data-dashboard', 'Ubah data dashboard', 'Mengirim dan memperbarui data dashboard OPD'],
  ['kelola-pengguna', 'Kelola pengguna', 'Menambah, mengubah dan menonaktifkan pengguna'],
  ['kelola-peran', 'Kelola peran', 'Mengatur peran dan hak akses'],
  ['kelola-kunci-api', 'Kelola kunci API', 'Membuat dan mencabut kunci API klien'],
  ['lihat-laporan', 'Lihat laporan', 'Melihat laporan penggunaan API']
] as const).map(([name, displayName, description], i) => ({ id: i + 1, name, display_name: displayName, description }))

const ROLES = ([
  ['superadmin', 'Super Admin', 'Seluruh hak akses', [1, 2, 3, 4, 5, 6]],
  ['admin-opd', 'Admin OPD', 'Pengelola data dan pengguna satu OPD', [1, 2, 3, 6]],
  ['operator', 'Operator', 'Petugas input data dashboard', [1, 2]],
  ['pimpinan', 'Pimpinan', 'Pimpinan daerah: melihat dashboard dan laporan', [1, 6]]
] as const).map(([name, displayName, description, permissions], i) => ({
  id: i + 1,
  name,
  display_name: displayName,
  description,
  permissions: permissions.map((p) => PERMISSIONS[p - 1]?.name)
}))

const USERS = ([
  ['Admin Diskominfo', 'admin@diskominfo.banten.example', 'Dinas Komunikasi, Informatika, Statistik dan Persandian', 1],
  ['Operator Dinkes', 'operator@dinkes.banten.example', 'Dinas Kesehatan', 3],
  ['Admin RSUD Banten', 'admin@rsudbanten.banten.example', 'RSUD Banten', 2],
  ['Operator Dindikbud', 'operator@dindikbud.banten.example', 'Dinas Pendidikan dan Kebudayaan', 3],
  ['Sekretariat Daerah', 'setda@banten.example', 'Sekretariat Daerah', 4]
] as const).map(([name, email, opd, role], i) => ({
  id: i + 1,
  name,
  email,
  opd,
  role: ROLES[role - 1]?.name,
  active: true,
  created_at: `2018-0${(i % 9) + 1}-1${i} 08:00:00`
}))

export const otorisasi: Service = {
  error: (status) => ({ error: status === 404 ? 'NotFound' : status === 405 ? 'MethodNotAllowed' : 'BadRequest' }),
  routes: ([['user', USERS, 'UserNotFound'], ['role', ROLES, 'RoleNotFound'], ['permission', PERMISSIONS, 'PermissionNotFound']] as const)
    .map(([resource, items, notFound]): Route => ['GET', `/${resource}/:id`, (call) => {
      const item = byId<{ id: number }>(items, call.params.id)
      return item === undefined ? { status: 404, body: { error: notFound } } : { body: item }
    }])
}
