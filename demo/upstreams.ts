// Sample upstreams for the demo: one small HTTP server per integration that
// answers the way the province's real services do, with
// invented but plausible Banten data. No real person's data appears here.
// Each service is in demo/upstreams/.
import { bpjs } from './upstreams/bpjs.js'
import { dashboard } from './upstreams/dashboard.js'
import { otorisasi } from './upstreams/otorisasi.js'
import { satuData } from './upstreams/satu-data.js'
import { serve, type Running, type Service } from './upstreams/service.js'
import { yankes } from './upstreams/yankes.js'

/** The sample upstreams, keyed by the integration names in routes.yaml. */
const DEMO_SERVICES: Readonly<Record<string, Service>> = {
  yankes,
  'satu-data': satuData,
  dashboard,
  otorisasi,
  bpjs
}

/**
 * Starts every sample upstream on `host` and a free port. `origins[name]` is
 * the upstream URL for routes.yaml, base path included.
 */
export async function startDemoUpstreams (host = '127.0.0.1'): Promise<{ origins: Record<string, string>, close: () => Promise<void> }> {
  const running: Running[] = []
  const close = async (): Promise<void> => {
    await Promise.all(running.map(async (r) => { await r.close() }))
  }
  try {
    for (const service of Object.values(DEMO_SERVICES)) running.push(await serve(service, host))
  } catch (err) {
    await close()
    throw err
  }
  const names = Object.keys(DEMO_SERVICES)
  return {
    origins: Object.fromEntries(names.map((name, i) => [name, (running[i] as Running).origin])),
    close
  }
}
