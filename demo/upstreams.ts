import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

// Sample upstreams for the demo: one small HTTP server per integration that
// answers the way the province's real services do, with
// invented but plausible Banten data. No real person's data appears here.

const BASE_PATH = '/api/v1'

// ---------------------------------------------------------------------------
// One tiny router shared by every sample upstream

type Json = Record<string, unknown>

interface Call {
  params: Record<string, string>
  query: URLSearchParams
  /** A JSON or form body; undefined when there was none. */
  body: Json | undefined
  /** How the upstream's callers reach it, for the self links real services print. */
  baseUrl: string
}

interface Answer {
  status?: number
  body: unknown
}

type Route = [method: 'GET' | 'POST' | 'PUT', pattern: string, handler: (call: Call) => Answer]

interface Service {
  routes: Route[]
  /** The service's own error shape: each real service has its own. */
  error: (status: number, reason: string) => unknown
}

class BadBody extends Error {}

const MAX_BODY_BYTES = 1024 * 1024

async function readBody (req: IncomingMessage): Promise<Json | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES) throw new BadBody('body too large')
    chunks.push(chunk as Buffer)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  if (text.trim() === '') return undefined
  // The dashboard's PHP clients post forms; newer clients post JSON.
  if ((req.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(text))
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new BadBody('body is not JSON')
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new BadBody('body is not a JSON object')
  return parsed as Json
}

function matchPattern (pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/')
  const got = path.split('/')
  if (want.length !== got.length) return undefined
  const params: Record<string, string> = {}
  for (let i = 0; i < want.length; i++) {
    const w = want[i] as string
    const g = got[i] as string
    if (w.startsWith(':')) {
      if (g === '') return undefined
      try {
        params[w.slice(1)] = decodeURIComponent(g)
      } catch {
        return undefined
      }
    } else if (w !== g) {
      return undefined
    }
  }
  return params
}

async function answer (service: Service, req: IncomingMessage): Promise<Answer> {
  const url = new URL(req.url ?? '/', 'http://upstream')
  if (url.pathname !== BASE_PATH && !url.pathname.startsWith(BASE_PATH + '/')) return { status: 404, body: service.error(404, 'NotFound') }
  const path = url.pathname.slice(BASE_PATH.length).replace(/\/+$/, '')
  const method = req.method === 'HEAD' ? 'GET' : req.method
  let pathMatched = false
  for (const [routeMethod, pattern, handler] of service.routes) {
    const params = matchPattern(pattern, path)
    if (params === undefined) continue
    pathMatched = true
    if (routeMethod !== method) continue
    let body: Json | undefined
    try {
      body = await readBody(req)
    } catch (err) {
      if (err instanceof BadBody) return { status: 400, body: service.error(400, err.message) }
      throw err
    }
    return handler({ params, query: url.searchParams, body, baseUrl: `http://${req.headers.host ?? 'localhost'}${BASE_PATH}` })
  }
  return pathMatched
    ? { status: 405, body: service.error(405, 'MethodNotAllowed') }
    : { status: 404, body: service.error(404, 'NotFound') }
}

interface Running {
  server: Server
  origin: string
  close: () => Promise<void>
}

async function serve (service: Service, host: string): Promise<Running> {
  let inFlight = 0
  let onIdle: (() => void) | undefined
  const server = createServer((req, res) => {
    inFlight++
    res.once('close', () => {
      if (--inFlight === 0) onIdle?.()
    })
    answer(service, req).then(({ status = 200, body }) => {
      const text = JSON.stringify(body)
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
      res.end(text)
    }, (err: unknown) => {
      res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' })
      res.end(JSON.stringify(service.error(500, err instanceof Error ? err.message : 'InternalError')))
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  const hostInUrl = host.includes(':') ? `[${host}]` : host
  return {
    server,
    origin: `http://${hostInUrl}:${port}${BASE_PATH}`,
    close: async () => {
      const closed = new Promise<void>((resolve) => { server.close(() => { resolve() }) })
      // Answers still being sent (the gateway may be finishing requests) get a
      // moment to complete; keep-alive connections left after that are cut.
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          onIdle = resolve
          setTimeout(resolve, 1000).unref()
        })
      }
      server.closeAllConnections()
      await closed
    }
  }
}

// ---------------------------------------------------------------------------
// Shared data helpers

/** A JSON:API list page as yankes serves it, `?page=N`, with self/first/next/last links. */
function jsonApiPage (
  call: Call, resource: string, items: Array<{ id: number, attributes: Json }>, perPage = 5
): Answer {
  const totalPages = Math.max(1, Math.ceil(items.length / perPage))
  const requested = Number.parseInt(call.query.get('page') ?? '1', 10)
  const page = Number.isInteger(requested) && requested > 0 ? requested : 1
  const slice = items.slice((page - 1) * perPage, page * perPage)
  const link = (n: number): string => `${call.baseUrl}/${resource}?page=${n}`
  return {
    body: {
      data: slice.map((item) => ({ type: null, id: String(item.id), attributes: item.attributes })),
      meta: {
        pagination: {
          total: items.length, count: slice.length, per_page: perPage, current_page: page, total_pages: totalPages
        }
      },
      links: {
        self: link(page), first: link(1), ...(page < totalPages ? { next: link(page + 1) } : {}), last: link(totalPages)
      }
    }
  }
}

function byId<T extends { id: number }> (items: readonly T[], id: string | undefined): T | undefined {
  return items.find((item) => String(item.id) === id)
}

// ---------------------------------------------------------------------------
// yankes: doctors, health facilities, inpatient beds

const KAB_KOT = {
  serang: 'Kota Serang',
  kabSerang: 'Kabupaten Serang',
  pandeglang: 'Kabupaten Pandeglang',
  lebak: 'Kabupaten Lebak',
  kabTangerang: 'Kabupaten Tangerang',
  cilegon: 'Kota Cilegon'
} as const

// [rumah_sakit, kode_rs, kelas, direktur, alamat, kab_kot, kode_pos, telp, terdaftar]
const FASKES_ROWS: Array<[string, string, 'B' | 'C', string, string, string, string, string, string]> = [
  ['RSUD Banten', '3673016', 'B', 'dr. Rina Kusumawati, MARS', 'Jl. Syech Nawawi Al-Bantani, Banjarsari, Cipocok Jaya', KAB_KOT.serang, '42123', '(0254) 555-0101', '2013-10-01'],
  ['RSUD Malingping', '3602027', 'C', 'dr. Agus Prasetyo, M.Kes', 'Jl. Raya Saketi-Malingping, Malingping Selatan', KAB_KOT.lebak, '42391', '(0252) 555-0102', '2017-02-14'],
  ['RSUD dr. Adjidarmo', '3602011', 'B', 'dr. Dewi Anggraeni, Sp.A', 'Jl. Iko Jatmiko No. 1, Rangkasbitung', KAB_KOT.lebak, '42314', '(0252) 555-0103', '1991-05-20'],
  ['RSUD Berkah Pandeglang', '3601012', 'B', 'dr. Hendra Gunawan, MARS', 'Jl. Jenderal Sudirman No. 1, Pandeglang', KAB_KOT.pandeglang, '42212', '(0253) 555-0104', '1995-08-17'],
  ['RSUD Labuan', '3601035', 'C', 'drg. Lilis Suryani, MM', 'Jl. Raya Labuan-Carita, Labuan', KAB_KOT.pandeglang, '42264', '(0253) 555-0105', '2019-01-07'],
  ['RSUD dr. Dradjat Prawiranegara', '3604013', 'B', 'dr. H. Budi Santoso, M.Kes', 'Jl. Rumah Sakit Umum No. 1, Kotabaru', KAB_KOT.kabSerang, '42112', '(0254) 555-0106', '1984-03-12'],
  ['RSUD Kabupaten Tangerang', '3603014', 'B', 'dr. Yuniar Rahmah, M.Kes', 'Jl. Jenderal Ahmad Yani No. 9, Sukaasih', KAB_KOT.kabTangerang, '15111', '(021) 555-0107', '1988-11-30'],
  ['RSUD Kota Cilegon', '3672015', 'C', 'dr. Teguh Wibowo, Sp.An', 'Jl. Aat Rusli No. 1, Jombang Wetan', KAB_KOT.cilegon, '42411', '(0254) 555-0108', '2003-06-02']
]

const FASKES = FASKES_ROWS.map(([rumahSakit, kodeRs, kelas, direktur, alamat, kabKot, kodePos, telp, terdaftar], i) =>
  ({
    id: i + 1,
    attributes: {
      rumah_sakit: rumahSakit,
      kode_rs: kodeRs,
      jenis: 'Rumah Sakit Umum',
      kelas,
      direktur,
      alamat,
      kab_kot: kabKot,
      kode_pos: kodePos,
      telp,
      fax: telp.replace(/-0(\d+)$/, '-9$1'),
      website: `https://${rumahSakit.toLowerCase().replace(/^rsud /, 'rsud-').replace(/[^a-z0-9-]+/g, '')}.example`,
      terdaftar
    }
  }))

// Rooms every sample hospital has; class B hospitals have more beds in each.
const ROOMS: Array<[ruang: string, kelas: string, bedsB: number, bedsC: number]> = [
  ['Mawar', 'VIP', 4, 2],
  ['Melati', 'Kelas I', 6, 4],
  ['Anggrek', 'Kelas II', 8, 6],
  ['Flamboyan', 'Kelas III', 10, 8],
  ['ICU', 'ICU', 4, 2]
]

const KAMAR = FASKES.map(({ id, attributes }) => {
  const beds = ROOMS.flatMap(([ruang, kelas, bedsB, bedsC]) =>
    Array.from({ length: attributes.kelas === 'B' ? bedsB : bedsC }, (_, n) => ({
      // About seven beds in ten are taken, spread differently per hospital.
      status: (id * 7 + n * 3 + ruang.length) % 10 < 7 ? 'terisi' : 'kosong',
      kode_bed: `${ruang.slice(0, 3).toUpperCase()}-${String(n + 1).padStart(2, '0')}`,
      nama_kelas: kelas,
      nama_ruang: `Ruang ${ruang}`
    })))
  const terpakai = beds.filter((b) => b.status === 'terisi').length
  return {
    id,
    attributes: {
      rumah_sakit: attributes.rumah_sakit,
      kab_kot: attributes.kab_kot,
      total_bed: beds.length,
      bed_terpakai: terpakai,
      bed_kosong: beds.length - terpakai,
      rawat_inap: { kamar: beds }
    }
  }
})

// [name, spesialis, faskes id, jadwal]
const DOKTER_ROWS: Array<[string, string, number, string]> = [
  ['dr. Ahmad Fauzi, Sp.PD', 'Penyakit Dalam', 1, 'Senin-Rabu 08.00-12.00'],
  ['dr. Siti Nurhaliza, Sp.A', 'Anak', 1, 'Selasa-Kamis 09.00-13.00'],
  ['dr. Rudi Hartono, Sp.B', 'Bedah Umum', 2, 'Senin, Rabu, Jumat 08.00-11.00'],
  ['dr. Maya Sari, Sp.OG', 'Obstetri dan Ginekologi', 3, 'Senin-Jumat 13.00-16.00'],
  ['dr. Bambang Irawan, Sp.JP', 'Jantung dan Pembuluh Darah', 4, 'Selasa dan Kamis 08.00-12.00'],
  ['dr. Nur Aini, Sp.M', 'Mata', 5, 'Rabu-Jumat 08.00-12.00'],
  ['dr. Dedi Kurniawan, Sp.S', 'Saraf', 6, 'Senin-Kamis 14.00-17.00'],
  ['dr. Fitri Handayani, Sp.KK', 'Kulit dan Kelamin', 7, 'Senin-Sabtu 08.00-11.00'],
  ['dr. Joko Susilo, Sp.THT-KL', 'Telinga Hidung Tenggorok', 8, 'Selasa-Jumat 09.00-12.00'],
  ['dr. Ratna Dewi, Sp.Rad', 'Radiologi', 1, 'Senin-Jumat 07.30-15.30']
]

const DOKTER = DOKTER_ROWS.map(([name, spesialis, faskesId, visit], i) => {
  const faskes = (byId(FASKES, String(faskesId)) as typeof FASKES[number]).attributes
  const handle = name.replace(/^dr\. /, '').split(',')[0]?.toLowerCase().replace(/\s+/g, '.') ?? 'dokter'
  return {
    id: i + 1,
    attributes: {
      name,
      email: `${handle}@yankes.banten.example`,
      photo: `https://yankes.banten.example/storage/dokter/${i + 1}.jpg`,
      data: {
        dokter: {
          nidn: String(402_017_801 + i * 7_919).padStart(10, '0'),
          spesialis,
          phone: `0812-555-${String(1001 + i * 37).padStart(4, '0')}`,
          alamat: `${faskes.rumah_sakit}, ${faskes.alamat}, ${faskes.kab_kot}`,
          visit
        }
      }
    }
  }
})

const yankes: Service = {
  error: (status) => ({ error: status === 404 ? 'DataNotFound' : status === 405 ? 'MethodNotAllowed' : status === 400 ? 'BadRequest' : 'InternalError' }),
  routes: [
    ...([['dokter', DOKTER], ['faskes', FASKES], ['kamar', KAMAR]] as const).flatMap(([resource, items]): Route[] => [
      ['GET', `/${resource}`, (call) => jsonApiPage(call, resource, items)],
      ['GET', `/${resource}/:id`, (call) => {
        const item = byId<{ id: number, attributes: Json }>(items, call.params.id)
        return item === undefined
          ? { status: 404, body: { error: 'DataNotFound' } }
          : { body: { data: { type: null, id: String(item.id), attributes: item.attributes } } }
      }]
    ]),
    ['GET', '/yankes', () => {
      const sum = (key: 'total_bed' | 'bed_terpakai' | 'bed_kosong'): number => KAMAR.reduce((n, k) => n + k.attributes[key], 0)
      return { body: { data: { rumahsakit: FASKES.length, dokter: DOKTER.length, bed: sum('total_bed'), bed_terpakai: sum('bed_terpakai'), bed_kosong: sum('bed_kosong') } } }
    }]
  ]
}

// ---------------------------------------------------------------------------
// satu-data: the one-data portal (groups, organizations)

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

const satuData: Service = {
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

// ---------------------------------------------------------------------------
// dashboard: OPDs push figures for the leaders' dashboard

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

const dashboard: Service = {
  error: (status, reason) => ({ title: 'Error', type: 'error', message: [status === 404 ? 'Resource not found.' : reason] }),
  routes: [
    ['POST', '/:resource', (call) => dashboardSave(call, 'Data created successfully.')],
    ['PUT', '/:resource/:id', (call) => dashboardSave(call, 'Data updated successfully.')]
  ]
}

// ---------------------------------------------------------------------------
// otorisasi: users, roles, permissions

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

const otorisasi: Service = {
  error: (status) => ({ error: status === 404 ? 'NotFound' : status === 405 ? 'MethodNotAllowed' : 'BadRequest' }),
  routes: ([['user', USERS, 'UserNotFound'], ['role', ROLES, 'RoleNotFound'], ['permission', PERMISSIONS, 'PermissionNotFound']] as const)
    .map(([resource, items, notFound]): Route => ['GET', `/${resource}/:id`, (call) => {
      const item = byId<{ id: number }>(items, call.params.id)
      return item === undefined ? { status: 404, body: { error: notFound } } : { body: item }
    }])
}

// ---------------------------------------------------------------------------
// bpjs: health insurance membership

// [no_bpjs, nama, faskes (FKTP), kelas_rawat, status, jenis_peserta]
const PESERTA = ([
  ['0001357924680', 'Siti Aminah', 'Puskesmas Cipocok Jaya, Kota Serang', 'Kelas III', 'AKTIF', 'PBI APBD'],
  ['0001357924681', 'Dadang Supriatna', 'Puskesmas Rangkasbitung, Kabupaten Lebak', 'Kelas II', 'AKTIF', 'PBPU (Mandiri)'],
  ['0001357924682', 'Euis Komalasari', 'Puskesmas Malingping, Kabupaten Lebak', 'Kelas III', 'AKTIF', 'PBI APBN'],
  ['0001357924683', 'Rahmat Hidayat', 'Klinik Pratama Krakatau Sehat, Kota Cilegon', 'Kelas I', 'AKTIF', 'PPU (Pekerja Penerima Upah)'],
  ['0001357924684', 'Nurjanah', 'Puskesmas Labuan, Kabupaten Pandeglang', 'Kelas III', 'TIDAK AKTIF', 'PBPU (Mandiri)'],
  ['0001357924685', 'Agus Salim', 'Puskesmas Balaraja, Kabupaten Tangerang', 'Kelas II', 'AKTIF', 'PPU (Pekerja Penerima Upah)']
] as const).map(([noBpjs, nama, faskes, kelasRawat, status, jenis]) => ({
  no_bpjs: noBpjs, nama, faskes, kelas_rawat: kelasRawat, status, jenis_peserta: jenis
}))

const bpjs: Service = {
  error: (status) => ({ error: status === 404 ? 'NotFound' : status === 405 ? 'MethodNotAllowed' : 'BadRequest' }),
  routes: [
    ['GET', '/peserta/:noKartu', (call) => {
      const noKartu = call.params.noKartu ?? ''
      if (!/^[0-9]{13}$/.test(noKartu)) return { status: 400, body: { error: 'InvalidNoKartu', message: 'Nomor kartu BPJS terdiri dari 13 digit' } }
      const peserta = PESERTA.find((p) => p.no_bpjs === noKartu)
      return peserta === undefined ? { status: 404, body: { error: 'PesertaNotFound' } } : { body: peserta }
    }]
  ]
}

// ---------------------------------------------------------------------------

/** The sample upstreams, keyed by the integration names in routes.yaml. */
const DEMO_SERVICES: Readonly<Record<string, Service>> = {
  yankes,
  'satu-data': satuData,
  dashboard,
  otorisasi,
  bpjs
}

/**
 * Starts every sample upstream on `host` and a free port. `origins[name]` is
 * the upstream URL for routes.yaml, base path included.
 */
export async function startDemoUpstreams (host = '127.0.0.1'): Promise<{ origins: Record<string, string>, close: () => Promise<void> }> {
  const running: Running[] = []
  const close = async (): Promise<void> => {
    await Promise.all(running.map(async (r) => { await r.close() }))
  }
  try {
    for (const service of Object.values(DEMO_SERVICES)) running.push(await serve(service, host))
  } catch (err) {
    await close()
    throw err
  }
  const names = Object.keys(DEMO_SERVICES)
  return {
    origins: Object.fromEntries(names.map((name, i) => [name, (running[i] as Running).origin])),
    close
  }
}
