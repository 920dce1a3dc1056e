// The SQLite schema of the embedded store (src/store/disk-store.ts). Existing
// files are opened by this code when people upgrade in place: a table or an
// index is only ever added (CREATE … IF NOT EXISTS, at every opening), never
// changed; a change that needs more must raise SCHEMA_VERSION and migrate.

/** The schema this code writes; a file with a newer one is refused. */
export const SCHEMA_VERSION = 1

/** gerbang.db: what must never be lost (synchronous=FULL). */
export const DATA_SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS clients (
  id TEXT PRIMARY KEY,
  name_lower TEXT NOT NULL UNIQUE,
  json TEXT NOT NULL,
  last_used TEXT
);
CREATE TABLE IF NOT EXISTS keys (hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, expires_at INTEGER) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS keys_by_client ON keys (client_id);
CREATE TABLE IF NOT EXISTS tokens (hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, key_hash TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tokens_by_expiry ON tokens (expires_at);
CREATE TABLE IF NOT EXISTS legacy_clients (id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS legacy_key_lengths (length INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS users (email_lower TEXT PRIMARY KEY, json TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS roles (name TEXT PRIMARY KEY, json TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sessions (hash TEXT PRIMARY KEY, json TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions (expires_at);
CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS buckets (bucket TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS buckets_by_expiry ON buckets (expires_at);
CREATE TABLE IF NOT EXISTS counters (bucket TEXT NOT NULL, field TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (bucket, field)) WITHOUT ROWID;
`

// The key-request queue (src/store/disk/key-requests.ts), in gerbang.db
// (synchronous=FULL: an acknowledged request or decision survives a crash).
// The columns beside the JSON are what the queries need: status and time for
// the lists, the link hash for opening a link. A new table in an existing
// file needs no schema version: CREATE TABLE IF NOT EXISTS adds it at the
// next start, and an older Gerbang ignores it.
export const KEY_REQUESTS_SCHEMA = `
CREATE TABLE IF NOT EXISTS key_requests (
  id TEXT PRIMARY KEY,
  created_ms INTEGER NOT NULL,
  status TEXT NOT NULL,
  link_hash TEXT,
  json TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS key_requests_by_time ON key_requests (created_ms, id);
CREATE INDEX IF NOT EXISTS key_requests_by_status ON key_requests (status, created_ms, id);
CREATE INDEX IF NOT EXISTS key_requests_by_link ON key_requests (link_hash) WHERE link_hash IS NOT NULL;
`

/** runtime.db: what lives only while gateways run (synchronous=NORMAL; rebuilt when unreadable). */
export const RUNTIME_SCHEMA = `
CREATE TABLE IF NOT EXISTS windows (name TEXT PRIMARY KEY, count INTEGER NOT NULL, reset_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS windows_by_reset ON windows (reset_at);
CREATE TABLE IF NOT EXISTS processes (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, change TEXT NOT NULL, at INTEGER NOT NULL);
`

/** The tables of gerbang.db. */
export type DataTable = 'clients' | 'keys' | 'tokens' | 'users' | 'roles' | 'sessions' | 'audit' | 'legacy_clients' |
  'legacy_key_lengths' | 'buckets' | 'counters' | 'key_requests'
