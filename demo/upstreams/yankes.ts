// yankes: doctors, health facilities, inpatient beds, as JSON:API pages.
import { byId, jsonApiPage } from './data.js'
import type { Json, Route, Service } from './service.js'

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

export const yankes: Service = {
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
