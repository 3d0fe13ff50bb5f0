// The synchronous table access the store engine runs on. Two backends:
// memory-tables.ts (tests) and sqlite-tables.ts (durable). All rules live in
// engine.ts, so both stores behave the same by construction and the store
// tests run against both.
import type { ConversationKind } from '../../gen/es/imwire/v1/conversation_pb.js'
import type { StoredMessage } from '../../session/store-ops.js'

export interface ConversationRow {
  id: string
  kind: ConversationKind
  owner: string
  title: string
  epoch: number
  topSeq: number
  /**
   * [INB-2] The change number of the latest message, or of the creation when
   * there is none. 0 on a backend that does not track changes.
   */
  activity: number
  /**
   * The latest change every member's sync must report [INB-5]: a message, a
   * membership change, the creation, and in a DIRECT conversation a read
   * position's move of either member.
   */
  changed: number
  /** server_time_ms of the latest message, 0 when none. [HIS-11] */
  lastTimeMs: number
}

/**
 * One user's read state in one conversation [RD-2]. Kept after the user is
 * removed or leaves (member false, a tombstone) so that sync can report the
 * removal [INB-5].
 */
export interface ReadRow {
  readSeq: number
  /**
   * The user's own messages with seq above readSeq: unread = (top_seq -
   * readSeq) - ownAfterRead [RD-5]. Moved by the user's own sends and by
   * MarkRead, never by a scan at listing time.
   */
  ownAfterRead: number
  /** Change number of the user's latest join, removal or read move. [INB-5] */
  changed: number
  member: boolean
}

/** One item of an incremental sync: a conversation of the user and its latest change. [INB-5] */
export interface SyncItem {
  conversationId: string
  member: boolean
  /** member: max(conversation changed, row changed); tombstone: the row's changed. */
  change: number
}

export interface Tables {
  getConversation(id: string): ConversationRow | undefined
  insertConversation(row: ConversationRow): void
  setTopSeq(id: string, topSeq: number): void
  setOwner(id: string, owner: string): void
  /** Members, ascending by byte value. */
  members(conversationId: string): string[]
  isMember(conversationId: string, userId: string): boolean
  addMember(conversationId: string, userId: string): void
  removeMember(conversationId: string, userId: string): void
  /** The user's conversation ids after `afterId` (exclusive), ascending, at most `limit`. */
  userConversations(userId: string, afterId: string, limit: number): string[]
  /** The message a (sender user, client_msg_id) committed, if any. [DUP-1] */
  findByClientMsgId(userId: string, clientMsgId: Uint8Array): StoredMessage | undefined
  /**
   * Insert a message; false (and nothing written) when its (sender user,
   * client_msg_id) is taken. The dedupe key does the lookup for free. [DUP-1]
   */
  insertMessage(m: StoredMessage): boolean
  /** Seqs in (afterSeq, upToSeq], ascending, at most `limit`. */
  readForward(conversationId: string, afterSeq: number, upToSeq: number, limit: number): StoredMessage[]
  /** Seqs below `beforeSeq`, the highest `limit` of them, ascending. */
  readBackward(conversationId: string, beforeSeq: number, limit: number): StoredMessage[]
  /** Like readForward but skipping one device's own messages. [DLV-5] */
  readReplay(
    conversationId: string,
    afterSeq: number,
    upToSeq: number,
    limit: number,
    excludeUserId: string,
    excludeDeviceId: string,
  ): StoredMessage[]
  getSendSeq(userId: string, deviceId: string, conversationId: string): number
  setSendSeq(userId: string, deviceId: string, conversationId: string, sendSeq: number): void
  getCursor(userId: string, deviceId: string, conversationId: string): number
  setCursor(userId: string, deviceId: string, conversationId: string, cursor: number): void
  /** A number never handed out before (durable, in the transaction). [ACK-5] */
  nextMessageNumber(): number
  touchDevice(userId: string, deviceId: string, nowMs: number): void

  // --- features read-state, inbox, history-time ------------------------------
  // The engine calls the methods below only when tracksChanges is true; a
  // backend without them (the cluster, for now) sets it false and the
  // server does not offer the three features.

  /** Change numbers, read rows and per-conversation activity are kept. */
  readonly tracksChanges: boolean
  /** The latest change number handed out (0 before any). [INB-4] */
  currentChange(): number
  /** A change number above every one handed out before (durable, in the transaction). [INB-2] */
  nextChange(): number
  /** Record a change of a conversation: `changed`, and when not null `activity` and `lastTimeMs`. */
  setConversationChange(id: string, changed: number, activity: number | null, lastTimeMs: number | null): void
  getReadRow(conversationId: string, userId: string): ReadRow | undefined
  putReadRow(conversationId: string, userId: string, row: ReadRow): void
  /** The user's own messages with seq in (afterSeq, upToSeq]. [RD-5] */
  countOwnMessages(conversationId: string, userId: string, afterSeq: number, upToSeq: number): number
  /** Current members other than `excludeUserId` whose read position is at or above `seq`. [RD-7] */
  countReaders(conversationId: string, seq: number, excludeUserId: string): number
  /**
   * The user's conversations (member rows) with activity below
   * `beforeActivity` (no bound when 0), activity descending, at most `limit`. [INB-3]
   */
  inboxConversations(userId: string, beforeActivity: number, limit: number): string[]
  /**
   * The user's rows changed after `since` (member rows by their item change,
   * tombstones by the row's change; tombstones only when `withTombstones`),
   * by change ascending, at most `limit`. [INB-5]
   */
  changedConversations(userId: string, since: number, limit: number, withTombstones: boolean): SyncItem[]
  /**
   * The lowest seq whose server_time_ms is at or after `timeMs`, or top_seq +
   * 1 when none is (times never decrease in seq [HIS-11]). [HIS-10]
   */
  firstSeqAtOrAfter(conversationId: string, timeMs: number, topSeq: number): number
}

/**
 * [HIS-10] The lowest seq in 1..topSeq whose time is at or after `timeMs`, or
 * topSeq + 1: a binary search over point reads by seq, which times never
 * decreasing in seq [HIS-11] make exact. About log2(top_seq) reads per
 * time-anchored page, instead of an index on (conversation, time) that every
 * message's insert would pay for.
 */
export function searchFirstAtOrAfter(timeOf: (seq: number) => number, timeMs: number, topSeq: number): number {
  let lo = 1
  let hi = topSeq + 1
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2)
    if (timeOf(mid) >= timeMs) hi = mid
    else lo = mid + 1
  }
  return lo
}

/**
 * message_id: "m" + a server-wide counter in base 36, never reused (the
 * counter commits with the message). Short, and within the id syntax of
 * [GEN-5] whatever the conversation id. [ACK-5]
 */
export function messageIdOf(n: number): string {
  return `m${n.toString(36)}`
}
