// The deployment kit in deploy/ (compose, nginx, Kubernetes) checked against
// the code: ports, probe paths, environment names, timeouts, the routes file.
// No Docker engine or cluster runs where these tests run, so this is as far
// as they can be taken here: they are parsed and cross-checked, not run.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync, existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { parse, parseAllDocuments } from 'yaml'
import { readEnv } from '../../src/config/env.js'
import { parseRoutes } from '../../src/config/routes-loader.js'
import { compileTrustProxy } from '../../src/http/client-address.js'
import { REPO_ROOT } from '../helpers/process.js'

const DEPLOY = join(REPO_ROOT, 'deploy')
const read = (path: string): string => readFileSync(join(DEPLOY, path), 'utf8')
// any: parsed YAML of several shapes, read by path; the assertions are the type check.
type Doc = Record<string, any>

/** Every environment name the gateway reads (`env.NAME` in src/), plus the OpenTelemetry SDK's own. */
function knownEnvNames (): Set<string> {
  const names = new Set<string>()
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith('.ts')) {
        for (const m of readFileSync(path, 'utf8').matchAll(/env\.([A-Z][A-Z0-9_]+)/g)) names.add(m[1] as string)
      }
    }
  }
  walk(join(REPO_ROOT, 'src'))
  return names
}

function envFile (text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim())
    if (m !== null) out[m[1] as string] = m[2] as string
  }
  return out
}

function assertKnown (names: Iterable<string>, where: string): void {
  const known = knownEnvNames()
  for (const name of names) {
    assert.ok(known.has(name) || name.startsWith('OTEL_'), `${where} sets ${name}, which the gateway never reads`)
  }
}

test('compose: two gateways behind nginx, Redis, routes mounted; every setting agrees with the code', () => {
  const compose = parse(read('compose.yaml'), { merge: true }) as Doc
  const gateways = Object.entries(compose.services as Doc).filter(([name]) => name.startsWith('gateway-'))
  assert.equal(gateways.length, 2)
  const secrets = envFile(read('gerbang.env.example'))
  const nginx = read('nginx.conf')
  const nginxAddress = compose.services.nginx.networks.gerbang.ipv4_address as string
  for (const [name, service] of gateways) {
    assert.equal(service.env_file, 'gerbang.env')
    const env = { ...secrets, ...service.environment } as Record<string, string>
    assertKnown(Object.keys(env), `compose ${name}`)
    const parsed = readEnv(env) // throws on anything the gateway would refuse at start
    assert.ok(parsed.redisUrl?.startsWith('redis://redis:'), 'REDIS_URL names the redis service')
    assert.ok(compileTrustProxy(env.GERBANG_TRUST_PROXY)(nginxAddress, 0), 'nginx is the trusted proxy')
    assert.ok(nginx.includes(`server ${name}:${parsed.port}`), `nginx sends API traffic to ${name}:${parsed.port}`)
    assert.ok(nginx.includes(`server ${name}:${env.GERBANG_ADMIN_PORT}`), `nginx sends admin traffic to ${name}'s admin port`)
    assert.ok(Number(/^(\d+)s$/.exec(service.stop_grace_period)?.[1]) * 1000 > parsed.shutdownTimeoutMs, 'stop_grace_period outlasts the drain')
    assert.ok(service.read_only)
    const mount = (service.volumes as string[]).find((v) => v.includes(':' + dirname(env.GERBANG_ROUTES as string)))
    assert.ok(mount !== undefined, 'the routes file is mounted where GERBANG_ROUTES points')
    const routesText = readFileSync(join(DEPLOY, mount.split(':')[0] as string), 'utf8')
    assert.ok(parseRoutes(routesText, {}).ok, 'the mounted routes file is valid')
    assert.ok((service.healthcheck.test as string[]).join(' ').includes(`127.0.0.1:${parsed.port}/readyz`))
  }
  assert.match(nginx, /listen 8080;/)
  assert.ok((compose.services.nginx.ports as string[]).includes('127.0.0.1:8081:8081'), 'the admin port is published on loopback only')
  assert.ok((compose.services.redis.command as string[]).includes('--appendonly'), 'Redis keeps its data')
})

test('kubernetes: probes, ports, grace period, read-only root, ConfigMap, Secret, Services and PDB agree', () => {
  const kustomization = parse(read('kubernetes/kustomization.yaml')) as Doc
  const docs: Doc[] = []
  for (const file of kustomization.resources as string[]) {
    assert.ok(existsSync(join(DEPLOY, 'kubernetes', file)), `${file} is listed and exists`)
    for (const doc of parseAllDocuments(read(`kubernetes/${file}`))) docs.push(doc.toJS() as Doc)
  }
  const byKind = (kind: string): Doc[] => docs.filter((d) => d.kind === kind)
  const deployment = byKind('Deployment')[0] as Doc
  const pod = deployment.spec.template.spec
  const container = pod.containers[0]
  const env = Object.fromEntries((container.env as Doc[]).map((e) => [e.name, e.value])) as Record<string, string>
  const secret = byKind('Secret')[0] as Doc
  assertKnown([...Object.keys(env), ...Object.keys(secret.stringData)], 'the Deployment')
  const parsed = readEnv({ ...secret.stringData, ...env })
  const ports = new Map((container.ports as Doc[]).map((p) => [p.name, p.containerPort]))
  assert.equal(ports.get('http'), parsed.port)
  assert.equal(ports.get('admin'), Number(env.GERBANG_ADMIN_PORT))
  assert.equal(container.livenessProbe.httpGet.path, '/healthz')
  assert.equal(container.readinessProbe.httpGet.path, '/readyz')
  for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
    assert.equal(ports.get(probe.httpGet.port), parsed.port, 'probes go to the API port')
  }
  const preStopSeconds = 5
  assert.ok(pod.terminationGracePeriodSeconds > preStopSeconds + parsed.shutdownTimeoutMs / 1000,
    'terminationGracePeriodSeconds outlasts the preStop pause and the drain')
  assert.equal(container.securityContext.readOnlyRootFilesystem, true)
  assert.equal(pod.securityContext.runAsNonRoot, true)
  // The image runs as Debian's `node` user, uid 1000.
  assert.match(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'), /^USER node$/m)
  assert.equal(pod.securityContext.runAsUser, 1000)
  assert.ok((container.volumeMounts as Doc[]).some((m) => m.mountPath === '/tmp'), '/tmp is writable')

  const routesMount = (container.volumeMounts as Doc[]).find((m) =>
    m.mountPath === dirname(env.GERBANG_ROUTES as string))
  assert.ok(routesMount !== undefined && routesMount.subPath === undefined, 'routes mounted as a directory (subPath never updates)')
  const configMap = byKind('ConfigMap').find((c) => c.metadata.name === (pod.volumes as Doc[]).find((v) => v.name === routesMount.name)?.configMap?.name)
  assert.ok(configMap !== undefined)
  const routes = parseRoutes(configMap.data['routes.yaml'] as string, {})
  assert.ok(routes.ok, JSON.stringify(routes))

  assert.deepEqual(secret.metadata.name, container.envFrom[0].secretRef.name)
  for (const name of ['GERBANG_KEY_PEPPER', 'REDIS_URL']) assert.ok(name in secret.stringData, `the Secret holds ${name}`)

  const labels = deployment.spec.template.metadata.labels
  for (const service of byKind('Service')) {
    assert.deepEqual(service.spec.selector, labels)
    for (const port of service.spec.ports as Doc[]) assert.ok(ports.has(port.targetPort), `Service ${service.metadata.name} targets a named port`)
  }
  const pdb = byKind('PodDisruptionBudget')[0] as Doc
  assert.deepEqual(pdb.spec.selector.matchLabels, labels)
  assert.ok(pdb.spec.minAvailable < deployment.spec.replicas, 'a drain can proceed one pod at a time')
})
