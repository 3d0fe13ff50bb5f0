// The reference server: listeners, one session per connection, the hub, the
// store, and graceful shutdown. [ERR-6]
import { randomBytes } from 'node:crypto'
import pino, { type Logger } from 'pino'
import { CloseCode } from '../gen/es/imwire/v1/control_pb.js'
import {
  DEFAULT_LIMITS,
  HANDSHAKE_TIMEOUT_MAX_MS,
  HANDSHAKE_TIMEOUT_MS,
  HEARTBEAT_DEFAULT_MS,
  HEARTBEAT_MAX_MS,
  HEARTBEAT_MIN_MS,
  type ServerLimits,
} from '../codec/index.js'
import { DEFAULT_MAX_OUTPUT_BYTES, checkLimits } from '../session/limits.js'
import { SUPPORTED_FEATURES } from '../session/handshake.js'
import { DEFAULT_RATE_LIMIT, type RateLimitOptions, UserRateLimiter } from '../session/rate-limit.js'
import type { SessionConfig } from '../session/session.js'
import type { ResultOf, StoreOp } from '../session/store-ops.js'
import { verifyTestToken } from '../session/test-token.js'
import { type Connection, type Listener, listenTcp, listenWs } from '../transport/index.js'
import { Admission, type AdmissionLimits, DEFAULT_ADMISSION, sourceAddress } from './admission.js'
import { Hub } from './hub.js'
import { type DriverContext, SessionDriver } from './session-driver.js'
import type { Store } from './store/store.js'

export interface ServerOptions {
  store: Store
  /** Secret of the test-token scheme. [AUTH-1] */
  tokenSecret: string
  /** null: no TCP listener. */
  tcp?: { host: string; port: number } | null
  /** null: no WebSocket listener. */
  ws?: { host: string; port: number; path: string } | null
  limits?: Partial<ServerLimits>
  /** Heartbeat for Hello.heartbeat_ms = 0, within [1000, 300000]. [HS-9] */
  heartbeatDefaultMs?: number
  /** At most 10000 ms. [HS-8] */
  handshakeTimeoutMs?: number
  maxOutputBytes?: number
  features?: string[]
  logger?: Logger
  /** Bounds on connections and handshakes in progress, per address and in total. [SEC-2] */
  admission?: Partial<AdmissionLimits>
  /** Per-user token bucket for Sends and requests. [SEC-6] */
  rateLimit?: Partial<RateLimitOptions>
  /** Most requests (not Sends) one connection may have in progress (default 256). [SEC-6] */
  maxRequestsInProgress?: number
  /** Clock (ms since the epoch); tests may inject one. */
  now?: () => number
}

export interface RunningServer {
  /** "host:port" of the TCP listener, if any. */
  readonly tcpAddress: string | null
  /** "ws://host:port/path" of the WebSocket listener, if any. */
  readonly wsUrl: string | null
  readonly store: Store
  readonly hub: Hub<SessionDriver>
  /** Serve a connection made elsewhere (tests: in-memory pairs). */
  accept(conn: Connection): void
  /** Graceful shutdown. [ERR-6] Idempotent. Default retry_after_ms: random in [1000, 10000). */
  shutdown(opts?: { retryAfterMs?: number }): Promise<void>
}

/** Default bound on the requests in progress per connection: as many as Sends in flight. [SEC-6] */
export const DEFAULT_MAX_REQUESTS_IN_PROGRESS = 256

/** How long shutdown waits for connections to close after Close 3001. */
const SHUTDOWN_CLOSE_WAIT_MS = 3000

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const logger = opts.logger ?? pino({ level: 'silent' })
  const limits: ServerLimits = { ...DEFAULT_LIMITS, ...opts.limits }
  const problems = checkLimits(limits) // [LIM-1]
  if (problems.length > 0) throw new RangeError(`invalid limits: ${problems.join('; ')}`)
  const heartbeatDefaultMs = opts.heartbeatDefaultMs ?? HEARTBEAT_DEFAULT_MS
  if (heartbeatDefaultMs < HEARTBEAT_MIN_MS || heartbeatDefaultMs > HEARTBEAT_MAX_MS) {
    throw new RangeError(`heartbeat default must be within [${HEARTBEAT_MIN_MS}, ${HEARTBEAT_MAX_MS}] ms`) // [HS-9]
  }
  const handshakeTimeoutMs = opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS
  if (handshakeTimeoutMs <= 0 || handshakeTimeoutMs > HANDSHAKE_TIMEOUT_MAX_MS) {
    throw new RangeError(`handshake timeout must be within (0, ${HANDSHAKE_TIMEOUT_MAX_MS}] ms`) // [HS-8]
  }
  const now = opts.now ?? Date.now
  const admission = new Admission({ ...DEFAULT_ADMISSION, ...opts.admission }) // [SEC-2]
  const limiter = new UserRateLimiter({ ...DEFAULT_RATE_LIMIT, ...opts.rateLimit }) // [SEC-6]
  const maxRequestsInProgress = opts.maxRequestsInProgress ?? DEFAULT_MAX_REQUESTS_IN_PROGRESS
  if (!Number.isInteger(maxRequestsInProgress) || maxRequestsInProgress < 1) {
    throw new RangeError('maxRequestsInProgress must be an integer >= 1')
  }
  const store = opts.store
  const hub = new Hub<SessionDriver>()
  const drivers = new Set<SessionDriver>()
  let draining = false
  let inflightOps = 0
  const secret = opts.tokenSecret

  const runStore = <O extends StoreOp>(op: O): Promise<ResultOf<O>> => {
    inflightOps++
    const p = store.run(op)
    p.then(
      (r) => {
        inflightOps--
        // Fan-out in commit order: results settle in commit order. [FAN-1] [ORD-1]
        const res = r as ResultOf<StoreOp>
        if (op.op === 'send' && res.ok && 'duplicate' in res) {
          if (!res.duplicate) hub.publish(res.message, res.epoch, res.members) // [FAN-2]
        } else if (res.ok && 'notices' in res) {
          hub.notify(res.conversation.conversationId, res.notices, res.epoch, res.topSeq) // [CNV-6]
        }
      },
      () => {
        inflightOps--
      },
    )
    return p
  }

  const ctx: DriverContext = {
    hub,
    runStore,
    get draining() {
      return draining
    },
    now,
    maxOutputBytes: opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
    maxBatchBytes: limits.maxBatchBytes,
    maxBatchFrames: limits.maxBatchFrames,
    logger,
    // The driver reports the end of the handshake before the close. [SEC-2]
    onClosed: (d) => {
      drivers.delete(d)
      admission.release(sourceAddress(d.conn.remoteAddress))
    },
    onHandshakeDone: (d) => admission.handshakeDone(sourceAddress(d.conn.remoteAddress)),
  }

  const baseConfig: Omit<SessionConfig, 'sessionId'> = {
    limits,
    heartbeatDefaultMs,
    // The bounds are the spec's: every request inside them is honoured. [HS-9]
    heartbeatMinMs: HEARTBEAT_MIN_MS,
    heartbeatMaxMs: HEARTBEAT_MAX_MS,
    handshakeTimeoutMs,
    features: opts.features ?? SUPPORTED_FEATURES,
    authenticate: (token) => verifyTestToken(secret, token),
    rateLimit: (userId, t) => limiter.take(userId, t),
    maxRequestsInProgress,
  }
  const sessionPrefix = randomBytes(4).toString('hex')
  let sessionCounter = 0

  const accept = (conn: Connection): void => {
    if (draining) {
      conn.close(CloseCode.GOING_AWAY, 'server shutting down', 1000)
      return
    }
    const address = sourceAddress(conn.remoteAddress)
    const refused = admission.admit(address)
    if (refused !== null) {
      logger.debug({ remote: conn.remoteAddress, reason: refused.reason }, 'connection refused')
      conn.close(CloseCode.TRY_AGAIN_LATER, refused.reason, refused.retryAfterMs) // [SEC-2] [ERR-14]
      return
    }
    // Unique per connection and per server run. [HS-10]
    const sessionId = `${sessionPrefix}-${(++sessionCounter).toString(36)}`
    const driver = new SessionDriver(conn, { ...baseConfig, sessionId }, ctx)
    drivers.add(driver)
    logger.debug({ session: sessionId, remote: conn.remoteAddress, transport: conn.kind }, 'connection accepted')
  }

  const listeners: Listener[] = []
  try {
    if (opts.tcp) listeners.push(await listenTcp({ ...opts.tcp, maxFrameBytes: limits.maxFrameBytes }, accept))
    if (opts.ws)
      listeners.push(
        // [HS-17] the upgrade request is bounded by the handshake timeout too
        await listenWs({ upgradeTimeoutMs: handshakeTimeoutMs, ...opts.ws, maxFrameBytes: limits.maxFrameBytes }, accept),
      )
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()))
    throw err
  }
  const tcpListener = opts.tcp ? listeners[0] : undefined
  const wsListener = opts.ws ? listeners[listeners.length - 1] : undefined

  let shuttingDown: Promise<void> | null = null
  const shutdown = async (retryAfterMs: number | undefined): Promise<void> => {
    // 1. Stop accepting; frames from open connections are no longer read.
    draining = true
    const closed = Promise.all(listeners.map((l) => l.close()))
    logger.info({ connections: drivers.size }, 'shutting down')
    // 2. Finish in-flight commits and let their acks be queued. A turn of the
    //    event loop after each idle() lets result handlers (and any store op
    //    they start) run.
    //    Bounded: a session that keeps chaining reads must not hold shutdown.
    for (let i = 0; i < 100 && (i === 0 || inflightOps > 0); i++) {
      await store.idle()
      await new Promise((r) => setImmediate(r))
    }
    // 3. Close 3001 to everyone; Connection.close writes queued acks first.
    //    retry_after_ms spreads the reconnects over [1 s, 10 s). [ERR-6] [ERR-14]
    for (const d of [...drivers]) {
      d.step({ type: 'shutdown', retryAfterMs: retryAfterMs ?? 1000 + Math.floor(Math.random() * 9000) })
    }
    await Promise.race([closed, new Promise((r) => setTimeout(r, SHUTDOWN_CLOSE_WAIT_MS).unref())])
    for (const d of [...drivers]) d.conn.destroy()
    // 4. Close the store.
    await store.close()
    logger.info('stopped')
  }

  return {
    tcpAddress: tcpListener?.address ?? null,
    wsUrl: wsListener?.address ?? null,
    store,
    hub,
    accept,
    shutdown: (o = {}) => {
      shuttingDown ??= shutdown(o.retryAfterMs)
      return shuttingDown
    },
  }
}
