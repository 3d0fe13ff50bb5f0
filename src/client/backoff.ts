// Reconnect and retry delays. [RTY-3]
//
// Exponential from 500 ms, capped at 30 s, with full jitter: the delay is
// uniform in [0, min(cap, base * 2^attempt)). Full jitter (rather than equal
// jitter or none) spreads a herd of clients that lost the same server across
// the whole window, so a restarted server sees a ramp, not a wall. A
// retry_after from the server is a floor: we never come back sooner than it
// asked, even if the jittered delay is shorter.

export interface BackoffOptions {
  /** First window, in ms. [RTY-3]: 500. */
  baseMs?: number
  /** Largest window, in ms. [RTY-3]: 30000. */
  capMs?: number
  /** Uniform random in [0, 1); injectable for tests. */
  random?: () => number
}

import { BACKOFF_BASE_MS, BACKOFF_CAP_MS } from '../codec/index.js'

export { BACKOFF_BASE_MS, BACKOFF_CAP_MS }

export class Backoff {
  private readonly baseMs: number
  private readonly capMs: number
  private readonly random: () => number
  private attempt = 0

  constructor(opts: BackoffOptions = {}) {
    this.baseMs = opts.baseMs ?? BACKOFF_BASE_MS
    this.capMs = opts.capMs ?? BACKOFF_CAP_MS
    this.random = opts.random ?? Math.random
  }

  /** Failed attempts since the last reset. */
  get attempts(): number {
    return this.attempt
  }

  /** The window the next delay is drawn from. */
  window(): number {
    // 2^attempt overflows nothing before the cap kicks in; clamp the exponent anyway.
    return Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.attempt, 30))
  }

  /**
   * Delay before the next attempt, and count the attempt. retryAfterMs (from
   * Close.retry_after_ms or Error.retry_after_ms) is a lower bound. [RTY-3]
   */
  next(retryAfterMs = 0): number {
    const jittered = Math.floor(this.random() * this.window())
    this.attempt++
    return Math.max(jittered, retryAfterMs)
  }

  /** A connection succeeded: start again from the base window. */
  reset(): void {
    this.attempt = 0
  }
}
