// Per-conversation delivery progress: which seqs this device holds, what it
// may acknowledge, what it may hand to the application, and where it has gaps.
//
// Pure: no timers, no I/O; time comes in as arguments. Generic over the item
// handed to the application so tests can use plain numbers.
//
// "Contiguous" is the highest seq such that every seq up to it is held: seen
// in a Deliver, or the device's own message (it got the SendAck instead of a
// Deliver, [DLV-5]), or covered by the server's cursor for this device. The
// cumulative DeliverAck carries exactly that number [DLV-2], which can never be
// above the conversation's top_seq [DLV-3]. Items above a gap are held back so
// the application sees every conversation in seq order with no duplicates; a
// gap that does not close by itself (a message the device lost track of) is
// reported by gaps() and the client fills it from history.

export interface GapInfo {
  conversationId: string
  /** Highest contiguous seq; history is read forward from it. */
  afterSeq: number
  /** The gap ends before this seq (the lowest held one). */
  beforeSeq: number
}

interface Track {
  epoch: number
  /** Highest contiguous seq; null while the base is unknown. */
  contiguous: number | null
  /** Seqs above contiguous already seen; the value is the item to release (null: own, nothing to release). */
  held: Map<number, unknown>
  /** Own seqs seen while the base was unknown. */
  ownEarly: Set<number>
  /** Highest seq acknowledged to the server (or taken from its cursor). */
  acked: number
  /** When the current gap appeared (ms), null when there is none. */
  gapSince: number | null
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

  private fresh(epoch: number, contiguous: number | null, acked = 0): Track {
    return { epoch, contiguous, held: new Map(), ownEarly: new Set(), acked, gapSince: null }
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
    for (const [c, t] of this.tracks)
      if (t.contiguous !== null && t.epoch !== 0) out.push([c, { seq: t.contiguous, epoch: t.epoch }])
    return out
  }

  contiguous(conversationId: string): number | null {
    return this.tracks.get(conversationId)?.contiguous ?? null
  }

  epoch(conversationId: string): number {
    return this.tracks.get(conversationId)?.epoch ?? 0
  }

  /**
   * The server told us its cursor for this device (ConversationResult,
   * ConversationList, ConversationUpdated): everything up to it was
   * acknowledged by this device at some point, so it is held.
   */
  setCursor(conversationId: string, cursor: number, epoch: number, now = 0): T[] {
    const t = this.track(conversationId, epoch)
    if (t.acked < cursor) t.acked = cursor
    if (t.contiguous === null) {
      t.contiguous = cursor
      for (const s of t.ownEarly) if (s > cursor) t.held.set(s, null)
      t.ownEarly.clear()
    } else if (t.contiguous < cursor) {
      return this.advanceTo(t, cursor, now)
    }
    return this.release(t, now)
  }

  /**
   * A Deliver arrived. Returns the items the application may now see, in seq
   * order: none for a duplicate or while a gap is open below it.
   */
  deliver(conversationId: string, seq: number, epoch: number, item: T, now = 0): T[] {
    const t = this.track(conversationId, epoch)
    // The server delivers from cursor+1 [RSM-1]; with no base yet, the first
    // Deliver sets it (anything skipped below is this device's own or acked).
    if (t.contiguous === null) this.setBase(t, seq - 1)
    return this.offer(t, seq, item, now)
  }

  /** A SendAck for this device's own message: held, never handed over. [DLV-5] */
  own(conversationId: string, seq: number, epoch: number, now = 0): T[] {
    const t = this.track(conversationId, epoch)
    if (t.contiguous === null) {
      t.ownEarly.add(seq)
      return []
    }
    return this.offer(t, seq, null, now)
  }

  /** A message read from history while filling a gap; item null for own messages. */
  fill(conversationId: string, seq: number, epoch: number, item: T | null, now = 0): T[] {
    const t = this.track(conversationId, epoch)
    if (t.contiguous === null) this.setBase(t, seq - 1)
    return this.offer(t, seq, item, now)
  }

  /**
   * ReplayComplete: the replay of a conversation is every unacked message
   * that is not the device's own [RSM-1], so below the last replayed seq
   * nothing else will ever come: close the gaps up to it.
   */
  replayed(conversationId: string, lastReplayedSeq: number, now = 0): T[] {
    const t = this.tracks.get(conversationId)
    if (t === undefined || t.contiguous === null || t.contiguous >= lastReplayedSeq) return []
    return this.advanceTo(t, lastReplayedSeq, now)
  }

  /** The cumulative ack to send for a conversation, or null when nothing new. [DLV-2] */
  ackDue(conversationId: string): number | null {
    const t = this.tracks.get(conversationId)
    if (t === undefined || t.contiguous === null || t.contiguous <= t.acked) return null
    return t.contiguous
  }

  markAcked(conversationId: string, seq: number): void {
    const t = this.tracks.get(conversationId)
    if (t !== undefined && t.acked < seq) t.acked = seq
  }

  /** After a reconnect the server's cursor is what counts: everything not yet acked must be acked again. */
  resetAcked(): void {
    for (const t of this.tracks.values()) t.acked = 0
  }

  /** Conversations whose gap has been open at least minAgeMs. */
  gaps(now: number, minAgeMs: number): GapInfo[] {
    const out: GapInfo[] = []
    for (const [c, t] of this.tracks) {
      if (t.gapSince === null || t.contiguous === null || now - t.gapSince < minAgeMs) continue
      let low = Number.POSITIVE_INFINITY
      for (const s of t.held.keys()) if (s < low) low = s
      out.push({ conversationId: c, afterSeq: t.contiguous, beforeSeq: low })
    }
    return out
  }

  /** Held items (waiting above a gap), for bounds and diagnostics. */
  heldCount(conversationId: string): number {
    return this.tracks.get(conversationId)?.held.size ?? 0
  }

  private setBase(t: Track, base: number): void {
    t.contiguous = base
    for (const s of t.ownEarly) if (s > base) t.held.set(s, null)
    t.ownEarly.clear()
  }

  private offer(t: Track, seq: number, item: T | null, now: number): T[] {
    const c = t.contiguous as number
    if (seq <= c || t.held.has(seq)) return []
    t.held.set(seq, item)
    return this.release(t, now)
  }

  private advanceTo(t: Track, upTo: number, now: number): T[] {
    const out: T[] = []
    const below = [...t.held.keys()].filter((s) => s <= upTo).sort((a, b) => a - b)
    for (const s of below) {
      const item = t.held.get(s)
      t.held.delete(s)
      if (item !== null && item !== undefined) out.push(item as T)
    }
    t.contiguous = upTo
    return out.concat(this.release(t, now))
  }

  private release(t: Track, now: number): T[] {
    const out: T[] = []
    let c = t.contiguous as number
    while (t.held.size > 0) {
      const next = c + 1
      if (!t.held.has(next)) break
      const item = t.held.get(next)
      t.held.delete(next)
      c = next
      if (item !== null) out.push(item as T)
    }
    t.contiguous = c
    if (t.held.size === 0) t.gapSince = null
    else if (t.gapSince === null) t.gapSince = now
    return out
  }
}
