// Client liveness rules, as a pure function of time. [HB-3] [RTY-1]
//
// - Nothing sent for heartbeat_ms: send a Ping, so the server's idle timer
//   (1.5 x heartbeat_ms, [HB-2]) never fires on a quiet but healthy client.
// - Nothing received for heartbeat_ms + margin: the link is dead, reconnect.
//   Any frame counts [HB-4], not only Pong.
// - A Send unacknowledged for ackTimeoutMs: do not resend on the live
//   connection (TCP already retransmits) but probe it with a Ping; if nothing
//   at all comes back within heartbeat_ms of that Ping, the link is dead.
//   [RTY-1]

import { DEAD_MARGIN_MS } from '../codec/index.js'

export interface HeartbeatOptions {
  heartbeatMs: number
  /** Extra silence tolerated beyond heartbeat_ms before declaring the link dead. [HB-3]: 10 s. */
  deadMarginMs?: number
  /** A Send older than this without SendAck triggers a probe Ping. Default heartbeat_ms / 2. */
  ackTimeoutMs?: number
}

export type HeartbeatAction = 'ping' | 'dead' | null

export { DEAD_MARGIN_MS }

export class Heartbeat {
  readonly heartbeatMs: number
  private readonly deadMarginMs: number
  private readonly ackTimeoutMs: number
  private lastSent: number
  private lastReceived: number
  /** When the probe Ping for an overdue SendAck went out (null: none outstanding). */
  private probeSentAt: number | null = null

  constructor(opts: HeartbeatOptions, now: number) {
    this.heartbeatMs = opts.heartbeatMs
    this.deadMarginMs = opts.deadMarginMs ?? DEAD_MARGIN_MS
    this.ackTimeoutMs = opts.ackTimeoutMs ?? Math.max(1, Math.floor(opts.heartbeatMs / 2))
    this.lastSent = now
    this.lastReceived = now
  }

  sent(now: number): void {
    this.lastSent = now
  }

  received(now: number): void {
    this.lastReceived = now
    // Whatever arrived answers the probe: the link carries traffic.
    if (this.probeSentAt !== null && now >= this.probeSentAt) this.probeSentAt = null
  }

  /**
   * What to do now. oldestUnackedSendAt: when the oldest Send still waiting
   * for its SendAck was transmitted, or null when none waits.
   */
  check(now: number, oldestUnackedSendAt: number | null): HeartbeatAction {
    if (now - this.lastReceived > this.heartbeatMs + this.deadMarginMs) return 'dead'
    if (this.probeSentAt !== null) {
      if (now - this.probeSentAt > this.heartbeatMs && this.lastReceived < this.probeSentAt) return 'dead'
    } else if (oldestUnackedSendAt !== null && now - oldestUnackedSendAt >= this.ackTimeoutMs) {
      // Only probe once per silence: the next probe waits for something to arrive.
      if (this.lastReceived < now - this.ackTimeoutMs || this.lastReceived <= oldestUnackedSendAt) {
        this.probeSentAt = now
        return 'ping'
      }
    }
    if (now - this.lastSent >= this.heartbeatMs) return 'ping'
    return null
  }

  /** Interval at which check() should run. */
  get checkEveryMs(): number {
    return Math.max(50, Math.min(1000, Math.floor(this.heartbeatMs / 4)))
  }
}
