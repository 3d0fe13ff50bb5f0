// Frame builders for what the server sends: one place that turns store data
// into wire messages (numbers -> uint64 bigints).
import { create } from '@bufbuild/protobuf'
import {
  type ConversationInfo,
  ConversationInfoSchema,
  type UpdateReason,
} from '../gen/es/imwire/v1/conversation_pb.js'
import { ErrorCode } from '../gen/es/imwire/v1/control_pb.js'
import { type Frame, FrameSchema } from '../gen/es/imwire/v1/frame_pb.js'
import { type Message, MessageSchema } from '../gen/es/imwire/v1/messaging_pb.js'
import { type InboxEntry, InboxEntrySchema, type ReadState, ReadStateSchema } from '../gen/es/imwire/v1/inbox_pb.js'
import type { ConversationView, InboxEntryView, ReadStateView, StoredMessage } from './store-ops.js'

export function messageProto(m: StoredMessage): Message {
  return create(MessageSchema, {
    conversationId: m.conversationId,
    seq: BigInt(m.seq),
    messageId: m.messageId,
    senderUserId: m.senderUserId,
    senderDeviceId: m.senderDeviceId,
    clientMsgId: m.clientMsgId,
    serverTimeMs: BigInt(m.serverTimeMs),
    contentType: m.contentType,
    body: m.body,
  })
}

export function deliverFrame(m: StoredMessage, epoch: number, replayed: boolean): Frame {
  return create(FrameSchema, {
    body: { case: 'deliver', value: { message: messageProto(m), epoch: BigInt(epoch), replayed } },
  })
}

/**
 * ConversationInfo; read_seq and unread_count only when the connection
 * enabled "read-state" [RD-1] [RD-6].
 */
export function conversationInfo(v: ConversationView, readState: boolean): ConversationInfo {
  return create(ConversationInfoSchema, {
    conversationId: v.conversationId,
    kind: v.kind,
    epoch: BigInt(v.epoch),
    topSeq: BigInt(v.topSeq),
    cursor: BigInt(v.cursor),
    memberUserIds: v.members,
    ownerUserId: v.owner,
    title: v.title,
    ...(readState ? { readSeq: BigInt(v.readSeq), unreadCount: BigInt(v.unreadCount) } : {}),
  })
}

export function readStateProto(s: ReadStateView): ReadState {
  return create(ReadStateSchema, {
    conversationId: s.conversationId,
    epoch: BigInt(s.epoch),
    topSeq: BigInt(s.topSeq),
    readSeq: BigInt(s.readSeq),
    unreadCount: BigInt(s.unreadCount),
  })
}

/** [INB-3] */
export function inboxEntryProto(e: InboxEntryView): InboxEntry {
  return create(InboxEntrySchema, {
    conversationId: e.conversationId,
    kind: e.kind,
    epoch: BigInt(e.epoch),
    topSeq: BigInt(e.topSeq),
    cursor: BigInt(e.cursor),
    readSeq: BigInt(e.readSeq),
    unreadCount: BigInt(e.unreadCount),
    memberCount: e.memberCount,
    memberUserIds: e.members,
    ownerUserId: e.owner,
    title: e.title,
    activity: BigInt(e.activity),
    ...(e.lastMessage !== null ? { lastMessage: messageProto(e.lastMessage) } : {}),
    lastMessageBodyBytes: e.lastMessageBodyBytes,
    peerReadSeq: BigInt(e.peerReadSeq),
  })
}

/** A read position's move, as the hub hands it to a connection. [RD-4] */
export type ReadNotice =
  /** The user's own position (another device of the user moved it). */
  | { kind: 'updated'; state: ReadStateView }
  /** The other member of a DIRECT conversation moved its position. */
  | { kind: 'peer'; conversationId: string; epoch: number; userId: string; readSeq: number }

export function readNoticeFrame(n: ReadNotice): Frame {
  if (n.kind === 'updated') {
    return create(FrameSchema, { body: { case: 'readUpdated', value: { state: readStateProto(n.state) } } })
  }
  return create(FrameSchema, {
    body: {
      case: 'peerRead',
      value: { conversationId: n.conversationId, epoch: BigInt(n.epoch), userId: n.userId, readSeq: BigInt(n.readSeq) },
    },
  })
}

/** Errors that a later identical request may turn into a success. [ERR-1] */
const RETRYABLE = new Set<ErrorCode>([ErrorCode.INTERNAL, ErrorCode.SEND_OUT_OF_ORDER, ErrorCode.RATE_LIMITED])

export interface ErrorEcho {
  requestId?: number
  clientMsgId?: Uint8Array
  expectedSendSeq?: number
  retryAfterMs?: number
}

/** Error{code, ...} echoing the request. [ERR-1] */
export function errorFrame(code: ErrorCode, message: string, echo: ErrorEcho = {}): Frame {
  return create(FrameSchema, {
    body: {
      case: 'error',
      value: {
        code,
        message,
        retryable: RETRYABLE.has(code),
        retryAfterMs: echo.retryAfterMs ?? 0,
        requestId: echo.requestId ?? 0,
        clientMsgId: echo.clientMsgId ?? new Uint8Array(0),
        expectedSendSeq: BigInt(echo.expectedSendSeq ?? 0),
      },
    },
  })
}

export function noticeFrame(
  conversationId: string,
  reason: UpdateReason,
  epoch: number,
  topSeq: number,
  cursor: number,
): Frame {
  return create(FrameSchema, {
    body: {
      case: 'conversationUpdated',
      value: { conversationId, reason, epoch: BigInt(epoch), topSeq: BigInt(topSeq), cursor: BigInt(cursor) },
    },
  })
}
