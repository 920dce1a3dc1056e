// dashboard: OPDs push figures for the leaders' dashboard, checked as its
// Laravel validators check them.
import type { Answer, Call, Service } from './service.js'

// The fields each resource requires, as its Laravel validators name them.
const DASHBOARD_FIELDS: Record<string, string[]> = {
  pegawai: ['pria', 'wanita'],
  penduduk: ['pria', 'wanita'],
  'tim-medis': ['dokter', 'perawat', 'bidan'],
  pendidik: ['guru_sma', 'guru_smk', 'guru_slb']
}

function dashboardSave (call: Call, message: string): Answer {
  const fields = DASHBOARD_FIELDS[call.params.resource ?? '']
  if (fields === undefined) return { status: 404, body: { title: 'Error', type: 'error', message: ['Resource not found.'] } }
  const problems = fields.flatMap((field) => {
    const value = call.body?.[field]
    const label = field.replaceAll('_', ' ')
    if (value === undefined || value === null || value === '') return [`The ${label} field is required.`]
    if (!Number.isFinite(Number(value))) return [`The ${label} must be a number.`]
    return []
  })
  if (problems.length > 0) return { status: 422, body: { title: 'Error', type: 'error', message: problems } }
  return { body: { title: 'Success', type: 'success', message } }
}

export const dashboard: Service = {
  error: (status, reason) => ({ title: 'Error', type: 'error', message: [status === 404 ? 'Resource not found.' : reason] }),
  routes: [
    ['POST', '/:resource', (call) => dashboardSave(call, 'Data created successfully.')],
    ['PUT', '/:resource/:id', (call) => dashboardSave(call, 'Data updated successfully.')]
  ]
}
