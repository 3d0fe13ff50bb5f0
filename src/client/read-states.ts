// The user's read state per conversation, as this device knows it: the
// server's last word (MarkReadResult, ReadUpdated, ConversationInfo,
// InboxEntry) plus what was delivered since, so the unread badge moves with
// each message instead of waiting for the next server answer. Pure: no
// sockets, no timers; the client feeds it and persists what it returns.
//
// The server's unread count is exact for the top_seq it reports [RD-5]. A
// state that reports an older top_seq than this device has already seen
// (a ReadUpdated crossing a Deliver) is merged: its count plus the messages
// of others delivered above its top_seq and above its read_seq. Within an
// epoch the read position only grows [RD-2], so a state with a lower
// read_seq is stale and ignored; a new epoch starts over at 0 [RD-8].

/** One conversation's read state; the shape the client persists and emits. */
export interface ReadState {
  conversationId: string
  epoch: number
  /** Highest seq this device knows of (server's top_seq or a later delivery). */
  topSeq: number
  /** The user's read position, shared by all the user's devices. [RD-2] */
  readSeq: number
  /** Messages above readSeq not sent by the user. [RD-5] */
  unreadCount: number
  /** DIRECT: the other member's read position ("seen"); 0 for a group or unknown. */
  peerReadSeq: number
}

/** A read state as the server reported it (any of the frames that carry one). */
export interface ServerReadState {
  conversationId: string
  epoch: number
  topSeq: number
  readSeq: number
  unreadCount: number
  /** Only InboxEntry carries it; undefined keeps the known value. */
  peerReadSeq?: number
}

/**
 * Seqs of other users' messages delivered above the server's last top_seq,
 * kept for merging a late server state. Bounded: a server state normally
 * follows within a round trip or a sync; past this many deliveries without
 * one, the oldest are dropped (a server state that old would then undercount
 * until the next one, never overcount).
 */
export const MAX_TRACKED_DELIVERIES = 4096

interface Track {
  state: ReadState
  /** Ascending seqs of others' messages delivered above serverTop. */
  above: number[]
  /** top_seq of the last server state applied. */
  serverTop: number
}

export class ReadStates {
  private readonly tracks = new Map<string, Track>()

  /** Start from states a store kept. */
  constructor(states?: Iterable<ReadState>) {
    if (states !== undefined) {
      for (const s of states) this.tracks.set(s.conversationId, { state: { ...s }, above: [], serverTop: s.topSeq })
    }
  }

  get(conversationId: string): ReadState | undefined {
    const t = this.tracks.get(conversationId)
    return t === undefined ? undefined : { ...t.state }
  }

  all(): ReadState[] {
    return [...this.tracks.values()].map((t) => ({ ...t.state }))
  }

  /** Sum of the unread counts: the app badge. */
  totalUnread(): number {
    let n = 0
    for (const t of this.tracks.values()) n += t.state.unreadCount
    return n
  }

  /**
   * Apply a state the server reported. Returns the new local state when it
   * changed anything, null when it was stale or changed nothing.
   */
  applyServer(s: ServerReadState): ReadState | null {
    const t = this.tracks.get(s.conversationId)
    if (t === undefined || s.epoch > t.state.epoch) {
      const state: ReadState = {
        conversationId: s.conversationId,
        epoch: s.epoch,
        topSeq: s.topSeq,
        readSeq: s.readSeq,
        unreadCount: s.unreadCount,
        peerReadSeq: s.peerReadSeq ?? 0,
      }
      this.tracks.set(s.conversationId, { state, above: [], serverTop: s.topSeq })
      return { ...state }
    }
    if (s.epoch < t.state.epoch || s.readSeq < t.state.readSeq) return null
    // Same read position but an older top than a state already applied: older news.
    if (s.readSeq === t.state.readSeq && s.topSeq < t.serverTop) {
      return this.peerOnly(t, s.peerReadSeq)
    }
    const before = { ...t.state }
    // Deliveries this state does not cover yet: above its top and its read position.
    t.above = t.above.filter((seq) => seq > s.topSeq)
    const late = t.above.filter((seq) => seq > s.readSeq).length
    t.serverTop = Math.max(t.serverTop, s.topSeq)
    t.state.readSeq = s.readSeq
    t.state.topSeq = Math.max(s.topSeq, t.state.topSeq)
    t.state.unreadCount = s.unreadCount + late
    this.peerOnly(t, s.peerReadSeq)
    return changed(before, t.state) ? { ...t.state } : null
  }

  /**
   * A message reached the application (delivered, replayed or pulled from
   * history) or this device's own send was acked. Others' messages above the
   * read position count as unread; own ones only raise top_seq. Unknown
   * conversations are left alone: without a server state there is no read
   * position to count from.
   */
  message(conversationId: string, seq: number, epoch: number, fromOtherUser: boolean): ReadState | null {
    const t = this.tracks.get(conversationId)
    if (t === undefined || epoch < t.state.epoch) return null
    if (epoch > t.state.epoch) {
      // [RD-8] a new epoch resets the read position to 0.
      t.state = { conversationId, epoch, topSeq: 0, readSeq: 0, unreadCount: 0, peerReadSeq: 0 }
      t.above = []
      t.serverTop = 0
    }
    if (seq <= t.state.topSeq) return null
    t.state.topSeq = seq
    if (fromOtherUser && seq > t.state.readSeq) {
      t.state.unreadCount++
      t.above.push(seq)
      if (t.above.length > MAX_TRACKED_DELIVERIES) t.above.shift()
    }
    return { ...t.state }
  }

  private peerOnly(t: Track, peerReadSeq: number | undefined): ReadState | null {
    if (peerReadSeq === undefined || peerReadSeq <= t.state.peerReadSeq) return null
    t.state.peerReadSeq = peerReadSeq
    return { ...t.state }
  }

  /** The user joined at top_seq: everything before counts as read. [RD-2] */
  joined(conversationId: string, epoch: number, topSeq: number): ReadState | null {
    const t = this.tracks.get(conversationId)
    // A state already at or past the join (the ConversationResult came first) is newer.
    if (t !== undefined && t.state.epoch === epoch && t.state.topSeq >= topSeq && t.state.readSeq >= topSeq) return null
    const state: ReadState = { conversationId, epoch, topSeq, readSeq: topSeq, unreadCount: 0, peerReadSeq: 0 }
    this.tracks.set(conversationId, { state, above: [], serverTop: topSeq })
    return { ...state }
  }

  /** The other member of a DIRECT conversation read up to readSeq ([RD-4] PeerRead). */
  peerRead(conversationId: string, epoch: number, readSeq: number): ReadState | null {
    const t = this.tracks.get(conversationId)
    if (t === undefined || epoch !== t.state.epoch || readSeq <= t.state.peerReadSeq) return null
    t.state.peerReadSeq = readSeq
    return { ...t.state }
  }

  /** The user left or was removed: nothing to count any more. */
  forget(conversationId: string): boolean {
    return this.tracks.delete(conversationId)
  }
}

function changed(a: ReadState, b: ReadState): boolean {
  return (
    a.epoch !== b.epoch ||
    a.topSeq !== b.topSeq ||
    a.readSeq !== b.readSeq ||
    a.unreadCount !== b.unreadCount ||
    a.peerReadSeq !== b.peerReadSeq
  )
}
