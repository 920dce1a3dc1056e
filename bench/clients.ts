// 100,000 clients in Redis: how long `keys list --search` takes among them,
// and whether authenticated throughput notices them. See bench/README.md.
// Its parts are in bench/clients/.
import { cpus } from 'node:os'
import { join } from 'node:path'
import { ClientService } from '../src/auth/clients.js'
import { SecretHasher } from '../src/auth/secrets.js'
import type { RedisStore } from '../src/store/redis-store.js'
import { timeCli } from './clients/cli.js'
import { createGenerated, type Named } from './clients/generated.js'
import { report } from './clients/report.js'
import { timeResolve, timeSearches } from './clients/search.js'
import { GATEWAY_LOG_LEVEL, GENERATED, IN_FLIGHT, KEEP_LOGS, KEY_PEPPER, REAL_CLIENTS } from './clients/settings.js'
import { throughputRun, type ThroughputRecord } from './clients/throughput.js'
import { PATH, startOrigin, writeRoutesFile } from './gateway.js'
import { CONNECTIONS, DURATION_S, ROUNDS, WARMUP_S } from './load-settings.js'
import { fmt, say } from './output.js'
import { runMain, stopEach, type Started } from './processes.js'
import { closeStore, openStore, redisMemory, startRedis, type BenchRedis } from './redis.js'
import { makeWorkDir } from './work-dir.js'

async function main (): Promise<number> {
  const workDir = makeWorkDir('gerbang-bench-clients-', KEEP_LOGS).path
  say(`node ${process.version}, ${cpus().length} CPUs; ${REAL_CLIENTS} real + ${GENERATED.toLocaleString('en')} generated clients; ` +
    `throughput: ${ROUNDS} runs each, ${CONNECTIONS} connections, ${WARMUP_S} s warm-up + ${DURATION_S} s, GET ${PATH} with x-api-key, gateway LOG_LEVEL=${GATEWAY_LOG_LEVEL}`)
  let origin: Started | undefined
  // `redis` gets the 100,000; `control` keeps only the 10 real clients, so
  // that runs with 10 and with 100,010 clients can alternate.
  let redis: BenchRedis | undefined
  let control: BenchRedis | undefined
  let store: RedisStore | undefined
  let controlStore: RedisStore | undefined
  try {
    origin = await startOrigin()
    redis = await startRedis(workDir)
    control = await startRedis(workDir)
    store = await openStore(redis.url)
    controlStore = await openStore(control.url)
    say(`redis-server ${redis.version} on ${redis.url} (the 100,000) and ${control.url} (the 10 alone)`)
    const routesFile = writeRoutesFile(join(workDir, 'routes.yaml'), origin.port, 'apiKey')

    const hasher = new SecretHasher(KEY_PEPPER)
    const service = new ClientService(store, hasher)
    const all: Named[] = []
    const real: string[] = []
    for (let i = 1; i <= REAL_CLIENTS; i++) {
      const { client, key } = await service.create({ name: `Bench Real Client ${String(i).padStart(2, '0')}`, integrations: '*' })
      // The same client and key hash in the control store: the same key works against both.
      await controlStore.createClient(client, hasher.hash(key))
      all.push({ id: client.id, name: client.name })
      real.push(key)
    }
    const apiKey = real[0] ?? ''
    const keyHash = hasher.hash(apiKey)

    say(`store.resolveKey, ${REAL_CLIENTS} clients…`)
    const resolveBefore = await timeResolve(store, keyHash)
    // The first run with 10 clients comes before the 100,000 exist at all.
    const before = [await throughputRun(REAL_CLIENTS, 1, origin, control, routesFile, apiKey, workDir)]

    say(`creating ${GENERATED.toLocaleString('en')} clients, ${IN_FLIGHT} in flight…`)
    const creationMs = await createGenerated(store, GENERATED, all)
    const memory = await redisMemory(store)
    say(`  ${GENERATED.toLocaleString('en')} in ${fmt(creationMs / 1000, 1)} s ` +
      `(${fmt(GENERATED / (creationMs / 1000))}/s); Redis: ${memory.keys.toLocaleString('en')} keys, ${memory.usedMb} MB used`)

    say(`store.resolveKey, ${all.length.toLocaleString('en')} clients…`)
    const resolveAfter = await timeResolve(store, keyHash)
    say('searching…')
    const searches = await timeSearches(store, all)
    say('the CLI…')
    const cli = await timeCli(redis.url, searches)
    if (cli.note !== undefined) say(cli.note)

    // Then alternately, as bench/run.ts does: a slow period on this shared
    // machine hurts one run, not one side of the comparison.
    const after: ThroughputRecord[] = []
    for (let run = 1; run <= ROUNDS; run++) {
      after.push(await throughputRun(all.length, run, origin, redis, routesFile, apiKey, workDir))
      if (run < ROUNDS) {
        before.push(await throughputRun(REAL_CLIENTS, run + 1, origin, control, routesFile, apiKey, workDir))
      }
    }

    return report({
      creationMs, memory, searches, cli, before, after, resolveBefore, resolveAfter, redisVersion: redis.version
    })
  } finally {
    await Promise.all([closeStore(store), closeStore(controlStore)])
    await stopEach([origin, redis, control])
  }
}

runMain(main)
