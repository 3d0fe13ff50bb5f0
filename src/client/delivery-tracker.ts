// Per-conversation delivery progress: which seqs this device holds, what it
// may acknowledge, what it may hand to the application, and when it must pull
// history instead of waiting for deliveries.
//
// Pure: no timers, no I/O. Generic over the item handed to the application
// so tests can use plain numbers.
//
// "Position" is the highest seq up to which this device holds everything it
// will ever be sent; the cumulative DeliverAck carries it [DLV-2], and it is
// never above what the server has committed [DLV-3].
//
// Deliveries advance the position straight to their seq. The server sends a
// connection every message of a conversation that is not the device's own,
// in increasing seq order [DLV-1], starting after the cursor [RSM-1]; so when
// seq s arrives, every seq below it was either delivered before, acked
// earlier, or is one of this device's own messages, which the cumulative ack
// may cover [DLV-5] and whose SendAck comes (again, on a resend) through the
// outbox. Holding deliveries back until own SendAcks filled the holes would
// stall the server's receive window [FLW-1] whenever a SendAck was lost with a
// connection, for no benefit.
//
// The exception is a conversation the server tells us to pull (joined with
// history, replay limit exceeded, new epoch): while history is paged up to the
// announced top, deliveries above it are held and handed over after the
// pulled messages, so the application still sees the conversation in order.

interface Track {
  epoch: number
  /** Highest contiguous seq; null while the base is unknown. */
  position: number | null
  /** Pulling history up to this seq; null when not pulling. */
  pullUntil: number | null
  /** Seqs above position already seen; value = item to hand over (null: own, nothing to hand over). */
  held: Map<number, unknown>
  /** Own seqs seen while the base was unknown. */
  ownEarly: Set<number>
  /** Highest seq acknowledged to the server (or taken from its cursor). */
  acked: number
}

export interface Position {
  seq: number
  epoch: number
}

export class DeliveryTracker<T> {
  private readonly tracks = new Map<string, Track>()

  /** Start from positions a store kept (the client's previous life). */
  constructor(positions?: Iterable<[string, Position]>) {
    if (positions !== undefined) {
      for (const [c, p] of positions) this.tracks.set(c, this.fresh(p.epoch, p.seq, p.seq))
    }
  }

  private fresh(epoch: number, position: number | null, acked = 0): Track {
    return { epoch, position, pullUntil: null, held: new Map(), ownEarly: new Set(), acked }
  }

  private track(conversationId: string, epoch: number): Track {
    let t = this.tracks.get(conversationId)
    // [RSM-8] a new epoch means the history we held is gone: start over.
    if (t === undefined || (epoch !== 0 && t.epoch !== 0 && t.epoch !== epoch)) {
      t = this.fresh(epoch, null)
      this.tracks.set(conversationId, t)
    } else if (t.epoch === 0 && epoch !== 0) {
      t.epoch = epoch
    }
    return t
  }

  /** Positions to present in Hello.resume and to persist. [RSM-4] */
  positions(): Array<[string, Position]> {
    const out: Array<[string, Position]> = []
    for (const [c, t] of this.tracks) {
      if (t.position !== null && t.epoch !== 0) out.push([c, { seq: t.position, epoch: t.epoch }])
    }
    return out
  }

  position(conversationId: string): number | null {
    return this.tracks.get(conversationId)?.position ?? null
  }

  epoch(conversationId: string): number {
    return this.tracks.get(conversationId)?.epoch ?? 0
  }

  /** The seq the current pull must reach (raised by later notices), or null when not pulling. */
  pullTarget(conversationId: string): number | null {
    return this.tracks.get(conversationId)?.pullUntil ?? null
  }

  /** True while history is being pulled for this conversation. */
  pulling(conversationId: string): boolean {
    return (this.tracks.get(conversationId)?.pullUntil ?? null) !== null
  }

  /**
   * The server told us its cursor for this device (ConversationResult,
   * ConversationList, ConversationUpdated): everything up to it was
   * acknowledged by this device at some point, so it is held. With topSeq
   * above it (a notice that asks us to pull), enter pull mode: returns true
   * when the caller should page history from position() up to topSeq.
   */
  setCursor(conversationId: string, cursor: number, epoch: number, topSeq = 0): { items: T[]; pull: boolean } {
    const t = this.track(conversationId, epoch)
    if (t.acked < cursor) t.acked = cursor
    let items: T[] = []
    if (t.position === null) this.setBase(t, cursor)
    else if (t.position < cursor) items = this.advanceTo(t, cursor)
    items = items.concat(this.release(t))
    const pos = t.position as number
    if (topSeq > pos) {
      t.pullUntil = Math.max(t.pullUntil ?? 0, topSeq)
      return { items, pull: true }
    }
    return { items, pull: false }
  }

  /**
   * A Deliver arrived. Returns the items the application may now see, in seq
   * order: none for a duplicate or while the conversation is being pulled.
   */
  deliver(conversationId: string, seq: number, epoch: number, item: T): T[] {
    const t = this.track(conversationId, epoch)
    // With no base yet, the first Deliver sets it (cursor + 1 on a replay).
    if (t.position === null) this.setBase(t, seq - 1)
    const pos = t.position as number
    if (seq <= pos || t.held.has(seq)) return []
    if (t.pullUntil !== null) {
      t.held.set(seq, item)
      return this.release(t)
    }
    // Everything below seq is held or own (see the header).
    const out = this.advanceTo(t, seq - 1)
    t.position = seq
    out.push(item)
    return out.concat(this.release(t))
  }

  /** A SendAck for this device's own message: held, never handed over. [DLV-5] */
  own(conversationId: string, seq: number, epoch: number): T[] {
    const t = this.track(conversationId, epoch)
    if (t.position === null) {
      t.ownEarly.add(seq)
      return []
    }
    if (seq <= t.position || t.held.has(seq)) return []
    t.held.set(seq, null)
    return this.release(t)
  }

  /**
   * A message read from history; item null for own messages. History pages
   * are contiguous, so the position moves only through unbroken runs.
   */
  fill(conversationId: string, seq: number, epoch: number, item: T | null): T[] {
    const t = this.track(conversationId, epoch)
    if (t.position === null) this.setBase(t, seq - 1)
    if (seq <= (t.position as number) || t.held.has(seq)) return []
    t.held.set(seq, item)
    return this.release(t)
  }

  /** The pull ended (done or failed): hand over what was held behind it, in order. */
  endPull(conversationId: string): T[] {
    const t = this.tracks.get(conversationId)
    if (t === undefined || t.pullUntil === null) return []
    t.pullUntil = null
    const top = Math.max(t.position ?? 0, ...t.held.keys())
    return this.advanceTo(t, top)
  }

  /** The cumulative ack to send for a conversation, or null when nothing new. [DLV-2] */
  ackDue(conversationId: string): number | null {
    const t = this.tracks.get(conversationId)
    if (t === undefined || t.position === null || t.position <= t.acked) return null
    return t.position
  }

  markAcked(conversationId: string, seq: number): void {
    const t = this.tracks.get(conversationId)
    if (t !== undefined && t.acked < seq) t.acked = seq
  }

  /** After a reconnect the server's cursor is what counts: everything not yet acked must be acked again. */
  resetAcked(): void {
    for (const t of this.tracks.values()) t.acked = 0
  }

  /** Held items (above the position), for bounds and diagnostics. */
  heldCount(conversationId: string): number {
    return this.tracks.get(conversationId)?.held.size ?? 0
  }

  private setBase(t: Track, base: number): void {
    t.position = base
    for (const s of t.ownEarly) if (s > base) t.held.set(s, null)
    t.ownEarly.clear()
  }

  /** Move the position up to upTo, handing over held items below it in seq order. */
  private advanceTo(t: Track, upTo: number): T[] {
    const out: T[] = []
    if (t.held.size > 0) {
      const below = [...t.held.keys()].filter((s) => s <= upTo).sort((a, b) => a - b)
      for (const s of below) {
        const item = t.held.get(s)
        t.held.delete(s)
        if (item !== null && item !== undefined) out.push(item as T)
      }
    }
    if ((t.position ?? 0) < upTo) t.position = upTo
    return out
  }

  /** Absorb held seqs that continue the position; end a pull that reached its top. */
  private release(t: Track): T[] {
    const out: T[] = []
    let p = t.position as number
    while (t.held.size > 0 && t.held.has(p + 1)) {
      const item = t.held.get(p + 1)
      t.held.delete(p + 1)
      p++
      if (item !== null) out.push(item as T)
    }
    t.position = p
    if (t.pullUntil !== null && p >= t.pullUntil) {
      if (t.held.size > 0) {
        // Held above a hole: the hole may be own messages whose SendAck has
        // not come back, or messages this device never got (deliveries held
        // behind a long pull stall the receive window; a reconnect's notice
        // moves the top). History has both, so the pull goes on up to the
        // highest held seq instead of jumping over the hole. [DLV-9]
        t.pullUntil = Math.max(...t.held.keys())
      } else t.pullUntil = null
    }
    return out
  }
}
