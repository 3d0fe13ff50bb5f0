// Per-user rate limit of Sends and requests: one token bucket per user, shared
// by all of the user's connections. [SEC-6]
//
// Pure: time comes in with every call (same clock as the session's `now`).
// Memory is bounded: a bucket that has refilled to `burst` is exactly a new
// bucket, so idle users are dropped on a periodic sweep; and at most
// `maxUsers` buckets exist (past that the oldest-created one is dropped, which
// only ever gives that user a fresh, full bucket).

export interface RateLimitOptions {
  /** Tokens added per second (one Send or request costs one). */
  ratePerSec: number
  /** Bucket size: the most a user can do at once after being idle. */
  burst: number
  /** Most users tracked at once. */
  maxUsers: number
}

/**
 * Defaults: well above what one user of this server can reach (one connection
 * with a full window acks about 47k Sends/s on the benchmark machine, the
 * whole server about 85k/s), so the conformance suite and `npm run
 * bench:server` never meet them. Deployments lower them (`imwire serve
 * --user-rate N --user-burst N`); the mechanism is the same.
 */
export const DEFAULT_RATE_LIMIT: RateLimitOptions = {
  ratePerSec: 100_000,
  burst: 100_000,
  maxUsers: 100_000,
}

interface Bucket {
  tokens: number
  /** When `tokens` was computed (ms). */
  at: number
}

export class UserRateLimiter {
  private readonly buckets = new Map<string, Bucket>()
  private readonly msPerToken: number
  /** Time for an empty bucket to fill: a user idle this long is forgotten. */
  private readonly refillMs: number
  private nextSweepAt = Number.NEGATIVE_INFINITY

  constructor(readonly options: RateLimitOptions) {
    const { ratePerSec, burst, maxUsers } = options
    if (!(ratePerSec > 0) || !Number.isFinite(ratePerSec)) throw new RangeError('ratePerSec must be positive')
    if (!Number.isInteger(burst) || burst < 1) throw new RangeError('burst must be an integer >= 1')
    if (!Number.isInteger(maxUsers) || maxUsers < 1) throw new RangeError('maxUsers must be an integer >= 1')
    this.msPerToken = 1000 / ratePerSec
    this.refillMs = burst * this.msPerToken
  }

  /** Users currently tracked. */
  get size(): number {
    return this.buckets.size
  }

  /**
   * Take one token for `userId` at time `now`. Returns 0 when allowed, else
   * the ms until a token is available (at least 1): the retry_after_ms.
   */
  take(userId: string, now: number): number {
    if (now >= this.nextSweepAt) this.sweep(now)
    let b = this.buckets.get(userId)
    if (b === undefined) {
      if (this.buckets.size >= this.options.maxUsers) this.makeRoom(now)
      b = { tokens: this.options.burst, at: now }
      this.buckets.set(userId, b)
    } else if (now > b.at) {
      b.tokens = Math.min(this.options.burst, b.tokens + (now - b.at) / this.msPerToken)
      b.at = now
    }
    if (b.tokens >= 1) {
      b.tokens -= 1
      return 0
    }
    return Math.max(1, Math.ceil((1 - b.tokens) * this.msPerToken))
  }

  /** Drop every bucket that is full again at `now` (it equals a new one). */
  sweep(now: number): void {
    for (const [user, b] of this.buckets) {
      if (b.at + (this.options.burst - b.tokens) * this.msPerToken <= now) this.buckets.delete(user)
    }
    this.nextSweepAt = now + Math.max(1000, this.refillMs)
  }

  private makeRoom(now: number): void {
    this.sweep(now)
    for (const user of this.buckets.keys()) {
      if (this.buckets.size < this.options.maxUsers) break
      this.buckets.delete(user)
    }
  }
}
