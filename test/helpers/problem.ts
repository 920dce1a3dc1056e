/** A problem document as CONTRACT.md section 6 has it, with the extension members tests look at. */
export interface Problem {
  type: string
  title: string
  status: number
  code: string
  detail: string
  instance: string
  requestId: string
  timestamp: string
  upstreamStatus?: number
  violatedPolicies?: unknown
  /** The integration plugin that failed (UPSTREAM_AUTH_FAILED and plugin timeouts). */
  plugin?: string
}
