// The store's rules for the features read-state and inbox (spec section 22),
// over the same Tables as engine.ts, which calls the hooks at the top of this
// file from its commits. Only on a backend that tracks changes
// (Tables.tracksChanges); elsewhere the server does not offer the features.
//
// No per-message fan-out writes: a message writes its conversation row
// (activity, changed) and at most the sender's read row (own_after_read);
// every other member's unread count is derived at read time as
// (top_seq - read_seq) - own_after_read [RD-5].
import { INBOX_LISTED_MEMBERS } from '../../codec/index.js'
import { ConversationKind } from '../../gen/es/imwire/v1/conversation_pb.js'
import { ErrorCode } from '../../gen/es/imwire/v1/control_pb.js'
import type {
  InboxEntryView,
  InboxOp,
  InboxResult,
  MarkReadOp,
  MarkReadResult,
  OpError,
  ReadCountOp,
  ReadCountResult,
  ReadStateView,
  StoredMessage,
  SyncOp,
  SyncResult,
} from '../../session/store-ops.js'
import type { ConversationRow, ReadRow, Tables } from './tables.js'

const fail = (code: ErrorCode, message: string): OpError => ({ ok: false, code, message })


// --- hooks called by engine.ts's commits ------------------------------------

/** A user joins (creation, AddMembers, re-add): reads from top_seq on. [RD-2] */
export function joined(t: Tables, c: ConversationRow, userId: string, change: number): void {
  t.putReadRow(c.id, userId, { readSeq: c.topSeq, ownAfterRead: 0, changed: change, member: true })
}

/** A user was removed or left: the row stays as a tombstone for sync. [INB-5] */
export function departed(t: Tables, conversationId: string, userId: string, change: number): void {
  const r = t.getReadRow(conversationId, userId)
  if (r !== undefined) t.putReadRow(conversationId, userId, { ...r, changed: change, member: false })
}

/** A message committed: its own change is the conversation's activity [INB-2]; one own message more above the sender's read position. */
export function messageCommitted(t: Tables, m: StoredMessage): void {
  const change = t.nextChange()
  t.setConversationChange(m.conversationId, change, change, m.serverTimeMs)
  const r = t.getReadRow(m.conversationId, m.senderUserId)
  if (r !== undefined) t.putReadRow(m.conversationId, m.senderUserId, { ...r, ownAfterRead: r.ownAfterRead + 1 })
}

/** The membership changed: every member's sync reports the conversation. [INB-5] */
export function membershipChanged(t: Tables, conversationId: string): number {
  const change = t.nextChange()
  t.setConversationChange(conversationId, change, null, null)
  return change
}

// --- reading ------------------------------------------------------------------

/** A member's row; a member always has one (joins write it), the fallback only guards old data. */
function readRowOf(t: Tables, c: ConversationRow, userId: string): ReadRow {
  return t.getReadRow(c.id, userId) ?? { readSeq: 0, ownAfterRead: 0, changed: 0, member: true }
}

/** [RD-5] exact: messages in (read_seq, top_seq] not sent by the user. */
function unreadOf(c: ConversationRow, r: ReadRow): number {
  return Math.max(0, c.topSeq - r.readSeq - r.ownAfterRead)
}

/** The user's read position and unread count, for ConversationInfo. [RD-6] */
export function readFields(t: Tables, c: ConversationRow, userId: string): { readSeq: number; unreadCount: number } {
  if (!t.tracksChanges) return { readSeq: 0, unreadCount: 0 }
  const r = readRowOf(t, c, userId)
  return { readSeq: r.readSeq, unreadCount: unreadOf(c, r) }
}

function stateOf(c: ConversationRow, r: ReadRow): ReadStateView {
  return { conversationId: c.id, epoch: c.epoch, topSeq: c.topSeq, readSeq: r.readSeq, unreadCount: unreadOf(c, r) }
}

function memberConversation(t: Tables, id: string, userId: string): ConversationRow | undefined {
  const c = t.getConversation(id)
  return c !== undefined && t.isMember(id, userId) ? c : undefined
}

const notFound = (): OpError => fail(ErrorCode.CONVERSATION_NOT_FOUND, 'conversation not found')

// --- MarkRead and ReadCountRequest ----------------------------------------------

/** [RD-3] steps 3 on (the session checked request_id and the id's syntax). */
export function markRead(t: Tables, op: MarkReadOp): MarkReadResult {
  const c = memberConversation(t, op.conversationId, op.userId)
  if (c === undefined) return notFound()
  const r = readRowOf(t, c, op.userId)
  // [RD-3] another epoch changes nothing: the current state, not moved.
  if (op.epoch !== c.epoch) return { ok: true, state: stateOf(c, r), moved: false, readNotices: null }
  if (op.upToSeq > c.topSeq) return fail(ErrorCode.BAD_REQUEST, 'up_to_seq above top_seq') // [RD-3]
  // [RD-2] only grows; [RD-3] a repeat is idempotent.
  if (op.upToSeq <= r.readSeq) return { ok: true, state: stateOf(c, r), moved: false, readNotices: null }
  const own = t.countOwnMessages(c.id, op.userId, r.readSeq, op.upToSeq)
  const change = t.nextChange()
  const moved: ReadRow = { readSeq: op.upToSeq, ownAfterRead: r.ownAfterRead - own, changed: change, member: true }
  t.putReadRow(c.id, op.userId, moved)
  let peerUserId: string | null = null
  if (c.kind === ConversationKind.DIRECT) {
    // [INB-5] the other member's sync reports it too.
    t.setConversationChange(c.id, change, null, null)
    peerUserId = t.members(c.id).find((u) => u !== op.userId) ?? null
  }
  // [RD-4] who hears of it; the hub sends after the commit.
  const readNotices = { userId: op.userId, exceptDeviceId: op.deviceId, peerUserId }
  return { ok: true, state: stateOf(c, moved), moved: true, readNotices }
}

/** [RD-7] */
export function readCount(t: Tables, op: ReadCountOp): ReadCountResult {
  const c = memberConversation(t, op.conversationId, op.userId)
  if (c === undefined) return notFound()
  if (op.seq === 0 || op.seq > c.topSeq) return fail(ErrorCode.BAD_REQUEST, 'seq must be 1 to top_seq')
  const sender = (t.readForward(c.id, op.seq - 1, op.seq, 1)[0] as StoredMessage).senderUserId
  const memberCount = t.members(c.id).filter((u) => u !== sender).length
  return { ok: true, epoch: c.epoch, readCount: t.countReaders(c.id, op.seq, sender), memberCount }
}

// --- inbox and sync ----------------------------------------------------------------

interface EntryOptions {
  userId: string
  deviceId: string
  includeMembers: boolean
  previewBytes: number
}

/** One InboxEntry. [INB-3] */
function entryOf(t: Tables, id: string, o: EntryOptions): InboxEntryView {
  const c = t.getConversation(id) as ConversationRow
  const members = t.members(id)
  const r = readRowOf(t, c, o.userId)
  let lastMessage: StoredMessage | null = null
  let lastMessageBodyBytes = 0
  if (c.topSeq > 0) {
    const m = t.readForward(id, c.topSeq - 1, c.topSeq, 1)[0] as StoredMessage
    lastMessageBodyBytes = m.body.length
    // A copy, not a view: a view would carry the whole body across the worker port.
    lastMessage = { ...m, body: m.body.slice(0, o.previewBytes) }
  }
  let peerReadSeq = 0
  if (c.kind === ConversationKind.DIRECT) {
    const peer = members.find((u) => u !== o.userId)
    if (peer !== undefined) peerReadSeq = t.getReadRow(id, peer)?.readSeq ?? 0
  }
  return {
    conversationId: id,
    kind: c.kind,
    epoch: c.epoch,
    topSeq: c.topSeq,
    cursor: t.getCursor(o.userId, o.deviceId, id),
    members: members.length <= INBOX_LISTED_MEMBERS || o.includeMembers ? members : [],
    memberCount: members.length,
    owner: c.owner,
    title: c.title,
    readSeq: r.readSeq,
    unreadCount: unreadOf(c, r),
    activity: c.activity,
    lastMessage,
    lastMessageBodyBytes,
    peerReadSeq,
  }
}

/** [INB-3] activity descending, keyset-paged by before_activity; [INB-4] the sync point is read in the same transaction. */
export function inbox(t: Tables, op: InboxOp): InboxResult {
  const ids = t.inboxConversations(op.userId, op.beforeActivity, op.limit + 1)
  const hasMore = ids.length > op.limit
  const entries = ids.slice(0, op.limit).map((id) => entryOf(t, id, op))
  return { ok: true, entries, hasMore, syncPoint: t.currentChange() }
}

/** [INB-5] [INB-6] */
export function sync(t: Tables, op: SyncOp): SyncResult {
  const current = t.currentChange()
  if (op.since > current) return fail(ErrorCode.BAD_REQUEST, 'since is above the current change number') // [INB-5]
  // [INB-6] a full sync lists no removals: the device has nothing to remove.
  const items = t.changedConversations(op.userId, op.since, op.limit + 1, op.since !== 0)
  const hasMore = items.length > op.limit
  const page = items.slice(0, op.limit).map((i) =>
    i.member
      ? { change: i.change, entry: entryOf(t, i.conversationId, op) }
      : { change: i.change, removed: i.conversationId },
  )
  return { ok: true, items: page, hasMore, current }
}
