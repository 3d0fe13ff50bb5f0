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
}

/**
 * message_id: "m" + a server-wide counter in base 36, never reused (the
 * counter commits with the message). Short, and within the id syntax of
 * [GEN-5] whatever the conversation id. [ACK-5]
 */
export function messageIdOf(n: number): string {
  return `m${n.toString(36)}`
}
