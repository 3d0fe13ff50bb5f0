// The client's side of "read-state" and "inbox": the read states and the
// conversation list this device holds, what moves them, what is persisted,
// and the events the application sees. The client feeds it the frames and
// deliveries; it never touches a socket (requests go through InboxRequests).
import { ConversationKind, type ConversationInfo } from '../gen/es/imwire/v1/conversation_pb.js'
import type { InboxEntry, InboxPage, PeerRead, ReadState as WireReadState } from '../gen/es/imwire/v1/inbox_pb.js'
import { ErrorCode } from '../gen/es/imwire/v1/control_pb.js'
import { ClientError } from './client-error.js'
import type { ClientStore, StoredClientState, StoreOp } from './client-store.js'
import type { InboxPageOptions, InboxRequests } from './inbox-requests.js'
import { byActivity, type InboxDelta, type InboxFetchOptions, loadWholeInbox, syncSince } from './inbox-sync.js'
import { type ReadState, ReadStates, type ServerReadState } from './read-states.js'

/** What moved a read state. */
export type ReadStateSource =
  | 'markRead'
  | 'readUpdated'
  | 'conversation'
  | 'inbox'
  | 'sync'
  | 'message'
  | 'joined'
  | 'peerRead'

export interface MarkReadOutcome {
  /** This device's read state after the answer. */
  state: ReadState
  /** The server moved the read position. [RD-3] */
  moved: boolean
}

export interface PeerReadInfo {
  conversationId: string
  epoch: number
  /** The other member. */
  userId: string
  /** Every message at or below it was read by them ("seen"). */
  readSeq: number
}

export interface ReadCountInfo {
  conversationId: string
  epoch: number
  seq: number
  /** Members other than the sender whose read position is at or above seq. [RD-7] */
  readCount: number
  /** Members other than the sender. */
  memberCount: number
}

export interface ReadInboxEvents {
  readState(s: ReadState, source: ReadStateSource): void
  peerRead(p: PeerReadInfo): void
  inbox(d: InboxDelta): void
}

export class ReadInbox {
  private readonly states: ReadStates
  private readonly list: Map<string, InboxEntry>
  private point: number
  private readonly store: ClientStore
  private readonly requests: InboxRequests
  private readonly events: ReadInboxEvents
  /** One sync or load at a time: each starts from the point the previous one stored. */
  private chain: Promise<unknown> = Promise.resolve()

  constructor(store: ClientStore, stored: StoredClientState, requests: InboxRequests, events: ReadInboxEvents) {
    this.store = store
    this.requests = requests
    this.events = events
    this.states = new ReadStates(stored.readStates.values())
    this.list = new Map(stored.inbox)
    this.point = stored.syncPoint
  }

  get syncPoint(): number {
    return this.point
  }

  readState(conversationId: string): ReadState | undefined {
    return this.states.get(conversationId)
  }

  readStates(): ReadState[] {
    return this.states.all()
  }

  totalUnread(): number {
    return this.states.totalUnread()
  }

  /**
   * The local conversation list, newest activity first, each entry's read
   * state replaced by the live one (deliveries and reads since the last sync).
   * Activity itself only moves with a sync: it is the server's change number.
   */
  entries(): InboxEntry[] {
    return byActivity(this.list.values()).map((e) => {
      const s = this.states.get(e.conversationId)
      if (s === undefined || BigInt(s.epoch) !== e.epoch) return e
      return {
        ...e,
        topSeq: BigInt(s.topSeq),
        readSeq: BigInt(s.readSeq),
        unreadCount: BigInt(s.unreadCount),
        peerReadSeq: BigInt(s.peerReadSeq),
      }
    })
  }

  // --- requests --------------------------------------------------------------

  async markRead(conversationId: string, upToSeq: number, fallbackEpoch: number): Promise<MarkReadOutcome> {
    const epoch = this.states.get(conversationId)?.epoch ?? Number(this.list.get(conversationId)?.epoch ?? 0)
    const known = epoch || fallbackEpoch
    let r = await this.requests.markRead(conversationId, known, upToSeq)
    // With no epoch known at all, the answer tells it; an epoch we did know
    // and the server disowned means up_to_seq named other messages. [RD-3]
    if (known === 0 && !r.moved && r.state !== undefined && r.state.epoch !== 0n) {
      r = await this.requests.markRead(conversationId, Number(r.state.epoch), upToSeq)
    }
    if (r.state !== undefined) this.applyServer(fromWire(r.state), 'markRead')
    const state = this.states.get(conversationId) ?? (r.state !== undefined ? local(fromWire(r.state)) : undefined)
    if (state === undefined) throw new ClientError('REJECTED', 'MarkReadResult without a state')
    return { state, moved: r.moved }
  }

  async readCount(conversationId: string, seq: number): Promise<ReadCountInfo> {
    const r = await this.requests.readCount(conversationId, seq)
    return {
      conversationId: r.conversationId,
      epoch: Number(r.epoch),
      seq: Number(r.seq),
      readCount: r.readCount,
      memberCount: r.memberCount,
    }
  }

  /** One page of the inbox; its read states are applied, the local list is left to sync. */
  async inboxPage(opts: InboxPageOptions): Promise<InboxPage> {
    const page = await this.requests.inboxPage(opts)
    for (const e of page.entries) this.applyServer(fromEntry(e), 'inbox')
    return page
  }

  /** The whole inbox by keyset paging plus a sync; replaces the local list. */
  loadInbox(opts: InboxFetchOptions = {}): Promise<InboxEntry[]> {
    return this.serial(async () => {
      const d = await loadWholeInbox(this.requests, opts)
      await this.applyDelta(d, 'inbox')
      return d.entries
    })
  }

  /**
   * What changed since the stored sync point (everything when there is none),
   * applied to the local list. A server that does not know the point (restored
   * from a backup) answers BAD_REQUEST: then a full sync from 0. [INB-5] [INB-6]
   */
  sync(opts: InboxFetchOptions = {}): Promise<InboxDelta> {
    return this.serial(async () => {
      let d: InboxDelta
      try {
        d = await syncSince(this.requests, this.point, opts)
      } catch (err) {
        const unknownPoint = this.point !== 0 && err instanceof ClientError && err.errorCode === ErrorCode.BAD_REQUEST
        if (!unknownPoint) throw err
        d = await syncSince(this.requests, 0, opts)
      }
      await this.applyDelta(d, 'sync')
      return d
    })
  }

  private serial<T>(run: () => Promise<T>): Promise<T> {
    const p = this.chain.then(run, run)
    this.chain = p.catch(() => {})
    return p
  }

  private async applyDelta(d: InboxDelta, source: ReadStateSource): Promise<void> {
    const ops: StoreOp[] = []
    if (d.full) {
      // Conversations the full list no longer holds are gone for the user.
      const keep = new Set(d.entries.map((e) => e.conversationId))
      for (const id of this.list.keys()) if (!keep.has(id)) this.forget(id, ops)
      this.list.clear()
      ops.push({ op: 'inboxClear' })
    }
    for (const id of d.removed) this.forget(id, ops)
    for (const e of d.entries) {
      this.list.set(e.conversationId, e)
      ops.push({ op: 'inboxPut', entry: e })
      this.applyServer(fromEntry(e), source, ops)
    }
    this.point = d.syncPoint
    // Last: see client-store.ts (a torn journal loses the point first).
    ops.push({ op: 'syncPoint', point: d.syncPoint })
    await this.store.write(ops)
    this.events.inbox(d)
  }

  private forget(conversationId: string, ops: StoreOp[]): void {
    this.list.delete(conversationId)
    ops.push({ op: 'inboxDelete', conversationId })
    if (this.states.forget(conversationId)) ops.push({ op: 'readStateDelete', conversationId })
  }

  // --- what the client feeds in ----------------------------------------------

  /** A ReadState from any frame (MarkReadResult, ReadUpdated) or a listing. */
  applyServer(s: ServerReadState, source: ReadStateSource, batch?: StoreOp[]): void {
    const next = this.states.applyServer(s)
    if (next !== null) this.changed(next, source, batch)
  }

  onReadUpdated(s: WireReadState): void {
    this.applyServer(fromWire(s), 'readUpdated')
  }

  onPeerRead(p: PeerRead): void {
    const next = this.states.peerRead(p.conversationId, Number(p.epoch), Number(p.readSeq))
    if (next === null) return
    this.changed(next, 'peerRead')
    this.events.peerRead({
      conversationId: p.conversationId,
      epoch: Number(p.epoch),
      userId: p.userId,
      readSeq: Number(p.readSeq),
    })
  }

  /** ConversationInfo on a connection with "read-state" carries the user's read state. [RD-6] */
  onConversationInfo(c: ConversationInfo): void {
    this.applyServer(
      {
        conversationId: c.conversationId,
        epoch: Number(c.epoch),
        topSeq: Number(c.topSeq),
        readSeq: Number(c.readSeq),
        unreadCount: Number(c.unreadCount),
      },
      'conversation',
    )
  }

  onMessage(conversationId: string, seq: number, epoch: number, fromOtherUser: boolean): void {
    const next = this.states.message(conversationId, seq, epoch, fromOtherUser)
    if (next !== null) this.changed(next, 'message')
  }

  /** JOINED: the read position starts at the top_seq of the join. [RD-2] */
  onJoined(conversationId: string, epoch: number, topSeq: number): void {
    const next = this.states.joined(conversationId, epoch, topSeq)
    if (next !== null) this.changed(next, 'joined')
  }

  /** REMOVED: nothing to read there any more (a sync confirms it). */
  onRemoved(conversationId: string): void {
    const ops: StoreOp[] = []
    this.forget(conversationId, ops)
    void this.store.write(ops).catch(() => {})
  }

  private changed(s: ReadState, source: ReadStateSource, batch?: StoreOp[]): void {
    const op: StoreOp = { op: 'readState', state: s }
    if (batch !== undefined) batch.push(op)
    else void this.store.write([op]).catch(() => {})
    this.events.readState(s, source)
  }
}

function fromWire(s: WireReadState): ServerReadState {
  return {
    conversationId: s.conversationId,
    epoch: Number(s.epoch),
    topSeq: Number(s.topSeq),
    readSeq: Number(s.readSeq),
    unreadCount: Number(s.unreadCount),
  }
}

function fromEntry(e: InboxEntry): ServerReadState {
  return {
    conversationId: e.conversationId,
    epoch: Number(e.epoch),
    topSeq: Number(e.topSeq),
    readSeq: Number(e.readSeq),
    unreadCount: Number(e.unreadCount),
    peerReadSeq: e.kind === ConversationKind.DIRECT ? Number(e.peerReadSeq) : undefined,
  }
}

function local(s: ServerReadState): ReadState {
  return { ...s, peerReadSeq: s.peerReadSeq ?? 0 }
}
