// The routes page (/admin/routes): the loaded routes.yaml and its last reload: [Bahasa Indonesia, English]; i18n.ts
// adds them to the UI's texts.

export const ROUTES_STRINGS = {
  'routes.col.targets': ['Server upstream', 'Upstream servers'],
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
  'routes.yaml': ['Isi {file}', 'Contents of {file}']
} satisfies Record<string, [id: string, en: string]>
