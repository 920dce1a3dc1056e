// Bahasa Indonesia first, English second. The choice lives in localStorage
// `gerbang.lang`. Times are shown in Asia/Jakarta (WIB, UTC+7, no DST).

import { KEY_REQUEST_STRINGS } from './i18n-key-requests.js'

// [Bahasa Indonesia, English] for every text of the UI.
const STRINGS = {
  ...KEY_REQUEST_STRINGS,
  'app.name': ['Gerbang', 'Gerbang'],
  'app.tagline': ['Konsol admin API Gateway Provinsi Banten', 'Banten Province API gateway admin console'],
  'app.skip': ['Lewati ke konten', 'Skip to content'],
  'nav.label': ['Menu utama', 'Main menu'],
  'nav.toggle': ['Menu', 'Menu'],
  'nav.dashboard': ['Dasbor', 'Dashboard'],
  'nav.clients': ['Klien', 'Clients'],
  'nav.users': ['Pengguna', 'Users'],
  'nav.roles': ['Peran & Izin', 'Roles & permissions'],
  'nav.routes': ['Rute', 'Routes'],
  'nav.audit': ['Log Audit', 'Audit log'],
  'top.language': ['Bahasa', 'Language'],
  'top.logout': ['Keluar', 'Log out'],
  'top.loggedInAs': ['Masuk sebagai {name} ({role})', 'Signed in as {name} ({role})'],
  'common.loading': ['Memuat…', 'Loading…'],
  'common.loadMore': ['Muat lagi', 'Load more'],
  'common.cancel': ['Batal', 'Cancel'],
  'common.save': ['Simpan', 'Save'],
  'common.saving': ['Menyimpan…', 'Saving…'],
  'common.close': ['Tutup', 'Close'],
  'common.delete': ['Hapus', 'Delete'],
  'common.edit': ['Ubah', 'Edit'],
  'common.add': ['TAMBAH', 'ADD'],
  'common.all': ['semua', 'all'],
  'common.none': ['—', '—'],
  'common.actions': ['Aksi', 'Actions'],
  'common.retry': ['Coba lagi', 'Try again'],
  'common.empty': ['Tidak ada data.', 'No data.'],
  'common.requestId': ['ID permintaan: {id}', 'Request ID: {id}'],
  'common.confirm': ['Konfirmasi', 'Confirm'],
  'common.shown': ['{shown} ditampilkan', '{shown} shown'],
  'common.description': ['Deskripsi', 'Description'],
  'common.name': ['Nama', 'Name'],
  'common.created': ['Dibuat', 'Created'],
  'common.updated': ['Diubah', 'Updated'],
  'error.network': ['Tidak dapat menghubungi server. Periksa koneksi lalu coba lagi.', 'Cannot reach the server. Check the connection and try again.'],
  'error.http': ['Server menjawab dengan kesalahan HTTP {status}.', 'The server answered with HTTP error {status}.'],
  'error.badResponse': ['Jawaban server tidak dapat dibaca.', 'The server\'s answer could not be read.'],
  'error.unexpected': ['Terjadi kesalahan yang tidak terduga.', 'Something unexpected went wrong.'],
  'error.forbiddenPage': ['Anda tidak memiliki izin untuk membuka halaman ini.', 'You do not have permission to open this page.'],
  'error.notFound': ['Halaman tidak ditemukan.', 'Page not found.'],
  'login.title': ['Masuk ke Gerbang', 'Sign in to Gerbang'],
  'login.email': ['Email', 'Email'],
  'login.password': ['Kata sandi', 'Password'],
  'login.submit': ['Masuk', 'Sign in'],
  'login.submitting': ['Memproses…', 'Signing in…'],
  'login.wait': ['Coba lagi dalam {seconds} detik.', 'Try again in {seconds} seconds.'],
  'dash.title': ['Dasbor', 'Dashboard'],
  'dash.range': ['Rentang waktu', 'Time range'],
  'dash.range.1h': ['1 jam', '1 hour'],
  'dash.range.24h': ['24 jam', '24 hours'],
  'dash.totalRequests': ['Total permintaan', 'Total requests'],
  'dash.totalErrors': ['Total kesalahan', 'Total errors'],
  'dash.errorRate': ['Tingkat kesalahan', 'Error rate'],
  'dash.updated': ['Diperbarui {time} · disegarkan otomatis tiap 30 detik', 'Updated {time} · refreshes every 30 s'],
  'dash.integrations': ['Integrasi', 'Integrations'],
  'dash.noIntegrations': ['Belum ada integrasi.', 'No integrations yet.'],
  'dash.topClients': ['Klien teratas', 'Top clients'],
  'dash.noClients': ['Belum ada permintaan dari klien pada rentang ini.', 'No client requests in this range.'],
  'dash.requests': ['Permintaan', 'Requests'],
  'dash.legacy': ['Klien API manager lama yang masih memanggil minggu ini', 'Legacy clients still calling this week'],
  'dash.legacyOf': ['{calling} dari {clients} klien impor', '{calling} of {clients} imported clients'],
  'dash.legacyHint': ['Memanggil dengan kunci lama dalam 7 hari terakhir. Rotasikan ke kunci Gerbang di halaman Klien.', 'Called with their old key in the last 7 days. Rotate them to Gerbang keys on the Clients page.'],
  'dash.errors': ['Kesalahan', 'Errors'],
  'dash.health': ['Kesehatan upstream', 'Upstream health'],
  'dash.targets': ['Server upstream', 'Upstream servers'],
  'target.up': ['aktif', 'up'],
  'target.down': ['mati', 'down'],
  'routes.col.targets': ['Server upstream', 'Upstream servers'],
  'health.ok': ['sehat', 'ok'],
  'health.degraded': ['terganggu', 'degraded'],
  'health.down': ['mati', 'down'],
  'health.idle': ['tanpa lalu lintas', 'idle'],
  'chart.requests': ['permintaan/menit', 'requests/min'],
  'chart.errorRate': ['kesalahan (%)', 'errors (%)'],
  'chart.time': ['Waktu (WIB)', 'Time (WIB)'],
  'chart.aria': ['Grafik {name}: permintaan per menit dan tingkat kesalahan, {from} sampai {to}', '{name} chart: requests per minute and error rate, {from} to {to}'],
  'chart.point': ['{time}: {requests} permintaan/menit, {errors} kesalahan/menit ({rate})', '{time}: {requests} requests/min, {errors} errors/min ({rate})'],
  'chart.noData': ['Tidak ada data', 'No data'],
  'clients.title': ['Klien', 'Clients'],
  'clients.search': ['Cari klien', 'Search clients'],
  'clients.searchPlaceholder': ['Cari nama klien…', 'Search client names…'],
  'clients.total': ['{shown} ditampilkan · {total} klien seluruhnya', '{shown} shown · {total} clients in all'],
  'clients.col.name': ['Klien', 'Client'],
  'clients.col.status': ['Status', 'Status'],
  'clients.col.integrations': ['Integrasi', 'Integrations'],
  'clients.col.requestsToday': ['Permintaan hari ini', 'Requests today'],
  'clients.col.lastUsed': ['Terakhir dipakai', 'Last used'],
  'clients.status.active': ['aktif', 'active'],
  'clients.status.revoked': ['dicabut', 'revoked'],
  'clients.status.expired': ['kedaluwarsa', 'expired'],
  'clients.rotate': ['Rotasi', 'Rotate'],
  'clients.legacy': ['lama', 'legacy'],
  'clients.legacyTitle': ['Diimpor dari API manager lama (keys.id {id})', 'Imported from the old API manager (keys.id {id})'],
  'clients.legacyUntil': ['kunci lama berlaku s.d. {time}', 'old key valid until {time}'],
  'clients.legacyRotated': ['sudah dirotasi ke kunci Gerbang', 'rotated to a Gerbang key'],
  'clients.rotateLegacy': ['Rotasi ke kunci Gerbang', 'Rotate to a Gerbang key'],
  'clients.rotateLegacyTitle': ['Rotasi “{name}” ke kunci Gerbang', 'Rotate “{name}” to a Gerbang key'],
  'clients.field.grace': ['Masa tenggang kunci lama', 'Grace period of the old key'],
  'clients.field.graceHint': ['Selama masa ini kunci lama dan kunci baru sama-sama berlaku, agar aplikasi sempat diganti.', 'Both the old and the new key work during it, so the app can be updated.'],
  'clients.grace.0': ['Tanpa tenggang (kunci lama langsung berhenti)', 'None (the old key stops at once)'],
  'clients.grace.1h': ['1 jam', '1 hour'],
  'clients.grace.24h': ['24 jam', '24 hours'],
  'clients.grace.7d': ['7 hari', '7 days'],
  'clients.grace.30d': ['30 hari', '30 days'],
  'clients.revoke': ['Cabut', 'Revoke'],
  'clients.confirmRotate': ['Rotasi kunci klien “{name}”? Kunci yang lama langsung tidak berlaku lagi.', 'Rotate the key of client “{name}”? The old key stops working at once.'],
  'clients.confirmRevoke': ['Cabut klien “{name}”? Semua kunci dan tokennya langsung tidak berlaku. Tindakan ini tidak dapat dibatalkan.', 'Revoke client “{name}”? All its keys and tokens stop working at once. This cannot be undone.'],
  'clients.revoked': ['Klien “{name}” telah dicabut.', 'Client “{name}” has been revoked.'],
  'clients.expires': ['berlaku s.d. {time}', 'valid until {time}'],
  'clients.rate': ['batas {rate}', 'limit {rate}'],
  'clients.quota': ['kuota {quota}', 'quota {quota}'],
  'clients.addTitle': ['Tambah klien', 'Add client'],
  'clients.field.name': ['Klien', 'Client'],
  'clients.field.nameHint': ['Nama aplikasi atau instansi pemakai, harus unik.', 'The calling application or agency; must be unique.'],
  'clients.field.integrations': ['Integrasi yang diizinkan', 'Allowed integrations'],
  'clients.field.all': ['Semua integrasi (termasuk yang ditambahkan nanti)', 'All integrations (including ones added later)'],
  'clients.field.rateLimit': ['Batas laju (opsional)', 'Rate limit (optional)'],
  'clients.field.rateLimitHint': ['Contoh 100/1m: 100 permintaan per menit. Satuan ms, s, m, h, d.', 'e.g. 100/1m: 100 requests per minute. Units ms, s, m, h, d.'],
  'clients.field.expiresAt': ['Kedaluwarsa (opsional)', 'Expires (optional)'],
  'clients.field.expiresAtHint': ['Kunci berlaku sampai akhir hari itu (23:59:59 WIB).', 'The key works until the end of that day (23:59:59 WIB).'],
  'clients.err.integrations': ['Pilih minimal satu integrasi, atau “semua”.', 'Choose at least one integration, or “all”.'],
  'clients.err.rateLimit': ['Batas laju harus berbentuk jumlah/durasi, misalnya 100/1m.', 'The rate limit must look like count/duration, e.g. 100/1m.'],
  'clients.noIntegrations': ['Daftar integrasi tidak dapat dimuat: {detail}', 'Could not load the integrations: {detail}'],
  'key.title': ['Kunci API baru', 'New API key'],
  'key.for': ['Kunci untuk klien “{name}”:', 'Key for client “{name}”:'],
  'key.warning': ['Simpan kunci ini sekarang di tempat yang aman. Kunci ini tidak akan ditampilkan lagi.', 'Store this key somewhere safe now. It will not be shown again.'],
  'key.copy': ['Salin', 'Copy'],
  'key.copied': ['Kunci tersalin ke papan klip.', 'Key copied to the clipboard.'],
  'key.copyFallback': ['Kunci sudah dipilih; tekan Ctrl+C (⌘C) untuk menyalin.', 'The key is selected; press Ctrl+C (⌘C) to copy it.'],
  'key.done': ['Saya sudah menyimpannya', 'I have stored it'],
  'users.title': ['Pengguna', 'Users'],
  'users.email': ['Email', 'Email'],
  'users.role': ['Peran', 'Role'],
  'users.you': ['(Anda)', '(you)'],
  'users.addTitle': ['Tambah pengguna', 'Add user'],
  'users.editTitle': ['Ubah pengguna {email}', 'Edit user {email}'],
  'users.resetTitle': ['Atur ulang kata sandi {email}', 'Reset the password of {email}'],
  'users.reset': ['Atur ulang sandi', 'Reset password'],
  'users.password': ['Kata sandi', 'Password'],
  'users.newPassword': ['Kata sandi baru', 'New password'],
  'users.passwordConfirm': ['Ulangi kata sandi', 'Repeat the password'],
  'users.passwordHint': ['Minimal 12 karakter.', 'At least 12 characters.'],
  'users.err.short': ['Kata sandi minimal 12 karakter.', 'The password needs at least 12 characters.'],
  'users.err.mismatch': ['Kedua kata sandi tidak sama.', 'The two passwords differ.'],
  'users.confirmDelete': ['Hapus pengguna {email}? Ia tidak dapat masuk lagi.', 'Delete user {email}? They will no longer be able to sign in.'],
  'users.saved': ['Pengguna {email} tersimpan.', 'User {email} saved.'],
  'users.passwordSaved': ['Kata sandi {email} telah diganti.', 'The password of {email} has been changed.'],
  'users.deleted': ['Pengguna {email} telah dihapus.', 'User {email} has been deleted.'],
  'roles.title': ['Peran & Izin', 'Roles & permissions'],
  'roles.builtIn': ['bawaan', 'built-in'],
  'roles.custom': ['kustom', 'custom'],
  'roles.builtInNote': ['Peran bawaan tidak dapat diubah atau dihapus.', 'Built-in roles cannot be changed or deleted.'],
  'roles.permissions': ['Izin', 'Permissions'],
  'roles.matrix': ['Matriks peran × izin', 'Role × permission matrix'],
  'roles.has': ['punya', 'has'],
  'roles.hasNot': ['tidak punya', 'does not have'],
  'roles.addTitle': ['Tambah peran', 'Add role'],
  'roles.editTitle': ['Ubah peran {name}', 'Edit role {name}'],
  'roles.nameHint': ['2–40 karakter: huruf kecil, angka dan tanda hubung, diawali huruf; misalnya petugas-opd.', '2–40 characters: lower-case letters, digits and hyphens, starting with a letter; e.g. opd-officer.'],
  'roles.confirmDelete': ['Hapus peran {name}?', 'Delete role {name}?'],
  'roles.saved': ['Peran {name} tersimpan.', 'Role {name} saved.'],
  'roles.deleted': ['Peran {name} telah dihapus.', 'Role {name} has been deleted.'],
  'roles.list': ['Daftar peran', 'Roles'],
  'roles.err.name': ['Nama peran tidak sah.', 'The role name is not valid.'],
  'perm.clients:read': ['Melihat klien dan kuncinya', 'View clients and their keys'],
  'perm.clients:write': ['Membuat, merotasi dan mencabut klien', 'Create, rotate and revoke clients'],
  'perm.users:read': ['Melihat pengguna dan peran', 'View users and roles'],
  'perm.users:write': ['Mengelola pengguna', 'Manage users'],
  'perm.roles:write': ['Mengelola peran', 'Manage roles'],
  'perm.audit:read': ['Membaca log audit', 'Read the audit log'],
  'perm.routes:read': ['Melihat konfigurasi rute', 'View the route configuration'],
  'routes.title': ['Rute', 'Routes'],
  'routes.file': ['Berkas', 'File'],
  'routes.lastReload': ['Pemuatan terakhir', 'Last load'],
  'routes.ok': ['berhasil', 'succeeded'],
  'routes.failed': ['gagal', 'failed'],
  'routes.problems': ['Masalah', 'Problems'],
  'routes.added': ['Ditambah', 'Added'],
  'routes.removed': ['Dihapus', 'Removed'],
  'routes.changed': ['Diubah', 'Changed'],
  'routes.integrations': ['Integrasi yang dimuat', 'Loaded integrations'],
  'routes.prefix': ['Prefiks', 'Prefix'],
  'routes.upstream': ['Upstream', 'Upstream'],
  'routes.methods': ['Metode', 'Methods'],
  'routes.auth': ['Autentikasi', 'Authentication'],
  'routes.timeout': ['Batas waktu', 'Timeout'],
  'routes.rateLimit': ['Batas laju', 'Rate limit'],
  'routes.cors': ['CORS (asal peramban)', 'CORS (browser origins)'],
  'routes.corsCredentials': ['dengan kredensial', 'with credentials'],
  'routes.idleTimeout': ['Batas diam (idleTimeout)', 'Idle timeout'],
  'routes.websocket': ['WebSocket', 'WebSocket'],
  'routes.websocketYes': ['diterima', 'accepted'],
  'routes.yaml': ['Isi {file}', 'Contents of {file}'],
  'audit.title': ['Log Audit', 'Audit log'],
  'audit.at': ['Waktu', 'Time'],
  'audit.actor': ['Pelaku', 'Actor'],
  'audit.action': ['Tindakan', 'Action'],
  'audit.target': ['Target', 'Target'],
  'audit.details': ['Rincian', 'Details'],
  'audit.action.client.create': ['Membuat klien', 'Created a client'],
  'audit.action.client.update': ['Mengubah klien', 'Changed a client'],
  'audit.action.client.revoke': ['Mencabut klien', 'Revoked a client'],
  'audit.action.client.rotate': ['Merotasi kunci', 'Rotated a key'],
  'audit.action.client.delete': ['Menghapus klien', 'Deleted a client'],
  'audit.action.client.import': ['Mengimpor klien API manager lama', 'Imported legacy clients'],
  'audit.action.user.create': ['Menambah pengguna', 'Added a user'],
  'audit.action.user.update': ['Mengubah pengguna', 'Changed a user'],
  'audit.action.user.delete': ['Menghapus pengguna', 'Deleted a user'],
  'audit.action.role.create': ['Menambah peran', 'Added a role'],
  'audit.action.role.update': ['Mengubah peran', 'Changed a role'],
  'audit.action.role.delete': ['Menghapus peran', 'Deleted a role'],
  'audit.action.session.login': ['Masuk', 'Signed in'],
  'audit.action.session.loginFailed': ['Gagal masuk', 'Failed sign-in'],
  'audit.action.session.lockout': ['Masuk diblokir sementara', 'Sign-in locked out'],
  'audit.target.client': ['klien', 'client'],
  'audit.target.user': ['pengguna', 'user'],
  'audit.target.role': ['peran', 'role'],
  'audit.target.session': ['sesi', 'session'],
  'audit.detail.address': ['Alamat asal', 'Source address'],
  'audit.detail.seconds': ['Lama blokir', 'Locked for'],
  'audit.detail.graceMs': ['Masa tenggang', 'Grace period'],
  'audit.detail.integrations': ['Integrasi', 'Integrations'],
  'audit.detail.rateLimit': ['Batas laju', 'Rate limit'],
  'audit.detail.quota': ['Kuota', 'Quota'],
  'audit.detail.expiresAt': ['Kedaluwarsa', 'Expires'],
  'audit.detail.description': ['Deskripsi', 'Description'],
  'audit.detail.allowedIps': ['IP yang diizinkan', 'Allowed IPs'],
  'audit.detail.role': ['Peran', 'Role'],
  'audit.detail.permissions': ['Izin', 'Permissions'],
  'audit.noHistory': ['Belum ada riwayat untuk klien ini.', 'No history for this client yet.'],
  'problem.BAD_REQUEST': ['Permintaan tidak sah. Periksa isian lalu coba lagi.', 'The request is not valid. Check the fields and try again.'],
  'problem.CREDENTIALS_MISSING': ['Kunci API atau token tidak dikirim.', 'No API key or token was sent.'],
  'problem.CREDENTIALS_INVALID': ['Kunci API atau token tidak dikenal, dicabut atau kedaluwarsa.', 'The API key or token is unknown, revoked or expired.'],
  'problem.INTEGRATION_FORBIDDEN': ['Klien ini tidak diberi akses ke integrasi tersebut.', 'This client is not granted that integration.'],
  'problem.CORS_ORIGIN_FORBIDDEN': ['Asal peramban ini tidak diizinkan.', 'This browser origin is not allowed.'],
  'problem.ROUTE_NOT_FOUND': ['Tidak ada integrasi yang melayani jalur ini.', 'No integration serves this path.'],
  'problem.METHOD_NOT_ALLOWED': ['Metode HTTP ini tidak diizinkan.', 'This HTTP method is not allowed.'],
  'problem.REQUEST_TIMEOUT': ['Permintaan terlalu lama dikirim. Coba lagi.', 'The request took too long to arrive. Try again.'],
  'problem.PAYLOAD_TOO_LARGE': ['Isi permintaan terlalu besar.', 'The request body is too large.'],
  'problem.UNSUPPORTED_MEDIA_TYPE': ['Jenis isi permintaan tidak didukung.', 'The request\'s content type is not supported.'],
  'problem.RATE_LIMITED': ['Terlalu banyak percobaan. Coba lagi dalam {wait}.', 'Too many attempts. Try again in {wait}.'],
  'problem.HEADERS_TOO_LARGE': ['Header permintaan terlalu besar.', 'The request headers are too large.'],
  'problem.NOT_READY': ['Gateway belum siap. Coba lagi sebentar lagi.', 'The gateway is not ready yet. Try again shortly.'],
  'problem.SESSION_REQUIRED': ['Sesi Anda telah berakhir. Silakan masuk lagi.', 'Your session has ended. Please sign in again.'],
  'problem.LOGIN_FAILED': ['Email atau kata sandi salah.', 'The email or the password is wrong.'],
  'problem.CSRF_INVALID': ['Halaman ini kedaluwarsa. Muat ulang halaman lalu coba lagi.', 'This page has expired. Reload it and try again.'],
  'problem.PERMISSION_DENIED': ['Peran Anda tidak memiliki izin untuk tindakan ini.', 'Your role does not have permission for this.'],
  'problem.NOT_FOUND': ['Data yang dicari tidak ditemukan; mungkin sudah dihapus.', 'What you looked for was not found; it may have been deleted.'],
  'problem.CONFLICT': ['Tidak dapat dilakukan karena bertentangan dengan data yang ada.', 'This conflicts with the existing data.'],
  'problem.INTERNAL_ERROR': ['Terjadi kesalahan di server. Coba lagi; bila berulang, hubungi pengelola.', 'The server failed. Try again; if it persists, contact the operators.'],
  'problem.SHUTTING_DOWN': ['Gateway sedang dimatikan ulang. Coba lagi sebentar lagi.', 'The gateway is restarting. Try again shortly.'],
  'problem.OVERLOADED': ['Gateway sedang sibuk. Coba lagi sebentar lagi.', 'The gateway is busy. Try again shortly.'],
  'problem.STORE_UNAVAILABLE': ['Penyimpanan data gateway sedang tidak dapat dihubungi. Data yang tersimpan aman; coba lagi sebentar lagi.', 'The gateway\'s store cannot be reached. Stored data is safe; try again shortly.'],
  'problem.UPSTREAM_UNAVAILABLE': ['Layanan hulu tidak dapat dihubungi.', 'The upstream service cannot be reached.'],
  'problem.UPSTREAM_ERROR': ['Layanan hulu menjawab dengan kesalahan.', 'The upstream service answered with an error.'],
  'problem.UPSTREAM_AUTH_FAILED': ['Gateway gagal masuk ke layanan hulu.', 'The gateway could not sign in to the upstream service.'],
  'problem.UPSTREAM_CIRCUIT_OPEN': ['Layanan hulu sedang dihentikan sementara karena sering gagal.', 'Calls to the upstream are paused because it keeps failing.'],
  'problem.UPSTREAM_TIMEOUT': ['Layanan hulu tidak menjawab tepat waktu.', 'The upstream service did not answer in time.'],
  'duration.seconds': ['{n} detik', '{n} seconds'],
  'duration.second': ['{n} detik', '{n} second'],
  'duration.minutes': ['{n} menit', '{n} minutes'],
  'duration.minute': ['{n} menit', '{n} minute'],
  'duration.hours': ['{n} jam', '{n} hours'],
  'duration.hour': ['{n} jam', '{n} hour'],
  'duration.days': ['{n} hari', '{n} days'],
  'duration.day': ['{n} hari', '{n} day'],
  'duration.and': ['{a} {b}', '{a} {b}'],
  'valid.summary': ['Periksa isian yang ditandai: {fields}.', 'Check the marked fields: {fields}.'],
  'valid.required': ['Wajib diisi.', 'Required.'],
  'valid.tooLong': ['Paling banyak {max} karakter.', 'At most {max} characters.'],
  'valid.tooShort': ['Paling sedikit {min} karakter.', 'At least {min} characters.'],
  'valid.email': ['Alamat email tidak sah, contoh nama@bantenprov.go.id.', 'Not a valid email address, e.g. name@bantenprov.go.id.'],
  'valid.pattern': ['Bentuknya tidak sesuai.', 'This does not have the expected form.'],
  'valid.date': ['Tanggal tidak sah atau sudah lewat.', 'The date is not valid or has passed.'],
  'valid.ips': ['Setiap baris harus alamat IP atau CIDR, misalnya 10.20.0.0/16.', 'Each line must be an IP address or CIDR, e.g. 10.20.0.0/16.'],
  'store.down': ['Penyimpanan data gateway sedang tidak dapat dihubungi. Menu dan halaman yang tidak memerlukannya tetap bisa dipakai; perubahan belum dapat disimpan. Gateway tetap melayani kunci yang sudah dikenalnya.', 'The gateway\'s store cannot be reached. The menu and pages that do not need it keep working; changes cannot be saved yet. The gateway keeps serving the keys it knows.'],
  'store.back': ['Penyimpanan data tersambung kembali.', 'The store is back.'],
  'reauth.title': ['Sesi berakhir — masuk lagi', 'Session ended — sign in again'],
  'reauth.intro': ['Sesi Anda berakhir. Masuk lagi untuk melanjutkan; isian formulir Anda tetap tersimpan di halaman ini.', 'Your session has ended. Sign in again to continue; what you typed stays on this page.'],
  'reauth.submit': ['Masuk dan lanjutkan', 'Sign in and continue'],
  'reauth.cancel': ['Ke halaman masuk', 'Go to the sign-in page'],
  'copy.copy': ['Salin', 'Copy'],
  'copy.copied': ['Tersalin.', 'Copied.'],
  'copy.label': ['Salin {what}', 'Copy {what}'],
  'copy.fallback': ['Teks sudah dipilih; tekan Ctrl+C (⌘C) untuk menyalin.', 'The text is selected; press Ctrl+C (⌘C) to copy it.'],
  'client.id': ['ID klien (client_id)', 'Client ID (client_id)'],
  'client.idShort': ['ID', 'ID'],
  'client.keyHint': ['Kunci', 'Key'],
  'client.open': ['Buka {name}', 'Open {name}'],
  'client.back': ['← Semua klien', '← All clients'],
  'client.details': ['Rincian', 'Details'],
  'client.edit': ['Ubah pengaturan', 'Change settings'],
  'client.saved': ['Perubahan klien “{name}” tersimpan.', 'Changes to client “{name}” saved.'],
  'client.traffic': ['Lalu lintas 24 jam terakhir', 'Traffic in the last 24 hours'],
  'client.history': ['Riwayat', 'History'],
  'client.delete': ['Hapus klien', 'Delete client'],
  'client.confirmDelete': ['Hapus klien “{name}” untuk selamanya? Riwayatnya tetap ada di log audit.', 'Delete client “{name}” for good? Its history stays in the audit log.'],
  'client.deleted': ['Klien “{name}” telah dihapus.', 'Client “{name}” has been deleted.'],
  'client.revokedNote': ['Klien ini sudah dicabut: pengaturannya tidak dapat diubah lagi.', 'This client is revoked: its settings can no longer be changed.'],
  'client.field.quota': ['Kuota (opsional)', 'Quota (optional)'],
  'client.field.quotaHint': ['Contoh 10000/1d: 10.000 permintaan per hari di semua integrasi.', 'e.g. 10000/1d: 10,000 requests a day across all integrations.'],
  'client.field.allowedIps': ['IP yang diizinkan (opsional)', 'Allowed IPs (optional)'],
  'client.field.allowedIpsHint': ['Satu alamat IP atau CIDR per baris. Kosong: dari mana saja.', 'One IP address or CIDR per line. Empty: from anywhere.'],
  'client.noLimit': ['batas integrasi', 'the integration\'s limit'],
  'client.never': ['tidak pernah', 'never'],
  'clients.grace.now': ['Sekarang (kunci lama langsung berhenti)', 'Now (the old key stops at once)'],
  'clients.rotateTitle': ['Rotasi kunci “{name}”', 'Rotate the key of “{name}”'],
  'clients.rotateIntro': ['Klien mendapat kunci baru. Pilih berapa lama kunci lama masih berlaku, agar aplikasinya sempat diganti tanpa gangguan.', 'The client gets a new key. Choose how long the old key keeps working, so the app can be updated without an outage.'],
  'clients.err.nameTaken': ['Nama klien ini sudah dipakai. Pilih nama lain.', 'This client name is taken. Choose another.'],
  'clients.delete': ['Hapus', 'Delete'],
  'key.id': ['ID klien (untuk client_id):', 'Client ID (for client_id):'],
  'key.key': ['Kunci API:', 'API key:'],
  'key.examples': ['Contoh pemanggilan', 'Example calls'],
  'key.exampleKey': ['Dengan header x-api-key:', 'With the x-api-key header:'],
  'key.exampleToken': ['Atau minta token (seperti SATUSEHAT), lalu kirim di Authorization:', 'Or request a token (as with SATUSEHAT), then send it in Authorization:'],
  'key.copyId': ['Salin ID', 'Copy ID'],
  'key.copyCurl': ['Salin contoh', 'Copy example'],
  'dash.range.7d': ['7 hari', '7 days'],
  'dash.ok': ['Berhasil (2xx)', 'Succeeded (2xx)'],
  'dash.clientErrors': ['Ditolak (4xx)', 'Refused (4xx)'],
  'dash.serverErrors': ['Kesalahan server (5xx)', 'Server errors (5xx)'],
  'dash.unauthorized': ['401 tanpa kunci sah', '401 no valid key'],
  'dash.forbidden': ['403 tanpa izin', '403 not granted'],
  'dash.rateLimited': ['429 batas laju', '429 rate limited'],
  'dash.latency': ['Latensi p50 / p95', 'Latency p50 / p95'],
  'dash.latencyValue': ['≤ {p50} / ≤ {p95}', '≤ {p50} / ≤ {p95}'],
  'dash.breaker': ['Pemutus sirkuit', 'Circuit breaker'],
  'breaker.closed': ['normal', 'closed'],
  'breaker.open': ['terbuka (panggilan dihentikan)', 'open (calls paused)'],
  'breaker.half-open': ['mencoba lagi', 'half-open'],
  'breaker.off': ['tidak aktif', 'off'],
  'dash.export': ['Unduh CSV', 'Download CSV'],
  'dash.exported': ['Lalu lintas diunduh sebagai CSV.', 'Traffic downloaded as CSV.'],
  'dash.classesHint': ['Kesalahan server (5xx) menentukan kesehatan upstream; penolakan 4xx adalah kesalahan pemanggil (kunci, izin, batas laju).', 'Server errors (5xx) decide upstream health; 4xx refusals are the callers\' own (keys, grants, limits).'],
  'chart.rejected': ['ditolak/menit', 'refused/min'],
  'chart.pointFull': ['{time}: {requests} permintaan/menit · {rejected} ditolak (4xx) · {errors} kesalahan (5xx, {rate})', '{time}: {requests} requests/min · {rejected} refused (4xx) · {errors} errors (5xx, {rate})'],
  'chart.hint': ['Arahkan kursor atau gunakan tombol panah pada grafik untuk melihat angkanya.', 'Hover, or use the arrow keys on the chart, to read its numbers.'],
  ms: ['{n} md', '{n} ms']
} satisfies Record<string, [id: string, en: string]>

/** Every key and its two texts, for the completeness test (test/admin/i18n.test.ts). */
export function allStrings (): Array<[string, string, string]> {
  return Object.entries(STRINGS).map(([key, [id, en]]) => [key, id, en])
}

export type Key = keyof typeof STRINGS

export type Lang = 'id' | 'en'
const STORAGE_KEY = 'gerbang.lang'

function readLang (): Lang {
  try {
    return localStorage.getItem(STORAGE_KEY) === 'en' ? 'en' : 'id'
  } catch {
    return 'id'
  }
}

let current: Lang = readLang()

export function lang (): Lang {
  return current
}

export function setLang (next: Lang): void {
  current = next
  try {
    localStorage.setItem(STORAGE_KEY, next)
  } catch {
    // Private mode or storage disabled: the choice lasts until the page reloads.
  }
  document.documentElement.lang = next
}

/** The text for key in the current language, with `{name}` placeholders filled in. */
export function t (key: Key, params?: Record<string, string | number>): string {
  const text = STRINGS[key][current === 'id' ? 0 : 1]
  if (params === undefined) return text
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = params[name]
    return value === undefined ? whole : String(value)
  })
}

/** A translation when the key exists (e.g. `perm.<permission>`), undefined otherwise. */
export function tMaybe (key: string): string | undefined {
  return (STRINGS as Record<string, [string, string] | undefined>)[key]?.[current === 'id' ? 0 : 1]
}

const JAKARTA = 'Asia/Jakarta'
const PARTS = new Intl.DateTimeFormat('en-US', {
  timeZone: JAKARTA,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23'
})

function jakartaParts (date: Date): Record<string, string> {
  const out: Record<string, string> = {}
  for (const part of PARTS.formatToParts(date)) out[part.type] = part.value
  return out
}

function parse (iso: string | number | Date): Date | undefined {
  const date = iso instanceof Date ? iso : new Date(iso)
  return Number.isNaN(date.getTime()) ? undefined : date
}

/** `2026-11-21 17:10:58 WIB` (ISO 8601 order, Jakarta time). */
export function formatDateTime (iso: string | number | Date): string {
  const date = parse(iso)
  if (date === undefined) return String(iso)
  const p = jakartaParts(date)
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second} WIB`
}

/** `17:10` in Jakarta, for chart axes. */
export function formatClock (iso: string | number | Date): string {
  const date = parse(iso)
  if (date === undefined) return ''
  const p = jakartaParts(date)
  return `${p.hour}:${p.minute}`
}

/** `YYYY-MM-DD` of today in Jakarta, for date inputs. */
export function jakartaToday (): string {
  const p = jakartaParts(new Date())
  return `${p.year}-${p.month}-${p.day}`
}

/** The UTC ISO string of 23:59:59 WIB on a `YYYY-MM-DD` date. */
export function endOfJakartaDay (date: string): string | undefined {
  const parsed = parse(`${date}T23:59:59+07:00`)
  return parsed?.toISOString()
}

export function formatNumber (n: number, maxFractionDigits = 0): string {
  return new Intl.NumberFormat(current === 'id' ? 'id-ID' : 'en-US', { maximumFractionDigits: maxFractionDigits }).format(n)
}

/** A duration in words, rounded up: `30 detik`, `15 menit` (895 s), `1 jam 5 menit`, `7 hari`. */
export function formatDuration (seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds))
  const one = (n: number, unit: 'day' | 'hour' | 'minute' | 'second'): string =>
    t(n === 1 ? `duration.${unit}` : `duration.${unit}s`, { n: formatNumber(n) })
  if (s < 60) return one(s, 'second')
  if (s < 3600) return one(Math.ceil(s / 60), 'minute')
  const big = s < 86_400 ? 3600 : 86_400
  const small = big === 3600 ? 60 : 3600
  const n = Math.floor(s / big)
  const rest = Math.ceil((s - n * big) / small)
  const first = one(n, big === 3600 ? 'hour' : 'day')
  return rest === 0 ? first : t('duration.and', { a: first, b: one(rest, big === 3600 ? 'minute' : 'hour') })
}

/** Milliseconds as `250 md` / `2,5 s`. */
export function formatMs (ms: number): string {
  return ms < 1000 ? t('ms', { n: formatNumber(ms) }) : `${formatNumber(ms / 1000, 1)} s`
}

/** 0..1 as a percentage, e.g. `1,5%`. */
export function formatPercent (ratio: number): string {
  return new Intl.NumberFormat(current === 'id' ? 'id-ID' : 'en-US', { style: 'percent', maximumFractionDigits: 2 }).format(ratio)
}
