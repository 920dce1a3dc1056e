import { SHARED_WORDS } from '../admin/ui/i18n-shared.js'
import type { DocLang } from './servers.js'

// The words of /doc/request-key and /doc/key (src/docs/public/key-request.js
// draws those pages): [Bahasa Indonesia, English], Indonesian first like
// everything else. Kept in TypeScript so a text cannot exist in one
// language only; the script receives them as JSON in front of its code
// (src/docs/key-request-pages.ts). The words the admin UI says too come
// from src/admin/ui/i18n-shared.ts, a data-only module both builds compile.

const TEXTS = {
  'site.tagline': ['Portal Pengembang API Provinsi Banten', 'Banten Province API Developer Portal'],
  'site.nav': ['Bagian portal', 'Portal sections'],
  'site.docs': ['Dokumentasi API', 'API documentation'],
  'site.request': ['Minta kunci', 'Request a key'],
  'site.language': SHARED_WORDS.language,
  'site.noscript': ['Halaman ini memerlukan JavaScript.', 'This page needs JavaScript.'],

  'request.title': ['Minta kunci API', 'Request an API key'],
  'request.intro': [
    'Isi formulir ini untuk meminta kunci API. Operator Gerbang (Diskominfo Provinsi Banten) meninjau setiap permintaan. Bila disetujui, operator mengirim ke email kontak Anda sebuah tautan sekali pakai yang menampilkan kunci; tautan itu berlaku 24 jam.',
    'Fill in this form to ask for an API key. The Gerbang operators (Diskominfo, Banten Province) review every request. Once approved, they send your contact email a one-time link that shows the key; the link is valid for 24 hours.'
  ],
  'request.agency': ['Instansi', 'Agency'],
  'request.agencyHint': ['Perangkat daerah, rumah sakit atau lembaga pemohon, misalnya Dinas Kesehatan Kota Serang.', 'The requesting agency, hospital or institution, e.g. Dinas Kesehatan Kota Serang.'],
  'request.app': ['Nama aplikasi', 'Application'],
  'request.appHint': ['Aplikasi yang akan memanggil gateway, misalnya SIMRS RSUD Banten.', 'The application that will call the gateway, e.g. SIMRS RSUD Banten.'],
  'request.email': ['Email kontak', 'Contact email'],
  'request.emailHint': ['Operator menghubungi Anda dan mengirim tautan kunci ke alamat ini.', 'The operators reach you and send the key link to this address.'],
  'request.integrations': ['Integrasi yang dibutuhkan', 'Integrations needed'],
  'request.purpose': ['Tujuan penggunaan', 'Purpose'],
  'request.purposeHint': ['Data apa yang dibutuhkan dan untuk layanan apa (10–1000 karakter).', 'What data is needed and for which service (10–1000 characters).'],
  'request.submit': ['Kirim permintaan', 'Send the request'],
  'request.sending': ['Mengirim…', 'Sending…'],
  'request.loading': ['Memuat daftar integrasi…', 'Loading the integrations…'],
  'request.noIntegrations': ['Belum ada integrasi yang memerlukan kunci.', 'No integration needs a key yet.'],
  'request.sentTitle': ['Permintaan terkirim', 'Request sent'],
  'request.sent': ['Terima kasih. Permintaan untuk {app} sudah masuk antrean operator.', 'Thank you. The request for {app} is in the operators\' queue.'],
  'request.number': ['Nomor permintaan: {id}', 'Request number: {id}'],
  'request.next': ['Operator akan menghubungi {email}. Bila disetujui, Anda menerima tautan sekali pakai yang menampilkan kunci; buka tautan itu dalam 24 jam.', 'The operators will contact {email}. If approved, you receive a one-time link that shows the key; open it within 24 hours.'],
  'request.another': ['Kirim permintaan lain', 'Send another request'],

  'valid.summary': SHARED_WORDS.validSummary,
  'valid.required': SHARED_WORDS.validRequired,
  'valid.tooShort': SHARED_WORDS.validTooShort,
  'valid.tooLong': SHARED_WORDS.validTooLong,
  'valid.email': ['Alamat email tidak sah, contoh nama@instansi.go.id.', 'Not a valid email address, e.g. name@agency.go.id.'],
  'valid.integrations': ['Pilih minimal satu integrasi.', 'Choose at least one integration.'],

  'key.title': ['Kunci API Anda', 'Your API key'],
  'key.checking': ['Memeriksa tautan…', 'Checking the link…'],
  'key.ready': ['Kunci untuk aplikasi {app} ({agency}) siap ditampilkan. Kunci hanya ditampilkan satu kali: siapkan tempat menyimpannya sebelum menekan tombol.', 'The key for {app} ({agency}) is ready. It is shown only once: have a place to store it before you press the button.'],
  'key.until': ['Tautan ini berlaku sampai {time}.', 'This link is valid until {time}.'],
  'key.show': ['Tampilkan kunci', 'Show the key'],
  'key.opening': ['Membuat kunci…', 'Making the key…'],
  'key.for': ['Klien: {name}', 'Client: {name}'],
  'key.clientId': SHARED_WORDS.clientId,
  'key.key': ['Kunci API', 'API key'],
  'key.copy': SHARED_WORDS.copy,
  'key.copyId': ['Salin ID klien', 'Copy the client ID'],
  'key.copyKey': ['Salin kunci', 'Copy the key'],
  'key.copied': SHARED_WORDS.copied,
  'key.copyFallback': SHARED_WORDS.copyFallback,
  'key.warning': ['Simpan kunci ini sekarang di penyimpanan rahasia aplikasi Anda. Kunci ini tidak akan ditampilkan lagi, juga tidak kepada operator.', 'Store this key now in your application\'s secret store. It will not be shown again, not even to the operators.'],
  'key.granted': ['Integrasi: {list}', 'Integrations: {list}'],
  'key.all': SHARED_WORDS.all,
  'key.limits': ['Batas: {list}', 'Limits: {list}'],
  'key.validUntil': ['Klien berlaku sampai {time}.', 'The client is valid until {time}.'],
  'key.examples': SHARED_WORDS.examples,
  'key.exampleKey': SHARED_WORDS.exampleKey,
  'key.exampleToken': SHARED_WORDS.exampleToken,
  'key.noToken': ['Tautan ini tidak lengkap. Salin seluruh tautan dari email operator, termasuk bagian setelah tanda #.', 'This link is incomplete. Copy the whole link from the operators\' email, including the part after #.'],
  'key.gone.used': ['Kunci dari tautan ini sudah ditampilkan, dan tidak ditampilkan lagi. Bila kunci hilang, minta operator merotasinya.', 'The key of this link has already been shown, and is not shown again. If the key is lost, ask the operators to rotate it.'],
  'key.gone.expired': ['Tautan ini sudah kedaluwarsa (berlaku 24 jam). Minta operator membuat tautan baru.', 'This link has expired (it was valid for 24 hours). Ask the operators for a new link.'],
  'key.gone.unknown': ['Tautan ini tidak dikenal atau sudah diganti dengan tautan baru. Periksa bahwa tautan disalin lengkap.', 'This link is not known, or was replaced by a new one. Check that the whole link was copied.'],
  'key.gone.withdrawn': ['Operator telah menarik akses ini. Hubungi operator Gerbang.', 'The operators have withdrawn this access. Contact the Gerbang operators.'],

  'problem.RATE_LIMITED': ['Terlalu banyak percobaan dari alamat ini. Coba lagi dalam {wait}.', 'Too many attempts from this address. Try again in {wait}.'],
  'problem.BAD_REQUEST': SHARED_WORDS.badRequest,
  'problem.STORE_UNAVAILABLE': ['Penyimpanan data gateway sedang tidak dapat dihubungi. Coba lagi sebentar lagi.', 'The gateway\'s store cannot be reached. Try again shortly.'],
  'problem.network': SHARED_WORDS.network,
  'problem.other': ['Terjadi kesalahan (HTTP {status}). Coba lagi; bila berulang, hubungi operator dengan ID permintaan {id}.', 'Something went wrong (HTTP {status}). Try again; if it persists, contact the operators with request ID {id}.'],
  'duration.minutes': SHARED_WORDS.minutes,
  'duration.seconds': SHARED_WORDS.seconds
} satisfies Record<string, [id: string, en: string]>

export type KeyRequestText = keyof typeof TEXTS

/** Every text in one language, for the pages' script. */
export function keyRequestTexts (lang: DocLang): Record<KeyRequestText, string> {
  const i = lang === 'id' ? 0 : 1
  return Object.fromEntries(
    Object.entries(TEXTS).map(([key, texts]) => [key, texts[i]])
  ) as Record<KeyRequestText, string>
}

/** [key, Indonesian, English] for every text, for the completeness test. */
export function allKeyRequestTexts (): Array<[string, string, string]> {
  return Object.entries(TEXTS).map(([key, [id, en]]) => [key, id, en])
}
