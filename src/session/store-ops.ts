// What the session asks of storage, and what it gets back. Plain data
// (structured-clonable: it crosses to the SQLite worker thread). The session
// never calls a store: it emits these as effects and receives the results as
// events; the server runs them against its Store. Seqs are numbers (see
// ids.ts seqFromWire); the server never produces one above 2^53.
import type { ConversationKind, UpdateReason } from '../gen/es/imwire/v1/conversation_pb.js'
import type { ErrorCode } from '../gen/es/imwire/v1/control_pb.js'

/** One committed message as stored. */
export interface StoredMessage {
  conversationId: string
  seq: number
  messageId: string
  senderUserId: string
  senderDeviceId: string
  clientMsgId: Uint8Array
  serverTimeMs: number
  contentType: string
  body: Uint8Array
}

/** A conversation as one device sees it (ConversationInfo). */
export interface ConversationView {
  conversationId: string
  kind: ConversationKind
  epoch: number
  topSeq: number
  /** This device's delivery cursor. */
  cursor: number
  members: string[]
  owner: string
  title: string
  /** The user's read position. [RD-2] Always computed; on the wire only with "read-state". [RD-1] */
  readSeq: number
  /** Exact unread count. [RD-5] */
  unreadCount: number
}

/** One user's read state in one conversation (ReadState). [RD-5] */
export interface ReadStateView {
  conversationId: string
  epoch: number
  topSeq: number
  readSeq: number
  unreadCount: number
}

/** One conversation as a device's conversation list shows it (InboxEntry). [INB-3] */
export interface InboxEntryView extends ConversationView {
  activity: number
  /** The message at top_seq, body cut to the preview size; null when top_seq is 0. */
  lastMessage: StoredMessage | null
  lastMessageBodyBytes: number
  /** DIRECT: the other member's read position; 0 for a group. */
  peerReadSeq: number
  /** Members are listed (member_count <= 8 or include_members); else `members` is empty. */
  memberCount: number
}

/** A refusal with the protocol's error code. */
export interface OpError {
  ok: false
  code: ErrorCode
  message: string
  /** For SEND_OUT_OF_ORDER. [ORD-3] */
  expectedSendSeq?: number
}

export interface ResumePosition {
  conversationId: string
  seq: number
  epoch: number
}

// --- operations ------------------------------------------------------------

/** Session start: record the device, apply Hello.resume as acks, snapshot positions. [RSM-1] [RSM-4] */
export interface OpenDeviceOp {
  op: 'openDevice'
  userId: string
  deviceId: string
  resume: ResumePosition[]
  nowMs: number
}
export interface ReplayState {
  conversationId: string
  epoch: number
  topSeq: number
  /** Cursor after applying the resume positions. */
  cursor: number
  /** A resume position named another epoch. [RSM-4] */
  epochChanged: boolean
}
export type OpenDeviceResult =
  | {
      ok: true
      conversations: ReplayState[]
      /**
       * Cluster mode: the commit-log position the snapshot includes. Live
       * traffic committed at or below it reaches the session late (another
       * node committed it before the snapshot): it is not sent. [CNV-6] [RSM-7]
       */
      livePosition?: number
    }
  /** A resume position above top_seq. [RSM-4] [DLV-3] */
  | { ok: false; ackTooHigh: string }

/** Replay read: up to `limit` messages in (afterSeq, upToSeq] not sent by the device. [RSM-1] [DLV-5] */
export interface ReadReplayOp {
  op: 'readReplay'
  conversationId: string
  afterSeq: number
  upToSeq: number
  limit: number
  excludeUserId: string
  excludeDeviceId: string
}
export type ReadReplayResult = { ok: true; messages: StoredMessage[] }

/** Commit one Send (membership, dedupe, send_seq, seq, message). [DUP-1] [ORD-1] [ORD-2] */
export interface SendOp {
  op: 'send'
  userId: string
  deviceId: string
  conversationId: string
  clientMsgId: Uint8Array
  /** 0 = no ordering check. Infinity never reaches the store (the session refuses it). */
  sendSeq: number
  contentType: string
  body: Uint8Array
  nowMs: number
}
export type SendResult =
  | {
      ok: true
      duplicate: boolean
      epoch: number
      message: StoredMessage
      /** Members at commit, for fan-out; empty for a duplicate. [FAN-1] [FAN-2] */
      members: string[]
    }
  | OpError

/** Cumulative delivery ack. [DLV-2] [DLV-3] [DLV-4] */
export interface AckOp {
  op: 'ack'
  userId: string
  deviceId: string
  conversationId: string
  upToSeq: number
}
export type AckResult = { ok: true; outcome: 'moved' | 'ignored' | 'tooHigh' }

export interface HistoryOp {
  op: 'history'
  userId: string
  deviceId: string
  conversationId: string
  backward: boolean
  /** Exclusive anchor; backward with 0 = from the top. [HIS-1] */
  anchorSeq: number
  /**
   * [HIS-10] Not 0: read by server_time_ms instead of seq (only set when
   * "history-time" is enabled on the connection).
   */
  anchorTimeMs?: number
  limit: number
}
export type HistoryResult =
  | { ok: true; epoch: number; topSeq: number; messages: StoredMessage[]; hasMore: boolean }
  | OpError

export interface ListOp {
  op: 'list'
  userId: string
  deviceId: string
  afterConversationId: string
  limit: number
}
export type ListResult = { ok: true; conversations: ConversationView[]; hasMore: boolean }

/** A notice the hub sends (MemberNotice; a connection queues it as a session/delivery ConversationNotice) to the online devices of one user. [CNV-6] */
export interface MemberNotice {
  userId: string
  reason: UpdateReason
  /** Skip this device (the one that made the change). */
  exceptDeviceId?: string
}

export interface CreateOp {
  op: 'create'
  userId: string
  deviceId: string
  conversationId: string
  kind: ConversationKind
  members: string[]
  title: string
  maxMembers: number
}
export interface MembersOp {
  op: 'addMembers' | 'removeMembers'
  userId: string
  deviceId: string
  conversationId: string
  userIds: string[]
  maxMembers: number
}
export interface LeaveOp {
  op: 'leave'
  userId: string
  deviceId: string
  conversationId: string
}
export type ConversationOpResult =
  | { ok: true; conversation: ConversationView; notices: MemberNotice[]; epoch: number; topSeq: number }
  | OpError

/** MarkRead. [RD-3] */
export interface MarkReadOp {
  op: 'markRead'
  userId: string
  deviceId: string
  conversationId: string
  epoch: number
  upToSeq: number
}
/** Who the hub tells about a moved read position. [RD-4] */
export interface ReadNotices {
  /** ReadUpdated to this user's other devices (not `exceptDeviceId`). */
  userId: string
  exceptDeviceId: string
  /** DIRECT: PeerRead to the other member's devices; null for a group. */
  peerUserId: string | null
}
export type MarkReadResult =
  | { ok: true; state: ReadStateView; moved: boolean; readNotices: ReadNotices | null }
  | OpError

/** ReadCountRequest. [RD-7] */
export interface ReadCountOp {
  op: 'readCount'
  userId: string
  deviceId: string
  conversationId: string
  seq: number
}
export type ReadCountResult =
  | { ok: true; epoch: number; readCount: number; memberCount: number }
  | OpError

/** InboxRequest. [INB-3] */
export interface InboxOp {
  op: 'inbox'
  userId: string
  deviceId: string
  /** Exclusive; 0 = from the newest. */
  beforeActivity: number
  limit: number
  includeMembers: boolean
  /** Effective preview size (already mapped from 0 / above 4096). */
  previewBytes: number
}
export type InboxResult = { ok: true; entries: InboxEntryView[]; hasMore: boolean; syncPoint: number }

/** SyncRequest. [INB-5] */
export interface SyncOp {
  op: 'sync'
  userId: string
  deviceId: string
  since: number
  limit: number
  includeMembers: boolean
  previewBytes: number
}
/** One changed item of a sync, with its latest change (the sync point after it). [INB-5] */
export type SyncItemView = { change: number; entry: InboxEntryView; removed?: undefined } | { change: number; removed: string; entry?: undefined }
export type SyncResult =
  | {
      ok: true
      /** By change, oldest first. */
      items: SyncItemView[]
      hasMore: boolean
      /** The current change number (the sync point when no more items follow). [INB-4] */
      current: number
    }
  | OpError

export type StoreOp =
  | OpenDeviceOp
  | ReadReplayOp
  | SendOp
  | AckOp
  | HistoryOp
  | ListOp
  | CreateOp
  | MembersOp
  | LeaveOp
  | MarkReadOp
  | ReadCountOp
  | InboxOp
  | SyncOp

export interface StoreResultMap {
  openDevice: OpenDeviceResult
  readReplay: ReadReplayResult
  send: SendResult
  ack: AckResult
  history: HistoryResult
  list: ListResult
  create: ConversationOpResult
  addMembers: ConversationOpResult
  removeMembers: ConversationOpResult
  leave: ConversationOpResult
  markRead: MarkReadResult
  readCount: ReadCountResult
  inbox: InboxResult
  sync: SyncResult
}
export type ResultOf<O extends StoreOp> = StoreResultMap[O['op']]
export type StoreResult = StoreResultMap[keyof StoreResultMap]
