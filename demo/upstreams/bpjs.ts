// bpjs: health insurance membership.
import type { Service } from './service.js'

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

export const bpjs: Service = {
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
