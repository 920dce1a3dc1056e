// satu-data: the one-data portal (groups, organizations), in the portal's
// own envelope.
import type { Answer, Call, Json, Service } from './service.js'

// [name, title, description, created]
const GROUP_ROWS: Array<[string, string, string, string]> = [
  ['kesehatan', 'Kesehatan', 'Data fasilitas, tenaga dan layanan kesehatan di Provinsi Banten', '2017-11-02 09:15:00'],
  ['pendidikan', 'Pendidikan', 'Data sekolah, peserta didik dan pendidik jenjang SMA, SMK dan SLB', '2017-11-02 09:20:00'],
  ['kependudukan', 'Kependudukan', 'Data jumlah dan sebaran penduduk per kabupaten/kota', '2017-11-03 10:05:00'],
  ['ekonomi', 'Ekonomi', 'Data pertumbuhan ekonomi, inflasi dan UMKM', '2017-11-06 13:40:00'],
  ['infrastruktur', 'Infrastruktur', 'Data jalan, jembatan dan irigasi kewenangan provinsi', '2017-11-08 08:30:00'],
  ['pariwisata', 'Pariwisata', 'Data kunjungan wisatawan dan destinasi wisata', '2017-11-10 14:10:00'],
  ['pertanian', 'Pertanian', 'Data produksi padi, palawija dan hortikultura', '2017-11-13 11:00:00'],
  ['kesehatan-masyarakat', 'Kesehatan Masyarakat', 'Data imunisasi, gizi balita dan kesehatan lingkungan', '2018-01-15 09:45:00']
]

// [title, group name, organization id]
const DATASETS: Array<[string, string, number]> = [
  ['Jumlah Tempat Tidur Rumah Sakit per Kabupaten/Kota', 'kesehatan', 2],
  ['Jumlah Tenaga Kesehatan per Fasilitas Kesehatan', 'kesehatan', 2],
  ['Ketersediaan Kamar Rawat Inap RSUD Banten', 'kesehatan', 7],
  ['Cakupan Imunisasi Dasar Lengkap', 'kesehatan-masyarakat', 2],
  ['Prevalensi Balita Stunting', 'kesehatan-masyarakat', 2],
  ['Jumlah SMA, SMK dan SLB Negeri', 'pendidikan', 3],
  ['Angka Partisipasi Murni SMA/SMK', 'pendidikan', 3],
  ['Jumlah Penduduk per Kabupaten/Kota dan Jenis Kelamin', 'kependudukan', 4],
  ['Laju Pertumbuhan Ekonomi Provinsi Banten', 'ekonomi', 4],
  ['Panjang Jalan Provinsi menurut Kondisi', 'infrastruktur', 5],
  ['Kunjungan Wisatawan Nusantara ke Pantai Anyer dan Carita', 'pariwisata', 6],
  ['Produksi Padi per Kabupaten', 'pertanian', 4]
]

// [name, title, parent id (0 = none), description]
const ORGANIZATION_ROWS: Array<[string, string, number, string]> = [
  ['pemprov-banten', 'Pemerintah Provinsi Banten', 0, 'Pemerintah Provinsi Banten'],
  ['dinkes', 'Dinas Kesehatan', 1, 'Urusan pemerintahan bidang kesehatan'],
  ['dindikbud', 'Dinas Pendidikan dan Kebudayaan', 1, 'Urusan pemerintahan bidang pendidikan dan kebudayaan'],
  ['bappeda', 'Badan Perencanaan Pembangunan Daerah', 1, 'Perencanaan pembangunan dan statistik sektoral'],
  ['dpupr', 'Dinas Pekerjaan Umum dan Penataan Ruang', 1, 'Jalan, jembatan, irigasi dan tata ruang'],
  ['dispar', 'Dinas Pariwisata', 1, 'Destinasi dan promosi pariwisata'],
  ['rsud-banten', 'RSUD Banten', 2, 'Rumah sakit umum daerah milik Provinsi Banten'],
  ['rsud-malingping', 'RSUD Malingping', 2, 'Rumah sakit umum daerah milik Provinsi Banten di Kabupaten Lebak'],
  ['diskominfo', 'Dinas Komunikasi, Informatika, Statistik dan Persandian', 1, 'Pengelola portal Satu Data Banten']
]

const GROUPS = GROUP_ROWS.map(([name, title, description, created], i) => ({
  group_id: String(i + 1),
  group_name: name,
  group_title: title,
  group_description: description,
  image_url: `https://satu-data.banten.example/uploads/group/${name}.png`,
  package_count: String(DATASETS.filter(([, group]) => group === name).length),
  created
}))

const ORGANIZATIONS = ORGANIZATION_ROWS.map(([name, title, parent, description], i) => ({
  organization_id: String(i + 1),
  organization_name: name,
  organization_title: title,
  organization_description: description,
  parent_id: String(parent),
  package_count: String(DATASETS.filter(([, , org]) => org === i + 1).length)
}))

const datasetsWhere = (keep: (group: string, org: number) => boolean): Json[] =>
  DATASETS.flatMap(([title, group, org], i) => keep(group, org)
    ? [{ dataset_id: String(i + 1), title, group_name: group, organization: ORGANIZATIONS[org - 1]?.organization_title ?? '' }]
    : [])

/** The portal's envelope: status 1/0, code, message, results, timing. */
function envelope (code: number, message: string, results: unknown): Answer {
  return {
    status: code,
    body: {
      status: code < 400 ? 1 : 0,
      code,
      message,
      results,
      // The portal reports its own render time in ms; any small figure looks the part.
      generated: Number((Math.random() * 5).toFixed(4)),
      server_time: Math.floor(Date.now() / 1000)
    }
  }
}

/** The portal's list parameters: page, limit, keyword, order_field, sort_field (asc|desc). */
function portalList<T extends Record<string, string>> (
  call: Call, rows: T[], titleKey: keyof T & string, key: string
): Answer {
  const keyword = (call.query.get('keyword') ?? '').toLowerCase()
  const limit = Math.min(Math.max(Number.parseInt(call.query.get('limit') ?? '10', 10) || 10, 1), 100)
  const matching = rows.filter((row) => keyword === '' || Object.values(row).some((v) => v.toLowerCase().includes(keyword)))
  const orderField = call.query.get('order_field') ?? ''
  if (orderField !== '' && matching[0] !== undefined && orderField in matching[0]) {
    const direction = call.query.get('sort_field')?.toLowerCase() === 'desc' ? -1 : 1
    matching.sort((a, b) => direction * String(a[orderField]).localeCompare(String(b[orderField]), 'id', { numeric: true }))
  } else {
    matching.sort((a, b) => String(a[titleKey]).localeCompare(String(b[titleKey]), 'id'))
  }
  const pageMax = Math.max(1, Math.ceil(matching.length / limit))
  const page = Math.max(Number.parseInt(call.query.get('page') ?? '1', 10) || 1, 1)
  return envelope(200, '', {
    [key]: matching.slice((page - 1) * limit, page * limit),
    page_current: String(page),
    page_max: pageMax,
    total_result: matching.length
  })
}

function portalCreate<T extends Record<string, string>> (
  call: Call, rows: T[], what: string, make: (id: string, name: string, title: string) => T
): Answer {
  const title = typeof call.body?.title === 'string' ? call.body.title.trim() : ''
  if (title === '') return envelope(400, `title ${what} wajib diisi`, null)
  const name = typeof call.body?.name === 'string' && call.body.name !== ''
    ? call.body.name
    : title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')
  const row = make(String(rows.length + 1), name, title)
  // Kept in memory until the demo stops, so a created group can be read back.
  rows.push(row)
  return envelope(200, `${what} berhasil dibuat`, row)
}

export const satuData: Service = {
  error: (status, reason) => envelope(status, reason, null).body,
  routes: [
    ['GET', '/getGroup', (call) => portalList(call, GROUPS, 'group_title', 'groups')],
    ['GET', '/getGroupDetail', (call) => {
      const id = call.query.get('group_id')
      if (id === null || id === '') return envelope(400, 'group_id wajib diisi', null)
      const group = GROUPS.find((g) => g.group_id === id)
      if (group === undefined) return envelope(404, 'Group tidak ditemukan', null)
      return envelope(200, '', { group, datasets: datasetsWhere((name) => name === group.group_name) })
    }],
    ['POST', '/createGroup', (call) => portalCreate(call, GROUPS, 'Group', (id, name, title) => ({
      group_id: id,
      group_name: name,
      group_title: title,
      group_description: typeof call.body?.description === 'string' ? call.body.description : '',
      image_url: '',
      package_count: '0',
      created: new Date().toISOString().slice(0, 19).replace('T', ' ')
    }))],
    ['GET', '/getOrganization', (call) => portalList(call, ORGANIZATIONS, 'organization_title', 'organizations')],
    ['GET', '/getOrganizationHierarchy', () => {
      const tree = (parent: string): Json[] => ORGANIZATIONS.filter((o) => o.parent_id === parent)
        .map((o) => ({ ...o, children: tree(o.organization_id) }))
      return envelope(200, '', { organizations: tree('0') })
    }],
    ['GET', '/getOrganizationDetail', (call) => {
      const id = call.query.get('organization_id')
      if (id === null || id === '') return envelope(400, 'organization_id wajib diisi', null)
      const org = ORGANIZATIONS.find((o) => o.organization_id === id)
      if (org === undefined) return envelope(404, 'Organisasi tidak ditemukan', null)
      return envelope(200, '', { organization: org, datasets: datasetsWhere((_, id) => String(id) === org.organization_id) })
    }],
    ['POST', '/createOrganization', (call) => portalCreate(call, ORGANIZATIONS, 'Organisasi', (id, name, title) => ({
      organization_id: id,
      organization_name: name,
      organization_title: title,
      organization_description: typeof call.body?.description === 'string' ? call.body.description : '',
      parent_id: typeof call.body?.parent_id === 'string' ? call.body.parent_id : '1',
      package_count: '0'
    }))]
  ]
}
