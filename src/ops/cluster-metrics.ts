import cluster, { type Worker } from 'node:cluster'
import { AggregatorRegistry, type PrometheusContentType, type Registry } from 'prom-client'

// One /metrics for the whole instance (docs/contract.md section 11): with
// `gerbang start --workers N`, whichever worker a scrape reaches asks the
// primary, which collects every worker's registry over the cluster's IPC
// channel (prom-client's AggregatorRegistry) and answers with the merge:
// counters and histograms summed, gauges by their own `aggregator` (a
// breaker's state the worst, the store's health the least).

const SCRAPE_REQUEST = 'gerbang:metrics-scrape'
const SCRAPE_ANSWER = 'gerbang:metrics-scraped'
/** prom-client gives up on a silent worker after 5 s; the worker waits a little longer for the primary. */
const SCRAPE_TIMEOUT_MS = 6_000

interface ScrapeRequest { type: typeof SCRAPE_REQUEST, id: number }
interface ScrapeAnswer { type: typeof SCRAPE_ANSWER, id: number, text?: string, error?: string }

const isMessage = <T extends { type: string }>(message: unknown, type: T['type']): message is T =>
  typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type

/** In the primary: answers workers' scrapes with the sum over all workers. */
export function serveClusterMetrics (): void {
  const aggregator = new AggregatorRegistry()
  cluster.on('message', (worker: Worker, message: unknown) => {
    if (!isMessage<ScrapeRequest>(message, SCRAPE_REQUEST)) return
    aggregator.clusterMetrics().then((text) => {
      worker.send({ type: SCRAPE_ANSWER, id: message.id, text } satisfies ScrapeAnswer)
    }, (err: unknown) => {
      worker.send({ type: SCRAPE_ANSWER, id: message.id, error: (err as Error).message } satisfies ScrapeAnswer)
    })
  })
}

let workerAnswers: AggregatorRegistry<PrometheusContentType> | undefined
let nextId = 0
const pending = new Map<number,
  { resolve: (text: string) => void, reject: (err: Error) => void, timer: NodeJS.Timeout }>()
let listening = false

/**
 * In a worker: offers this registry to the primary's aggregation, and returns
 * the function a scrape calls; undefined outside a cluster worker.
 */
export function clusterScraper (registry: Registry): (() => Promise<string>) | undefined {
  if (!cluster.isWorker) return undefined
  // Its constructor installs the worker's answer to the primary's requests.
  workerAnswers ??= new AggregatorRegistry()
  AggregatorRegistry.setRegistries([registry])
  if (!listening) {
    listening = true
    process.on('message', (message: unknown) => {
      if (!isMessage<ScrapeAnswer>(message, SCRAPE_ANSWER)) return
      const waiting = pending.get(message.id)
      if (waiting === undefined) return
      pending.delete(message.id)
      clearTimeout(waiting.timer)
      if (message.text !== undefined) waiting.resolve(message.text)
      else waiting.reject(new Error(message.error ?? 'the primary could not collect the metrics'))
    })
  }
  return async () => await new Promise<string>((resolve, reject) => {
    const id = nextId++
    const timer = setTimeout(() => {
      pending.delete(id)
      reject(new Error('the primary did not answer the metrics scrape in time'))
    }, SCRAPE_TIMEOUT_MS)
    pending.set(id, { resolve, reject, timer })
    process.send?.({ type: SCRAPE_REQUEST, id } satisfies ScrapeRequest)
  })
}
