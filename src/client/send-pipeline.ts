// Which outbox entries go on the wire, when, and what a SendAck or an Error
// does to them. One pipeline per client; open() on every ready connection,
// close() when it is lost.
//
// The server answers one connection's Sends in order, each with exactly one
// SendAck or Error [SND-4], so nothing is ever retransmitted on a live
// connection except in answer to an Error [RTY-1]. A conversation that got an
// Error for an ordered send is "blocked": the sends already in flight behind
// it will fail with SEND_OUT_OF_ORDER (the server keeps no gap [ORD-3]), so we
// wait until they have all been answered, then resend the conversation's
// outbox from its first unacked entry, in order, with the same ids and
// send_seqs [ORD-7]. Entries the server had already committed come back as
// duplicates with their original seq [DUP-2], so resending from the oldest
// unacked entry (rather than exactly from expected_send_seq) is always safe.
import { ErrorCode } from '../gen/es/imwire/v1/control_pb.js'
import { Backoff } from './backoff.js'
import type { Outbox, OutboxEntry } from './outbox.js'

export interface SendFailure {
  code: ErrorCode
  retryable: boolean
  retryAfterMs: number
  expectedSendSeq: number
}

export type FailureOutcome =
  /** Will be resent (after the conversation drains and any delay). */
  | { kind: 'retry'; entry: OutboxEntry }
  /** Refused for good and removed from the outbox. [RTY-5] */
  | { kind: 'rejected'; entry: OutboxEntry }
  /** Not in flight (late answer for a previous connection's send). */
  | { kind: 'unknown' }

interface Blocked {
  retryAt: number
  /** From SEND_OUT_OF_ORDER: the send_seq the server wants next. */
  expected: number
}

/** Errors worth retrying even if the server forgot to mark them retryable. */
const RETRYABLE = new Set<ErrorCode>([ErrorCode.INTERNAL, ErrorCode.RATE_LIMITED])

export class SendPipeline {
  private readonly outbox: Outbox
  private readonly transmit: (e: OutboxEntry) => void
  private readonly random: () => number
  private queue: Array<{ id: string; gen: number }> = []
  private head = 0
  private readonly gens = new Map<string, number>()
  private nextGen = 1
  private readonly inflight = new Map<string, { entry: OutboxEntry; at: number }>()
  private readonly inflightByConv = new Map<string, number>()
  private readonly blocked = new Map<string, Blocked>()
  private readonly backoffs = new Map<string, Backoff>()
  private active = false
  private maxInflight = 1
  /** Welcome.limits.dedupe_window_ms of this connection; 0 = unknown (never expire). */
  private dedupeWindowMs = 0
  /** Called for an entry that outlived the dedupe window instead of transmitting it; the caller drops it. [RTY-6] */
  onExpired: (e: OutboxEntry) => void = () => {}

  constructor(outbox: Outbox, transmit: (e: OutboxEntry) => void, opts: { random?: () => number } = {}) {
    this.outbox = outbox
    this.transmit = transmit
    this.random = opts.random ?? Math.random
  }

  get inflightCount(): number {
    return this.inflight.size
  }

  /** When the oldest unanswered Send went out, or null. [RTY-1] */
  get oldestInflightAt(): number | null {
    for (const v of this.inflight.values()) return v.at
    return null
  }

  /** Conversations waiting to be resent, for diagnostics and tests. */
  get blockedConversations(): string[] {
    return [...this.blocked.keys()]
  }

  /** A connection is ready: resend the whole outbox in its order. [RTY-2] */
  open(maxInflight: number, now: number, dedupeWindowMs = 0): void {
    this.active = true
    this.maxInflight = Math.max(1, maxInflight)
    this.dedupeWindowMs = dedupeWindowMs
    this.queue = []
    this.head = 0
    for (const e of this.outbox.list()) this.push(e.id)
    this.pump(now)
  }

  /** The connection is gone: nothing is in flight any more. */
  close(): void {
    this.active = false
    this.inflight.clear()
    this.inflightByConv.clear()
    this.blocked.clear()
    this.queue = []
    this.head = 0
  }

  /** A new outbox entry (already persisted). */
  add(entry: OutboxEntry, now: number): void {
    if (!this.active) return
    this.push(entry.id)
    this.pump(now)
  }

  /** SendAck for id: returns the entry (the caller removes it from the outbox), or undefined. */
  acked(id: string, now: number): OutboxEntry | undefined {
    const f = this.inflight.get(id)
    if (f === undefined) return undefined
    this.settle(id, f.entry)
    this.backoffs.get(f.entry.conversationId)?.reset()
    this.maybeUnblock(f.entry.conversationId, now)
    this.pump(now)
    return f.entry
  }

  /** Error for the Send with this id. */
  failed(id: string, err: SendFailure, now: number): FailureOutcome {
    const f = this.inflight.get(id)
    if (f === undefined) return { kind: 'unknown' }
    const e = f.entry
    this.settle(id, e)
    const conv = e.conversationId
    let outcome: FailureOutcome
    if (err.code === ErrorCode.SEND_OUT_OF_ORDER) {
      // [ORD-7] resend from expected_send_seq once the rest has drained.
      this.block(conv, now + err.retryAfterMs, err.expectedSendSeq)
      outcome = { kind: 'retry', entry: e }
    } else if (err.retryable || RETRYABLE.has(err.code)) {
      // [RTY-5] retry with backoff, never sooner than the server asked.
      let b = this.backoffs.get(conv)
      if (b === undefined) {
        b = new Backoff({ random: this.random })
        this.backoffs.set(conv, b)
      }
      this.block(conv, now + b.next(err.retryAfterMs), 0)
      outcome = { kind: 'retry', entry: e }
    } else {
      // [RTY-5] surfaced and removed; an ordered one frees its send_seq, and
      // the sends behind it (which will fail out of order) are resent renumbered.
      void this.outbox.drop(id)
      if (e.sendSeq !== 0) this.block(conv, now, 0)
      outcome = { kind: 'rejected', entry: e }
    }
    this.maybeUnblock(conv, now)
    this.pump(now)
    return outcome
  }

  /** Run delayed retries that are due; returns when to call again (ms), or null. */
  tick(now: number): number | null {
    let wake: number | null = null
    for (const [conv, b] of [...this.blocked]) {
      if (!this.maybeUnblock(conv, now) && (this.inflightByConv.get(conv) ?? 0) === 0) {
        wake = wake === null ? b.retryAt : Math.min(wake, b.retryAt)
      }
    }
    this.pump(now)
    return wake
  }

  private settle(id: string, e: OutboxEntry): void {
    this.inflight.delete(id)
    const n = (this.inflightByConv.get(e.conversationId) ?? 1) - 1
    if (n <= 0) this.inflightByConv.delete(e.conversationId)
    else this.inflightByConv.set(e.conversationId, n)
  }

  private block(conv: string, retryAt: number, expected: number): void {
    const b = this.blocked.get(conv)
    if (b === undefined) this.blocked.set(conv, { retryAt, expected })
    else {
      b.retryAt = Math.max(b.retryAt, retryAt)
      if (expected !== 0) b.expected = b.expected === 0 ? expected : Math.min(b.expected, expected)
    }
  }

  /** Unblock when nothing of the conversation is in flight and the delay is over. */
  private maybeUnblock(conv: string, now: number): boolean {
    const b = this.blocked.get(conv)
    if (b === undefined) return false
    if ((this.inflightByConv.get(conv) ?? 0) > 0 || now < b.retryAt) return false
    this.blocked.delete(conv)
    if (b.expected !== 0) void this.outbox.resync(conv, b.expected)
    if (!this.active) return true
    for (const e of this.outbox.list()) if (e.conversationId === conv && !this.inflight.has(e.id)) this.push(e.id)
    return true
  }

  private push(id: string): void {
    const gen = this.nextGen++
    this.gens.set(id, gen)
    this.queue.push({ id, gen })
  }

  private pump(now: number): void {
    if (!this.active) return
    while (this.inflight.size < this.maxInflight && this.head < this.queue.length) {
      const item = this.queue[this.head++] as { id: string; gen: number }
      // A later push of the same entry supersedes this one (it was re-queued in order).
      if (this.gens.get(item.id) !== item.gen) continue
      const e = this.outbox.get(item.id)
      if (e === undefined) {
        this.gens.delete(item.id)
        continue
      }
      if (this.inflight.has(e.id)) continue
      // Resent in order when the conversation unblocks.
      if (this.blocked.has(e.conversationId)) continue
      this.gens.delete(item.id)
      // [RTY-6] past the dedupe window the server may no longer know it: a
      // resend could commit it twice. Measured from creation, which is no
      // later than the first transmission, so it stops no later than required.
      if (this.dedupeWindowMs > 0 && now - e.createdAtMs >= this.dedupeWindowMs) {
        this.onExpired(e)
        continue
      }
      this.inflight.set(e.id, { entry: e, at: now })
      this.inflightByConv.set(e.conversationId, (this.inflightByConv.get(e.conversationId) ?? 0) + 1)
      this.transmit(e)
    }
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
  }
}
