// The admin UI with 10,000 clients: do the Clients page, its list and its
// search answer in under 300 ms? See bench/README.md ("The admin UI").
// Its parts are in bench/admin/.
import { readFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { Pool } from 'undici'
import { hashPassword } from '../src/auth/passwords.js'
import { SecretHasher } from '../src/auth/secrets.js'
import type { RedisStore } from '../src/store/redis-store.js'
import { cases, runCase, type CaseRecord, type Target } from './admin/cases.js'
import { login, startAdminGateway } from './admin/gateway.js'
import { createClients, writeTraffic } from './admin/generated.js'
import { report, sumCodes } from './admin/report.js'
import {
  ADMIN_EMAIL, ADMIN_PASSWORD, CLIENTS, CONCURRENCY, GATEWAY_LOG_LEVEL, IN_FLIGHT, KEEP_LOGS, KEY_PEPPER, PAGE_SIZE,
  RUNS, WARMUP
} from './admin/settings.js'
import { storeBreakdown } from './admin/store-timings.js'
import type { StartedGateway } from './gateway.js'
import { fmt, machine, say } from './output.js'
import { rssMb } from './proc.js'
import { runMain, stopEach } from './processes.js'
import { closeStore, openStore, redisMemory, startRedis, type BenchRedis } from './redis.js'
import { makeWorkDir } from './work-dir.js'

async function main (): Promise<number> {
  const workDir = makeWorkDir('gerbang-bench-admin-', KEEP_LOGS).path
  const info = machine(undefined)
  const loadBefore = loadavg()
  say(`node ${process.version}, ${String(info.cpus)} CPUs (${String(info.cpuModel)}), load ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ` +
    `${CLIENTS.toLocaleString('en')} clients; per case ${WARMUP} warm-up + ${RUNS} sequential + ${RUNS} with ${CONCURRENCY} at once; ` +
    `gateway LOG_LEVEL=${GATEWAY_LOG_LEVEL}`)
  let redis: BenchRedis | undefined
  let gateway: StartedGateway | undefined
  let store: RedisStore | undefined
  let pool: Pool | undefined
  try {
    redis = await startRedis(workDir)
    store = await openStore(redis.url)
    say(`redis-server ${redis.version} on ${redis.url}`)
    const hasher = new SecretHasher(KEY_PEPPER)

    say(`creating ${CLIENTS.toLocaleString('en')} clients, ${IN_FLIGHT} in flight…`)
    const { all, ms: createMs } = await createClients(store, hasher)
    const trafficMs = await writeTraffic(store, all)
    const { keys, usedMb } = await redisMemory(store)
    say(`  clients in ${fmt(createMs / 1000, 2)} s, traffic counters in ${fmt(trafficMs / 1000, 2)} s; Redis: ${keys.toLocaleString('en')} keys, ${usedMb} MB`)

    gateway = await startAdminGateway(workDir, redis)
    say(`gateway on 127.0.0.1:${gateway.port} (pid ${gateway.pid})`)
    // The gateway makes the first admin at start; it logs a warning instead when its store was not connected yet.
    let adminNote: string | undefined
    if (await store.getUser(ADMIN_EMAIL) === undefined) {
      adminNote = 'the gateway did not create the first admin from GERBANG_ADMIN_EMAIL (see its log); the bench created it in the store'
      say(adminNote)
      await store.createUser({ email: ADMIN_EMAIL, name: ADMIN_EMAIL, role: 'admin', passwordHash: await hashPassword(ADMIN_PASSWORD), createdAt: new Date().toISOString() })
    }

    pool = new Pool(`http://127.0.0.1:${gateway.port}`, { connections: CONCURRENCY, pipelining: 1 })
    const { cookie, csrf } = await login(pool)
    say('signed in')
    const target: Target = { pool, cookie, csrf, store, pids: { gateway: gateway.pid, redis: redis.pid } }
    const records: CaseRecord[] = []
    for (const c of cases(all)) {
      const record = await runCase(target, c)
      records.push(record)
      const non200 = record.sequential.non200 + record.concurrent.non200
      say(`  ${record.label}: p99 ${fmt(record.sequential.stats.p99, 1)} ms sequential, ${fmt(record.concurrent.stats.p99, 1)} ms with ${CONCURRENCY} at once` +
        (non200 > 0 ? `, ${non200} not 200 ${JSON.stringify(sumCodes(record.sequential.statusCodes, record.concurrent.statusCodes))}` : '') +
        (record.problem !== undefined ? ` — ${record.problem}` : ''))
    }
    const gatewayRssMb = rssMb(gateway.pid)

    say('store calls in-process…')
    const firstIds = (await store.listClients({ limit: PAGE_SIZE })).map((c) => c.id)
    const breakdown = await storeBreakdown(store, cookie, firstIds)

    let logLines: number | null = null
    try {
      logLines = readFileSync(join(workDir, 'gateway.log'), 'utf8').split('\n').filter((l) => l !== '').length
    } catch { /* gone */ }

    return report({
      records,
      breakdown,
      createMs,
      trafficMs,
      keys,
      usedMb,
      gatewayRssMb,
      logLines,
      adminNote,
      redisVersion: redis.version,
      loadBefore
    })
  } finally {
    await pool?.close()
    await closeStore(store)
    await stopEach([gateway, redis])
  }
}

runMain(main)
