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
import type { ConversationView, StoredMessage } from './store-ops.js'

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

export function conversationInfo(v: ConversationView): ConversationInfo {
  return create(ConversationInfoSchema, {
    conversationId: v.conversationId,
    kind: v.kind,
    epoch: BigInt(v.epoch),
    topSeq: BigInt(v.topSeq),
    cursor: BigInt(v.cursor),
    memberUserIds: v.members,
    ownerUserId: v.owner,
    title: v.title,
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
