// Phase 1 of startServer: the options, checked against the spec's bounds and
// completed with the defaults, as the configuration every session shares.
import {
  DEFAULT_LIMITS,
  HANDSHAKE_TIMEOUT_MAX_MS,
  HANDSHAKE_TIMEOUT_MS,
  HEARTBEAT_DEFAULT_MS,
  HEARTBEAT_MAX_MS,
  HEARTBEAT_MIN_MS,
  type ServerLimits,
} from '../codec/index.js'
import { STORE_FEATURES, SUPPORTED_FEATURES } from '../session/handshake.js'
import { checkLimits } from '../session/limits.js'
import { DEFAULT_RATE_LIMIT, UserRateLimiter } from '../session/rate-limit.js'
import type { SessionConfig } from '../session/session.js'
import { verifyTestToken } from '../session/test-token.js'
import type { ServerOptions } from './server.js'

/** Default bound on the requests in progress per connection: as many as Sends in flight. [SEC-6] */
export const DEFAULT_MAX_REQUESTS_IN_PROGRESS = 256

/** Every session's configuration but its id. Throws RangeError on an option outside the spec's bounds. */
export function sessionConfig(opts: ServerOptions): SessionConfig {
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
  const maxRequestsInProgress = opts.maxRequestsInProgress ?? DEFAULT_MAX_REQUESTS_IN_PROGRESS
  if (!Number.isInteger(maxRequestsInProgress) || maxRequestsInProgress < 1) {
    throw new RangeError('maxRequestsInProgress must be an integer >= 1')
  }
  const limiter = new UserRateLimiter({ ...DEFAULT_RATE_LIMIT, ...opts.rateLimit }) // [SEC-6]
  const secret = opts.tokenSecret
  return {
    limits,
    heartbeatDefaultMs,
    // The bounds are the spec's: every request inside them is honoured. [HS-9]
    heartbeatMinMs: HEARTBEAT_MIN_MS,
    heartbeatMaxMs: HEARTBEAT_MAX_MS,
    handshakeTimeoutMs,
    // A feature that needs the store's support is offered only with it (the cluster store has none yet).
    features: (opts.features ?? SUPPORTED_FEATURES).filter(
      (f) => !STORE_FEATURES.includes(f) || (opts.store.features ?? []).includes(f),
    ),
    authenticate: (token) => verifyTestToken(secret, token),
    rateLimit: (userId, t) => limiter.take(userId, t),
    maxRequestsInProgress,
  }
}
