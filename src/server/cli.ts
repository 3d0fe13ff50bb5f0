// `imwire serve`: run the reference server.
//
// stdout carries exactly one line, once everything listens:
//   {"event":"listening","tcp":"HOST:PORT","ws":"ws://HOST:PORT/PATH"}
// (a disabled listener is null). Logs are pino JSON lines on stderr.
// SIGTERM/SIGINT: graceful shutdown [ERR-6], exit 0.
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import pino from 'pino'
import { UsageError } from '../cli/usage-error.js'
import {
  DEFAULT_LIMITS,
  HANDSHAKE_TIMEOUT_MAX_MS,
  HANDSHAKE_TIMEOUT_MS,
  HEARTBEAT_DEFAULT_MS,
  HEARTBEAT_MAX_MS,
  HEARTBEAT_MIN_MS,
  type ServerLimits,
} from '../codec/index.js'
import { checkLimits } from '../session/limits.js'
import type { RateLimitOptions } from '../session/rate-limit.js'
import type { AdmissionLimits } from './admission.js'
import { startServer } from './server.js'
import { createMemoryStore, openSqliteStore } from './store/sqlite-store.js'
import type { Store } from './store/store.js'

export const USAGE = `usage: imwire serve [options]

  --tcp HOST:PORT            TCP listener (default 127.0.0.1:7420; port 0 = ephemeral; "off")
  --ws HOST:PORT[/PATH]      WebSocket listener (default 127.0.0.1:7421/imwire; "off")
  --data-dir DIR             SQLite data directory (default ./.imwire-data)
  --memory                   in-memory store (nothing survives a restart)
  --postgres URL             cluster mode: shared PostgreSQL (postgresql://…); needs --redis (docs/cluster.md)
  --redis URL                cluster mode: shared Redis (redis://HOST:PORT) for routing and takeover
  --node-id NAME             cluster mode: this node's name in logs and Redis (default "node")
  --token-secret S           test-token secret (or env IMWIRE_TOKEN_SECRET); required unless --dev
  --dev                      development mode: random token secret, printed to stderr
  --max-frame-bytes N        --max-batch-bytes N      --max-batch-frames N
  --max-message-bytes N      --receive-window N       --max-inflight-sends N
  --max-backlog N            --replay-limit N         --history-page-max N
  --max-group-members N      (limits: spec Appendix D bounds apply)
  --heartbeat-default-ms N   heartbeat for clients asking 0 (default ${HEARTBEAT_DEFAULT_MS}, within [${HEARTBEAT_MIN_MS}, ${HEARTBEAT_MAX_MS}])
  --handshake-timeout-ms N   Hello deadline (default ${HANDSHAKE_TIMEOUT_MS}, at most ${HANDSHAKE_TIMEOUT_MAX_MS})
  --max-connections N        open connections in total (default 100000); excess: Close 3006 [SEC-2]
  --max-connections-per-address N   open connections from one source address (default 10000)
  --max-handshakes N         connections still before Welcome, in total (default 10000)
  --max-handshakes-per-address N    connections still before Welcome from one address (default 2000)
  --user-rate N              Sends + requests per second per user, all devices (default 100000) [SEC-6]
  --user-burst N             per-user bucket size (default 100000); excess: Error RATE_LIMITED
  --rate-limit-users N       users whose bucket is kept at once (default 100000; idle ones are dropped)
  --max-requests-in-progress N      requests (not Sends) per connection awaiting an answer (default 256)
  --sync full|normal         SQLite synchronous mode (default full; normal can lose acked data on power loss)
  --no-worker                run SQLite on the main thread (for measurements)
  --log-level LEVEL          fatal|error|warn|info|debug|trace|silent (default info)
  -h, --help                 this text

When ready, prints one JSON line on stdout:
  {"event":"listening","tcp":"HOST:PORT","ws":"ws://HOST:PORT/PATH"}   (null for a listener that is off)
Logs are pino JSON lines on stderr. SIGTERM/SIGINT: stop accepting, finish in-flight commits and
their acks, Close 3001 to every connection, close the store, exit 0.
`

function hostPort(value: string, flag: string): { host: string; port: number; path: string } {
  const m = /^(\[[^\]]+\]|[^:/]+):(\d{1,5})(\/.*)?$/.exec(value)
  if (m === null) throw new UsageError(`${flag}: expected HOST:PORT, got ${JSON.stringify(value)}`)
  const port = Number(m[2])
  if (port > 65535) throw new UsageError(`${flag}: port out of range`)
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port, path: m[3] ?? '/imwire' }
}

function positive(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined
  if (!/^\d+$/.test(value) || Number(value) <= 0) throw new UsageError(`${flag}: expected a positive integer`)
  return Number(value)
}

export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(argv)
  } catch (err) {
    process.stderr.write(`imwire serve: ${(err as Error).message}\n\n${USAGE}`)
    return 2
  }
  if (parsed === null) {
    process.stdout.write(USAGE)
    return 0
  }
  const o = parsed
  const logger = pino({ level: o.logLevel, base: { svc: 'imwire' } }, pino.destination({ dest: 2, sync: true }))
  let secret = o.tokenSecret ?? process.env.IMWIRE_TOKEN_SECRET
  if (secret === undefined || secret === '') {
    if (!o.dev) {
      process.stderr.write('imwire serve: --token-secret (or IMWIRE_TOKEN_SECRET) is required unless --dev\n')
      return 2
    }
    secret = `dev-${randomBytes(12).toString('hex')}`
    process.stderr.write(`imwire serve: development token secret: ${secret}\n`)
  }

  let store: Store
  try {
    if (o.cluster !== null) {
      const { ClusterStore, clusterAvailable } = await import('./cluster/cluster-store.js')
      const missing = clusterAvailable()
      if (missing !== null) {
        process.stderr.write(`imwire serve: ${missing}\n`)
        return 2
      }
      const s = await ClusterStore.open({ ...o.cluster, logger })
      logger.info({ node: s.nodeId, schema: s.migrated }, 'cluster store open')
      store = s
    } else if (o.memory) store = createMemoryStore()
    else {
      const s = await openSqliteStore({ dataDir: o.dataDir, synchronous: o.sync, worker: o.worker })
      logger.info({ dataDir: o.dataDir, schema: s.migrated, synchronous: o.sync, worker: o.worker }, 'store open')
      store = s
    }
  } catch (err) {
    logger.fatal({ err }, 'cannot open the store')
    return 1
  }
  let server: Awaited<ReturnType<typeof startServer>>
  try {
    server = await startServer({
      store,
      tokenSecret: secret,
      tcp: o.tcp,
      ws: o.ws,
      limits: o.limits,
      heartbeatDefaultMs: o.heartbeatDefaultMs,
      handshakeTimeoutMs: o.handshakeTimeoutMs,
      admission: o.admission,
      rateLimit: o.rateLimit,
      maxRequestsInProgress: o.maxRequestsInProgress,
      logger,
    })
  } catch (err) {
    logger.fatal({ err }, 'cannot listen')
    await store.close()
    return 1
  }
  process.stdout.write(`${JSON.stringify({ event: 'listening', tcp: server.tcpAddress, ws: server.wsUrl })}\n`)
  logger.info({ tcp: server.tcpAddress, ws: server.wsUrl }, 'listening')

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'signal received')
      server.shutdown().then(resolve, (err) => {
        logger.error({ err }, 'shutdown failed')
        resolve()
      })
    }
    process.once('SIGTERM', () => stop('SIGTERM'))
    process.once('SIGINT', () => stop('SIGINT'))
  })
  return 0
}

/** Every flag of `imwire serve`; USAGE documents each (test/server/cli.test.ts checks). */
export const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  tcp: { type: 'string' },
  ws: { type: 'string' },
  'data-dir': { type: 'string' },
  memory: { type: 'boolean' },
  postgres: { type: 'string' },
  redis: { type: 'string' },
  'node-id': { type: 'string' },
  'token-secret': { type: 'string' },
  dev: { type: 'boolean' },
  'max-frame-bytes': { type: 'string' },
  'max-batch-bytes': { type: 'string' },
  'max-batch-frames': { type: 'string' },
  'max-message-bytes': { type: 'string' },
  'receive-window': { type: 'string' },
  'max-inflight-sends': { type: 'string' },
  'max-backlog': { type: 'string' },
  'replay-limit': { type: 'string' },
  'history-page-max': { type: 'string' },
  'max-group-members': { type: 'string' },
  'heartbeat-default-ms': { type: 'string' },
  'handshake-timeout-ms': { type: 'string' },
  'max-connections': { type: 'string' },
  'max-connections-per-address': { type: 'string' },
  'max-handshakes': { type: 'string' },
  'max-handshakes-per-address': { type: 'string' },
  'user-rate': { type: 'string' },
  'user-burst': { type: 'string' },
  'rate-limit-users': { type: 'string' },
  'max-requests-in-progress': { type: 'string' },
  sync: { type: 'string' },
  'no-worker': { type: 'boolean' },
  'log-level': { type: 'string' },
} as const

function parse(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: OPTIONS,
  })
  if (values.help) return null
  const tcpArg = values.tcp ?? '127.0.0.1:7420'
  const wsArg = values.ws ?? '127.0.0.1:7421/imwire'
  const tcp = tcpArg === 'off' ? null : hostPort(tcpArg, '--tcp')
  const ws = wsArg === 'off' ? null : hostPort(wsArg, '--ws')
  if (tcp === null && ws === null) throw new UsageError('at least one of --tcp and --ws must be on')
  const limits: Partial<ServerLimits> = {}
  const flags: [keyof ServerLimits, string][] = [
    ['maxFrameBytes', 'max-frame-bytes'],
    ['maxBatchBytes', 'max-batch-bytes'],
    ['maxBatchFrames', 'max-batch-frames'],
    ['maxMessageBytes', 'max-message-bytes'],
    ['receiveWindow', 'receive-window'],
    ['maxInflightSends', 'max-inflight-sends'],
    ['maxBacklog', 'max-backlog'],
    ['replayLimit', 'replay-limit'],
    ['historyPageMax', 'history-page-max'],
    ['maxGroupMembers', 'max-group-members'],
  ]
  for (const [k, flag] of flags) {
    const v = positive(values[flag as keyof typeof values] as string | undefined, `--${flag}`)
    if (v !== undefined) limits[k] = v
  }
  const problems = checkLimits({ ...DEFAULT_LIMITS, ...limits })
  if (problems.length > 0) throw new UsageError(`invalid limits: ${problems.join('; ')}`) // [LIM-1]
  const heartbeatDefaultMs = positive(values['heartbeat-default-ms'], '--heartbeat-default-ms') ?? HEARTBEAT_DEFAULT_MS
  if (heartbeatDefaultMs < HEARTBEAT_MIN_MS || heartbeatDefaultMs > HEARTBEAT_MAX_MS) {
    throw new UsageError(`--heartbeat-default-ms: within [${HEARTBEAT_MIN_MS}, ${HEARTBEAT_MAX_MS}]`) // [HS-9]
  }
  const handshakeTimeoutMs = positive(values['handshake-timeout-ms'], '--handshake-timeout-ms') ?? HANDSHAKE_TIMEOUT_MS
  if (handshakeTimeoutMs > HANDSHAKE_TIMEOUT_MAX_MS)
    throw new UsageError(`--handshake-timeout-ms: at most ${HANDSHAKE_TIMEOUT_MAX_MS}`) // [HS-8]
  // [SEC-2] [SEC-6] unset: startServer's defaults.
  const admission: Partial<AdmissionLimits> = {}
  const rateLimit: Partial<RateLimitOptions> = {}
  const set = <T>(o: Partial<T>, k: keyof T, flag: string) => {
    const v = positive(values[flag as keyof typeof values] as string | undefined, `--${flag}`)
    if (v !== undefined) o[k] = v as T[keyof T]
  }
  set(admission, 'maxConnections', 'max-connections')
  set(admission, 'maxConnectionsPerAddress', 'max-connections-per-address')
  set(admission, 'maxHandshakes', 'max-handshakes')
  set(admission, 'maxHandshakesPerAddress', 'max-handshakes-per-address')
  set(rateLimit, 'ratePerSec', 'user-rate')
  set(rateLimit, 'burst', 'user-burst')
  set(rateLimit, 'maxUsers', 'rate-limit-users')
  const maxRequestsInProgress = positive(values['max-requests-in-progress'], '--max-requests-in-progress')
  const sync = (values.sync ?? 'full').toUpperCase()
  if (sync !== 'FULL' && sync !== 'NORMAL') throw new UsageError('--sync: full or normal')
  const logLevel = values['log-level'] ?? 'info'
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new UsageError('--log-level: unknown level')
  }
  if ((values.postgres === undefined) !== (values.redis === undefined)) {
    throw new UsageError('cluster mode needs both --postgres and --redis')
  }
  if (values.postgres !== undefined && values.memory) throw new UsageError('--memory and --postgres exclude each other')
  const cluster =
    values.postgres !== undefined && values.redis !== undefined
      ? { postgresUrl: values.postgres, redisUrl: values.redis, nodeId: values['node-id'] ?? 'node' }
      : null
  return {
    cluster,
    tcp: tcp && { host: tcp.host, port: tcp.port },
    ws,
    dataDir: values['data-dir'] ?? '.imwire-data',
    memory: values.memory ?? false,
    tokenSecret: values['token-secret'],
    dev: values.dev ?? false,
    limits,
    heartbeatDefaultMs,
    handshakeTimeoutMs,
    admission,
    rateLimit,
    maxRequestsInProgress,
    sync: sync as 'FULL' | 'NORMAL',
    worker: !(values['no-worker'] ?? false),
    logLevel,
  }
}
