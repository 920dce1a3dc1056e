// The shapes of the admin JSON API (/admin/api).

export type Permission =
  'clients:read' | 'clients:write' | 'users:read' | 'users:write' | 'roles:write' | 'audit:read' | 'routes:read'

export interface SessionInfo {
  user: { email: string, name: string, role: string }
  permissions: string[]
  csrfToken: string
}

export type HealthStatus = 'ok' | 'degraded' | 'down' | 'idle'

export interface DashboardPoint {
  t: string
  /** Per minute. */
  requests: number
  /** 5xx per minute. */
  errors: number
  /** 4xx per minute. */
  rejected?: number
}

/** Answers by status class (src/analytics/traffic-report.ts). */
export interface StatusClasses {
  ok: number
  clientErrors: number
  serverErrors: number
  unauthorized: number
  forbidden: number
  rateLimited: number
}

export interface Latency {
  p50: number | null
  p95: number | null
}

export interface ClientTraffic {
  requests: number
  classes: StatusClasses
  latency: Latency
  points: Array<{ t: string, requests: number, clientErrors: number, serverErrors: number }>
}

export interface DashboardIntegration {
  name: string
  description: string
  totals: { requests: number, errors: number, errorRate: number }
  classes: StatusClasses
  latency: Latency
  /** closed, open, half-open or off */
  breaker: string
  health: { status: HealthStatus, requests: number, errors: number }
  /** Upstream targets and whether each takes requests now. */
  targets: Array<{ target: string, weight: number, state: 'up' | 'down', reason?: string }>
  points: DashboardPoint[]
}

export interface Dashboard {
  range: '1h' | '24h' | '7d'
  generatedAt: string
  stepSeconds: number
  totals: { requests: number, errors: number }
  classes: StatusClasses
  integrations: DashboardIntegration[]
  topClients: Array<{ id: string, name: string, requests: number, classes: StatusClasses, latency: Latency }>
  /**
   * The switch-over from the old API manager: clients imported, and how many still call with their old key this week.
   */
  legacy?: { clients: number, callingThisWeek: number }
}

export interface Integration {
  name: string
  description: string
}

export type ClientStatus = 'active' | 'revoked' | 'expired'

export interface Client {
  id: string
  name: string
  description?: string
  integrations: string[] | '*'
  rateLimit?: string
  quota?: string
  expiresAt?: string
  createdAt: string
  revokedAt?: string
  lastUsedAt?: string
  /** Imported from the old API manager. */
  legacy?: { id: string, importedAt: string, rotatedAt?: string, oldKeyUntil?: string }
  /** The last 4 characters of its newest key. */
  keyHint?: string
  allowedIps?: string[]
  status: ClientStatus
  requestsToday: number
}

export interface Page<T> {
  items: T[]
  hasMore: boolean
}

export interface ClientList extends Page<Client> {
  total: number
}

export interface ClientWithKey {
  client: Client
  key: string
}

export interface User {
  email: string
  name: string
  role: string
  createdAt: string
  updatedAt?: string
}

export interface Role {
  name: string
  description: string
  permissions: string[]
  builtIn: boolean
}

export interface RoleList {
  items: Role[]
  permissions: string[]
}

export interface RouteIntegration {
  name: string
  prefix: string
  upstream: string
  targets: Array<{ url: string, weight: number, state: 'up' | 'down' }>
  healthCheck: { path: string, intervalMs: number } | null
  methods: string[] | null
  auth: string
  timeoutMs: number
  rateLimit: string
  description: string
  /** The browser origins its cors: allows; null: none. */
  cors: { origins: string[], credentials: boolean } | null
  /** Accepts WebSocket upgrades (websocket: true). */
  websocket: boolean
  /** Longest silence between two chunks of an answer, or two WebSocket messages. */
  idleTimeoutMs: number
}

export interface RoutesInfo {
  file: string
  yaml: string
  lastReload: { at: string, ok: boolean, problems: string[], added?: string[], removed?: string[], changed?: string[] }
  integrations: RouteIntegration[]
}

export interface AuditEntry {
  at: string
  actor: string
  action: string
  targetType: string
  targetId: string
  targetName: string
  details?: Record<string, unknown>
}

/** What the router hands to each page. */
export interface PageContext {
  /** The page's area; the page owns its children. */
  root: HTMLElement
  session: SessionInfo
  can: (permission: Permission) => boolean
  /** Aborted when the user leaves the page: stop timers, drop late answers. */
  signal: AbortSignal
  navigate: (url: string) => void
}
