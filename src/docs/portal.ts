import { codes, type ErrorCode } from '../errors.js'
import { TOKEN_PATH } from '../auth/oauth2.js'
import type { DocLang } from './servers.js'
import { REQUEST_PAGE } from './key-request-pages.js'

// The developer portal's own content (issue 18, item 5): the texts around the
// OpenAPI operations on /doc, in Bahasa Indonesia (default) and English.
// Swagger UI renders them from info.description: Markdown, with HTML blocks
// for what Markdown lacks (tables, notes). Its sanitizer drops `class`,
// `style` and `data-*`, so the notes are styled by their id (portal.css).

export type { DocLang } from './servers.js'

interface CodeText {
  /** Only the admin API (/admin/api) answers with it: listed in its own document, not on the public page. */
  admin: boolean
  /** [meaning, what to do] */
  id: [string, string]
  en: [string, string]
}

/** Every problem `code` of src/errors.ts, for people: the compiler refuses a code without its texts. */
export const CODE_TEXTS: Record<ErrorCode, CodeText> = {
  BAD_REQUEST: {
    admin: false,
    id: ['Permintaan tidak sah (parameter, badan atau header salah).', 'Periksa permintaan dengan `detail`; jangan diulang tanpa diperbaiki.'],
    en: ['The request is malformed (parameters, body or headers).', 'Read `detail` and fix the request; do not retry it unchanged.']
  },
  CREDENTIALS_MISSING: {
    admin: false,
    id: ['Tidak ada kunci API atau token.', 'Kirim kunci di header `x-api-key` atau token di `Authorization: Bearer`.'],
    en: ['No API key or token was sent.', 'Send the key in the `x-api-key` header or a token in `Authorization: Bearer`.']
  },
  CREDENTIALS_INVALID: {
    admin: false,
    id: ['Kunci atau token tidak dikenal, dicabut, kedaluwarsa, atau tidak berlaku dari alamat IP ini.', 'Minta token baru; bila tetap ditolak, hubungi operator Gerbang.'],
    en: ['The key or token is unknown, revoked, expired, or not valid from this IP address.', 'Request a new token; if it is still refused, contact the Gerbang operators.']
  },
  INTEGRATION_FORBIDDEN: {
    admin: false,
    id: ['Klien sah, tetapi tidak diberi akses ke integrasi ini.', 'Minta operator menambahkan integrasi ini ke klien Anda.'],
    en: ['The client is valid but has no access to this integration.', 'Ask the operators to add this integration to your client.']
  },
  CORS_ORIGIN_FORBIDDEN: {
    admin: false,
    id: ['Asal (Origin) aplikasi peramban ini tidak diizinkan integrasi.', 'Minta operator menambahkan asal aplikasi Anda ke `cors:` integrasi.'],
    en: ['The browser app\'s Origin is not allowed by the integration.', 'Ask the operators to add your app\'s origin to the integration\'s `cors:`.']
  },
  ROUTE_NOT_FOUND: {
    admin: false,
    id: ['Tidak ada integrasi yang melayani jalur ini.', 'Periksa prefix integrasi di halaman ini.'],
    en: ['No integration serves this path.', 'Check the integration\'s prefix on this page.']
  },
  METHOD_NOT_ALLOWED: {
    admin: false,
    id: ['Metode HTTP ini tidak diterima integrasi.', 'Pakai salah satu metode di header `Allow`.'],
    en: ['The integration does not accept this HTTP method.', 'Use one of the methods in the `Allow` header.']
  },
  REQUEST_TIMEOUT: {
    admin: false,
    id: ['Permintaan tidak selesai dikirim tepat waktu.', 'Periksa jaringan Anda, lalu ulangi.'],
    en: ['The request was not sent in time.', 'Check your network, then retry.']
  },
  KEY_LINK_GONE: {
    admin: false,
    id: ['Tautan kunci sekali pakai tidak dikenal, sudah dibuka, atau kedaluwarsa (`reason`).', 'Minta operator membuat tautan baru; kunci yang sudah ditampilkan tidak ditampilkan lagi.'],
    en: ['The one-time key link is unknown, already opened, or expired (`reason`).', 'Ask the operators for a new link; a key already shown is not shown again.']
  },
  PAYLOAD_TOO_LARGE: {
    admin: false,
    id: ['Badan permintaan melebihi batas integrasi.', 'Kirim data lebih kecil atau bagi menjadi beberapa permintaan.'],
    en: ['The request body exceeds the integration\'s limit.', 'Send less data, or split it over several requests.']
  },
  UNSUPPORTED_MEDIA_TYPE: {
    admin: false,
    id: ['Jenis isi (Content-Type) tidak diterima.', 'Kirim dengan Content-Type yang didokumentasikan operasi.'],
    en: ['The Content-Type is not accepted.', 'Send the Content-Type the operation documents.']
  },
  RATE_LIMITED: {
    admin: false,
    id: ['Melebihi batas laju atau kuota klien.', 'Tunggu sesuai `Retry-After` (detik), lalu ulangi.'],
    en: ['Over the client\'s rate limit or quota.', 'Wait `Retry-After` seconds, then retry.']
  },
  HEADERS_TOO_LARGE: {
    admin: false,
    id: ['Header permintaan terlalu besar.', 'Kurangi header atau cookie yang dikirim.'],
    en: ['The request headers are too large.', 'Send fewer or smaller headers and cookies.']
  },
  NOT_READY: {
    admin: false,
    id: ['Gateway belum siap (baru mulai atau rute belum dimuat).', 'Ulangi sebentar lagi.'],
    en: ['The gateway is not ready (starting, or no routes loaded).', 'Retry shortly.']
  },
  SESSION_REQUIRED: {
    admin: true,
    id: ['Belum masuk, atau sesi sudah berakhir.', 'Masuk lagi dengan POST /admin/api/session.'],
    en: ['Not signed in, or the session has ended.', 'Sign in again with POST /admin/api/session.']
  },
  LOGIN_FAILED: {
    admin: true,
    id: ['Email atau kata sandi salah, atau akun dikunci sementara.', 'Periksa data masuk; tunggu bila terkunci.'],
    en: ['Wrong email or password, or the account is locked for a while.', 'Check the credentials; wait if locked.']
  },
  CSRF_INVALID: {
    admin: true,
    id: ['Header x-csrf-token tidak ada atau salah, atau permintaan dari situs lain.', 'Kirim token dari jawaban masuk di setiap permintaan.'],
    en: ['The x-csrf-token header is missing or wrong, or the request came from another site.', 'Send the token from the sign-in answer on every request.']
  },
  PERMISSION_DENIED: {
    admin: true,
    id: ['Peran Anda tidak punya izin untuk ini.', 'Minta admin menambah izin peran Anda.'],
    en: ['Your role lacks the permission for this.', 'Ask an admin to grant your role the permission.']
  },
  NOT_FOUND: {
    admin: true,
    id: ['Data yang diminta tidak ada.', 'Periksa id-nya.'],
    en: ['The requested record does not exist.', 'Check its id.']
  },
  CONFLICT: {
    admin: true,
    id: ['Bertentangan dengan data yang ada (mis. nama sudah dipakai).', 'Pakai nama lain atau muat ulang data.'],
    en: ['Conflicts with existing data (e.g. the name is taken).', 'Use another name or reload the data.']
  },
  INTERNAL_ERROR: {
    admin: false,
    id: ['Kesalahan di gateway sendiri.', 'Ulangi; bila berulang, kirim `requestId` ke operator.'],
    en: ['An error in the gateway itself.', 'Retry; if it persists, send the `requestId` to the operators.']
  },
  SHUTTING_DOWN: {
    admin: false,
    id: ['Gateway sedang berhenti (pemeliharaan atau pembaruan).', 'Ulangi; permintaan akan dilayani proses lain.'],
    en: ['The gateway is shutting down (maintenance or update).', 'Retry; another process will serve it.']
  },
  OVERLOADED: {
    admin: false,
    id: ['Gateway sedang terlalu sibuk.', 'Ulangi sesuai `Retry-After`, dengan jeda yang makin panjang.'],
    en: ['The gateway is overloaded.', 'Retry after `Retry-After`, backing off.']
  },
  STORE_UNAVAILABLE: {
    admin: false,
    id: ['Penyimpanan gateway sementara tidak tersedia.', 'Ulangi sebentar lagi.'],
    en: ['The gateway\'s store is unavailable for now.', 'Retry shortly.']
  },
  UPSTREAM_UNAVAILABLE: {
    admin: false,
    id: ['Layanan hulu tidak dapat dihubungi.', 'Ulangi nanti; bila berlanjut, hubungi pemilik layanan.'],
    en: ['The upstream service cannot be reached.', 'Retry later; if it persists, contact the service\'s owner.']
  },
  UPSTREAM_ERROR: {
    admin: false,
    id: ['Layanan hulu menjawab dengan kesalahan 5xx (`upstreamStatus`).', 'Ulangi nanti; kirim `requestId` ke pemilik layanan.'],
    en: ['The upstream service answered with a 5xx error (`upstreamStatus`).', 'Retry later; send the `requestId` to the service\'s owner.']
  },
  UPSTREAM_AUTH_FAILED: {
    admin: false,
    id: ['Gateway gagal masuk ke layanan hulu.', 'Bukan kesalahan Anda: laporkan ke operator Gerbang.'],
    en: ['The gateway could not sign in to the upstream service.', 'Not your fault: report it to the Gerbang operators.']
  },
  UPSTREAM_CIRCUIT_OPEN: {
    admin: false,
    id: ['Panggilan ke layanan hulu dihentikan sementara karena terus gagal (circuit breaker).', 'Ulangi sesuai `Retry-After`.'],
    en: ['Calls to the upstream service are paused because it keeps failing (circuit breaker).', 'Retry after `Retry-After`.']
  },
  UPSTREAM_TIMEOUT: {
    admin: false,
    id: ['Layanan hulu tidak menjawab dalam batas waktu.', 'Ulangi nanti; untuk data besar, minta per halaman.'],
    en: ['The upstream service did not answer in time.', 'Retry later; for large data, request it page by page.']
  }
}

const escapeHtml = (text: string): string =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;')

/** `code` spans in Markdown style, as HTML (Markdown is not read inside HTML blocks). */
const inline = (text: string): string => escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>')

/** The error-code table, one row per code, sorted by status; `admin` picks the admin API's codes. */
export function errorTable (lang: DocLang, admin: boolean): string {
  const head = lang === 'id'
    ? ['Status', 'Kode', 'Arti', 'Yang perlu dilakukan']
    : ['Status', 'Code', 'Meaning', 'What to do']
  const rows = (Object.entries(CODE_TEXTS) as Array<[ErrorCode, CodeText]>)
    .filter(([, text]) => text.admin === admin)
    .sort(([a], [b]) => codes[a].status - codes[b].status)
    .map(([code, text]) => `<tr><td>${codes[code].status}</td><td><code>${code}</code></td>` +
      `<td>${inline(text[lang][0])}</td><td>${inline(text[lang][1])}</td></tr>`)
  // One HTML block: no blank line inside it.
  const headRow = head.map((h) => `<th scope="col">${h}</th>`).join('')
  return `<table><thead><tr>${headRow}</tr></thead><tbody>${rows.join('')}</tbody></table>`
}

export type NoteKind = 'info' | 'tip' | 'warning' | 'danger'
const NOTE_LABELS: Record<NoteKind, Record<DocLang, string>> = {
  info: { id: 'Info', en: 'Info' },
  tip: { id: 'Tips', en: 'Tip' },
  warning: { id: 'Perhatian', en: 'Caution' },
  danger: { id: 'Penting', en: 'Important' }
}

/**
 * A note in the style of SATUSEHAT's documentation (its Docusaurus
 * admonitions: a tinted box with a coloured left bar and an upper-case label).
 * `name` makes the id (`gb-<kind>-<name>`) the stylesheet keys on.
 */
export function note (kind: NoteKind, name: string, lang: DocLang, html: string): string {
  const label = NOTE_LABELS[kind][lang]
  return `<aside role="note" id="gb-${kind}-${name}" aria-label="${label}">` +
    `<p><strong>${label.toUpperCase()}</strong></p><p>${html}</p></aside>`
}

function keySection (lang: DocLang): string {
  if (lang === 'en') {
    return [
      '<h2 id="cara-mendapatkan-kunci">How to get a key</h2>',
      '<ol>' +
      `<li>Send a request on the <a href="${REQUEST_PAGE}">Request a key</a> page: your agency, the application, a contact email, the integrations it needs and what for. The Gerbang operators (Diskominfo, Banten Province) review it.</li>` +
      '<li>Once approved, the operators send your contact email a one-time link, valid for 24 hours. Open it and press <strong>Show the key</strong>: you get the <strong>client ID</strong> and the <strong>API key</strong> (<code>gb_…</code>). The key is shown only once: store it in your application\'s secret store.</li>' +
      '<li>Call an integration with the key in the <code>x-api-key</code> header, or exchange it for a token (SATUSEHAT style) and send <code>Authorization: Bearer &lt;token&gt;</code>.</li>' +
      '<li>Press <strong>Authorize</strong> on this page, enter the key, then <strong>Try it out</strong> on any operation.</li>' +
      '</ol>',
      `<pre><code>curl -H 'x-api-key: gb_…' https://&lt;gateway&gt;/yankes/dokter\ncurl -X POST 'https://&lt;gateway&gt;${TOKEN_PATH}?grant_type=client_credentials' \\\n  -d client_id=&lt;client ID&gt; -d client_secret=gb_…</code></pre>`,
      note('warning', 'kunci', lang, 'Never put the key in a browser app, a mobile app or a repository: call the gateway from your server. If the key leaks, ask the operators to rotate it; the old key can keep working for a grace period while you redeploy.'),
      note('tip', 'token', lang, 'A token lasts <code>expires_in</code> seconds (about 4 hours): cache it and request a new one 60 s before it expires, at most 60 tokens a minute per client.')
    ].join('\n\n')
  }
  return [
    '<h2 id="cara-mendapatkan-kunci">Cara mendapatkan kunci</h2>',
    '<ol>' +
    `<li>Ajukan permintaan di halaman <a href="${REQUEST_PAGE}">Minta kunci</a>: instansi, nama aplikasi, email kontak, integrasi yang dibutuhkan dan tujuannya. Operator Gerbang (Diskominfo Provinsi Banten) meninjaunya.</li>` +
    '<li>Bila disetujui, operator mengirim tautan sekali pakai yang berlaku 24 jam ke email kontak Anda. Buka tautan itu dan tekan <strong>Tampilkan kunci</strong>: Anda mendapat <strong>ID klien</strong> dan <strong>kunci API</strong> (<code>gb_…</code>). Kunci hanya ditampilkan sekali: simpan di penyimpanan rahasia aplikasi Anda.</li>' +
    '<li>Panggil integrasi dengan kunci di header <code>x-api-key</code>, atau tukar kunci dengan token (seperti SATUSEHAT) lalu kirim <code>Authorization: Bearer &lt;token&gt;</code>.</li>' +
    '<li>Tekan <strong>Authorize</strong> di halaman ini, masukkan kunci, lalu <strong>Try it out</strong> pada operasi mana pun.</li>' +
    '</ol>',
    `<pre><code>curl -H 'x-api-key: gb_…' https://&lt;gateway&gt;/yankes/dokter\ncurl -X POST 'https://&lt;gateway&gt;${TOKEN_PATH}?grant_type=client_credentials' \\\n  -d client_id=&lt;ID klien&gt; -d client_secret=gb_…</code></pre>`,
    note('warning', 'kunci', lang, 'Jangan taruh kunci di aplikasi peramban, aplikasi seluler atau repositori: panggil gateway dari server Anda. Bila kunci bocor, minta operator merotasinya; kunci lama dapat tetap berlaku selama masa tenggang sampai aplikasi Anda diperbarui.'),
    note('tip', 'token', lang, 'Token berlaku <code>expires_in</code> detik (sekitar 4 jam): simpan dan minta yang baru 60 detik sebelum kedaluwarsa, paling banyak 60 token per menit per klien.')
  ].join('\n\n')
}

const INTRO: Record<DocLang, string> = {
  id: [
    'Gerbang adalah gerbang API (API gateway) Pemerintah Provinsi Banten: satu pintu untuk semua integrasi layanan',
    'antar perangkat daerah. Setiap permintaan ke `/<prefix>/...` diteruskan ke layanan hulu integrasi tersebut.',
    '',
    '**Kredensial.** Kirim kunci API klien Anda di header `x-api-key`, atau token dari',
    `\`POST ${TOKEN_PATH}?grant_type=client_credentials\` di header \`Authorization: Bearer <token>\`.`,
    'Tekan tombol **Authorize** untuk memasukkan kunci, lalu **Try it out** untuk memanggil gateway ini langsung.',
    '',
    '**Kesalahan.** Setiap kesalahan dari gateway sendiri berbentuk `application/problem+json` (RFC 9457), skema `Problem`.',
    'Jawaban 2xx, 3xx dan 4xx dari layanan hulu diteruskan apa adanya.',
    '',
    '**Batas laju.** Setiap jawaban membawa header `RateLimit`, `RateLimit-Policy` dan `X-RateLimit-*`;',
    'jawaban 429 juga membawa `Retry-After`. Setiap jawaban membawa `x-request-id`.'
  ].join('\n'),
  en: [
    'Gerbang is the API gateway of the Banten provincial government: one door to every integration between its agencies\'',
    'services. Every request to `/<prefix>/...` is forwarded to that integration\'s upstream service.',
    '',
    '**Credentials.** Send your client\'s API key in the `x-api-key` header, or a token from',
    `\`POST ${TOKEN_PATH}?grant_type=client_credentials\` in \`Authorization: Bearer <token>\`.`,
    'Press **Authorize** to enter the key, then **Try it out** to call this gateway directly.',
    '',
    '**Errors.** Every error from the gateway itself is `application/problem+json` (RFC 9457), schema `Problem`.',
    '2xx, 3xx and 4xx answers from upstream services are passed on untouched.',
    '',
    '**Rate limits.** Every answer carries the `RateLimit`, `RateLimit-Policy` and `X-RateLimit-*` headers;',
    'a 429 also carries `Retry-After`. Every answer carries `x-request-id`.'
  ].join('\n')
}

/** info.description of the public document, in `lang`. */
export function portalDescription (lang: DocLang): string {
  const id = lang === 'id'
  return [
    INTRO[lang],
    note('info', 'request-id', lang, id
      ? 'Saat melaporkan masalah, sertakan <code>x-request-id</code> dari jawaban (sama dengan <code>requestId</code> di dokumen kesalahan): operator dapat menemukan permintaan Anda dengannya.'
      : 'When reporting a problem, include the <code>x-request-id</code> of the answer (the <code>requestId</code> of the error document): the operators find your request with it.'),
    keySection(lang),
    `<h2 id="kode-kesalahan">${id ? 'Kode kesalahan' : 'Error codes'}</h2>`,
    id
      ? 'Kesalahan dari gateway membawa `code` berikut. Jawaban kesalahan dari layanan hulu (4xx) diteruskan apa adanya, tanpa `code`.'
      : 'Errors from the gateway carry one of these `code`s. Error answers from upstream services (4xx) are passed on as they are, without a `code`.',
    errorTable(lang, false),
    note('danger', 'ulang', lang, id
      ? 'Jangan mengulang permintaan yang mengubah data (POST, PUT) secara otomatis setelah 502 atau 504: layanan hulu mungkin sudah memprosesnya.'
      : 'Do not retry requests that change data (POST, PUT) automatically after a 502 or 504: the upstream service may already have processed them.')
  ].join('\n\n')
}

/** info.description of the admin API's own document (GET /admin/api/openapi.json). */
export function adminDescription (): string {
  return [
    'API JSON di balik konsol admin /admin (the JSON API behind the admin console). Masuk dengan `POST /admin/api/session`;',
    'peramban lalu mengirim cookie sesi, dan setiap permintaan lain, baca maupun ubah, harus membawa header `x-csrf-token` dari jawaban itu',
    '(the session cookie, and on every other request, reads included, the x-csrf-token from that answer).',
    'Dengan GERBANG_ADMIN_PORT, /admin hanya dilayani di port itu (with GERBANG_ADMIN_PORT, /admin is served on that port only).',
    '',
    '<h2 id="kode-kesalahan">Kode kesalahan admin API (admin API error codes)</h2>',
    '',
    errorTable('id', true)
  ].join('\n')
}
