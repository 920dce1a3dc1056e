// Words the admin UI (i18n-*.ts here) and the developer portal's key pages
// (src/docs/key-request-texts.ts) both say, [Bahasa Indonesia, English],
// written once so the two cannot drift apart. Data only, with no DOM and no
// server import: the server build compiles it too, and it lives in this
// folder because the browser bundle (src/admin/ui/tsconfig.json, rootDir
// here) can import nothing outside it.

export const SHARED_WORDS = {
  language: ['Bahasa', 'Language'],
  copy: ['Salin', 'Copy'],
  copied: ['Tersalin.', 'Copied.'],
  copyFallback: ['Teks sudah dipilih; tekan Ctrl+C (⌘C) untuk menyalin.', 'The text is selected; press Ctrl+C (⌘C) to copy it.'],
  clientId: ['ID klien (client_id)', 'Client ID (client_id)'],
  all: ['semua', 'all'],
  examples: ['Contoh pemanggilan', 'Example calls'],
  exampleKey: ['Dengan header x-api-key:', 'With the x-api-key header:'],
  exampleToken: ['Atau minta token (seperti SATUSEHAT), lalu kirim di Authorization:', 'Or request a token (as with SATUSEHAT), then send it in Authorization:'],
  validSummary: ['Periksa isian yang ditandai: {fields}.', 'Check the marked fields: {fields}.'],
  validRequired: ['Wajib diisi.', 'Required.'],
  validTooShort: ['Paling sedikit {min} karakter.', 'At least {min} characters.'],
  validTooLong: ['Paling banyak {max} karakter.', 'At most {max} characters.'],
  network: ['Tidak dapat menghubungi server. Periksa koneksi lalu coba lagi.', 'Cannot reach the server. Check the connection and try again.'],
  badRequest: ['Permintaan tidak sah. Periksa isian lalu coba lagi.', 'The request is not valid. Check the fields and try again.'],
  minutes: ['{n} menit', '{n} minutes'],
  seconds: ['{n} detik', '{n} seconds']
} satisfies Record<string, [id: string, en: string]>
