// The reference server: listeners, one session per connection, the hub, the
// store, and graceful shutdown. [ERR-6] startServer wires the phases, each in
// its own module: 1. options checked into the sessions' configuration
// (server-config.ts), 2. store operations with fan-out in commit order
// (store-fan-out.ts), 3. connections admitted and run (connections.ts),
// 4. listeners (listeners.ts), and on request 5. graceful shutdown
// (shutdown.ts).
import pino, { type Logger } from 'pino'
import type { ServerLimits } from '../codec/index.js'
import { DEFAULT_MAX_OUTPUT_BYTES } from '../session/limits.js'
import type { RateLimitOptions } from '../session/rate-limit.js'
import type { Connection } from '../transport/index.js'
import { Admission, type AdmissionLimits, DEFAULT_ADMISSION } from './admission.js'
import { Connections } from './connections.js'
import { Hub } from './hub.js'
import { openListeners } from './listeners.js'
import { sessionConfig } from './server-config.js'
import type { SessionDriver } from './session-driver.js'
import { shutdown } from './shutdown.js'
import { StoreFanOut } from './store-fan-out.js'
import type { Store } from './store/store.js'

export { DEFAULT_MAX_REQUESTS_IN_PROGRESS } from './server-config.js'

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

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const logger = opts.logger ?? pino({ level: 'silent' })
  // 1. configuration
  const config = sessionConfig(opts)
  // 2. store and fan-out
  const { store } = opts
  const hub = new Hub<SessionDriver>()
  const fanOut = new StoreFanOut(store, hub)
  // 3. connections
  const connections = new Connections({
    config,
    admission: new Admission({ ...DEFAULT_ADMISSION, ...opts.admission }), // [SEC-2]
    hub,
    fanOut,
    now: opts.now ?? Date.now,
    maxOutputBytes: opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
    logger,
  })
  // 4. listeners
  const listeners = await openListeners(
    opts,
    config.limits.maxFrameBytes,
    config.handshakeTimeoutMs,
    connections.accept,
  )
  // 5. shutdown, once
  let shuttingDown: Promise<void> | null = null
  const parts = {
    listeners: listeners.all,
    drivers: connections.drivers,
    store,
    fanOut,
    logger,
    startDraining: () => connections.startDraining(),
  }
  return {
    tcpAddress: listeners.tcp?.address ?? null,
    wsUrl: listeners.ws?.address ?? null,
    store,
    hub,
    accept: connections.accept,
    shutdown: (o = {}) => {
      shuttingDown ??= shutdown(parts, o.retryAfterMs)
      return shuttingDown
    },
  }
}
