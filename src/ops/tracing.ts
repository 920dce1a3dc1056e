import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { DEFAULT_SAMPLER, traceContextOnly, type SamplerSettings, type Tracing, type TracingSettings } from './trace-context.js'

// Tracing's configuration (docs/contract.md section 11): the OTEL_* environment
// read once, the W3C trace context (./trace-context.ts) on every proxied
// request, and the OpenTelemetry SDK (./otel.ts) loaded only when an exporter
// is configured.

// ---------------------------------------------------------------------------
// Settings from the OTEL_* environment

function samplerFrom (env: NodeJS.ProcessEnv, warnings: string[]): SamplerSettings {
  const name = (env.OTEL_TRACES_SAMPLER ?? '').trim().toLowerCase()
  const ratio = (): number => {
    const text = (env.OTEL_TRACES_SAMPLER_ARG ?? '').trim()
    const value = Number(text)
    if (text === '' || !Number.isFinite(value) || value < 0 || value > 1) {
      warnings.push(`OTEL_TRACES_SAMPLER_ARG='${text}' is not a number from 0 to 1: sampling every trace`)
      return 1
    }
    return value
  }
  switch (name) {
    case '':
    case 'parentbased_always_on': return DEFAULT_SAMPLER
    case 'parentbased_always_off': return { parentBased: true, ratio: 0 }
    case 'parentbased_traceidratio': return { parentBased: true, ratio: ratio() }
    case 'always_on': return { parentBased: false, ratio: 1 }
    case 'always_off': return { parentBased: false, ratio: 0 }
    case 'traceidratio': return { parentBased: false, ratio: ratio() }
    default:
      warnings.push(`OTEL_TRACES_SAMPLER='${name}' is not one Gerbang knows (always_on, always_off, traceidratio, ` +
        'parentbased_always_on, parentbased_always_off, parentbased_traceidratio): using parentbased_always_on')
      return DEFAULT_SAMPLER
  }
}

/** OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as it is, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces. */
function tracesUrl (env: NodeJS.ProcessEnv): string | undefined {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim()
  if (traces !== undefined && traces !== '') return traces
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim()
  if (base !== undefined && base !== '') return base.replace(/\/+$/, '') + '/v1/traces'
  return undefined
}

/** What the OTEL_* environment asks for, and what in it was not understood (to log). */
export function tracingSettings (env: NodeJS.ProcessEnv): { settings: TracingSettings, warnings: string[] } {
  const warnings: string[] = []
  const sampler = samplerFrom(env, warnings)
  const off = { settings: { sampler, export: undefined }, warnings }
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return off
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((e) => e.trim().toLowerCase()).filter((e) => e !== '')
  if (exporters.includes('none')) return off
  let url = tracesUrl(env)
  const otlp = exporters.includes('otlp')
  if (exporters.some((e) => e !== 'otlp')) {
    warnings.push(`OTEL_TRACES_EXPORTER='${env.OTEL_TRACES_EXPORTER ?? ''}': Gerbang exports over OTLP only`)
  }
  // OTEL_TRACES_EXPORTER=otlp alone: the specification's default endpoint.
  if (url === undefined && otlp) url = 'http://localhost:4318/v1/traces'
  if (url === undefined) return off
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf').trim().toLowerCase()
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') {
    warnings.push(`OTEL_EXPORTER_OTLP_PROTOCOL='${protocol}' is not supported (Gerbang speaks OTLP/HTTP: http/protobuf ` +
      'or http/json, usually on port 4318): no spans are exported')
    return off
  }
  const serviceName = env.OTEL_SERVICE_NAME?.trim()
  return {
    settings: { sampler, export: { url, protocol, serviceName: serviceName === '' ? undefined : serviceName } },
    warnings
  }
}

/**
 * The tracing the OTEL_* environment asks for: trace context alone, or with
 * OTLP export through the OpenTelemetry SDK, loaded here and only then.
 * The SDK also reads the OTEL_* settings it owns (OTEL_BSP_*,
 * OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, _COMPRESSION, OTEL_RESOURCE_ATTRIBUTES).
 */
export async function tracingFromEnv (env: NodeJS.ProcessEnv, logger?: FastifyBaseLogger): Promise<Tracing> {
  const { settings, warnings } = tracingSettings(env)
  for (const warning of warnings) logger?.warn(warning)
  if (settings.export === undefined) return traceContextOnly(settings.sampler)
  const { otelTracing } = await import('./otel.js')
  const tracing = otelTracing(settings.sampler, settings.export, logger)
  logger?.info({ url: settings.export.url, protocol: settings.export.protocol, sampler: settings.sampler },
    'exporting traces over OTLP')
  return tracing
}

/** Declares the request fields tracing sets, closes `tracing` with the app; returns the tracing in use. */
export function installTracing (app: FastifyInstance, tracing: Tracing = traceContextOnly()): Tracing {
  app.decorateRequest('traceparent', '')
  app.decorateRequest('traceSpan', null)
  app.addHook('onClose', async () => { await tracing.shutdown() })
  return tracing
}
