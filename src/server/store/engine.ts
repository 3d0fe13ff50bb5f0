// The store's rules, once, over any Tables backend. Each operation checks
// everything before it writes anything, so a refused request leaves no trace
// ([DUP-6]) and the caller may run many operations in one transaction
// (group commit) without savepoints.
import { ConversationKind, UpdateReason } from '../../gen/es/imwire/v1/conversation_pb.js'
import { ErrorCode } from '../../gen/es/imwire/v1/control_pb.js'
import type {
  AckOp,
  AckResult,
  ConversationOpResult,
  ConversationView,
  CreateOp,
  HistoryOp,
  HistoryResult,
  LeaveOp,
  ListOp,
  ListResult,
  MembersOp,
  MemberNotice,
  OpenDeviceOp,
  OpenDeviceResult,
  OpError,
  ReadReplayOp,
  ReadReplayResult,
  ReplayState,
  ResultOf,
  SendOp,
  SendResult,
  StoredMessage,
  StoreOp,
} from '../../session/store-ops.js'
import * as rd from './read-state.js'
import { type ConversationRow, messageIdOf, type Tables } from './tables.js'

const fail = (code: ErrorCode, message: string): OpError => ({ ok: false, code, message })
const notFound = (): OpError => fail(ErrorCode.CONVERSATION_NOT_FOUND, 'conversation not found') // [SND-2] [HIS-3]

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** A conversation the user belongs to, else undefined (non-members see nothing). [SEC-1] */
function memberConversation(t: Tables, id: string, userId: string): ConversationRow | undefined {
  const c = t.getConversation(id)
  return c !== undefined && t.isMember(id, userId) ? c : undefined
}

/** Step 4's answer for a taken key: the original, or a conflict. [DUP-2] [DUP-3] */
function answerPrior(t: Tables, op: SendOp, prior: StoredMessage): SendResult {
  if (
    prior.conversationId !== op.conversationId ||
    prior.contentType !== op.contentType ||
    !sameBytes(prior.body, op.body)
  ) {
    return fail(ErrorCode.IDEMPOTENCY_CONFLICT, 'client_msg_id already used for another message') // [DUP-3]
  }
  const original = t.getConversation(prior.conversationId) as ConversationRow
  return { ok: true, duplicate: true, epoch: original.epoch, message: prior, members: [] } // [FAN-2]
}

/** Step 5: send order. [ORD-2] accept iff send_seq = last + 1; 0 skips [ORD-5]. Null = in order. */
function sendOrderError(t: Tables, op: SendOp): SendResult | null {
  if (op.sendSeq === 0) return null
  const last = t.getSendSeq(op.userId, op.deviceId, op.conversationId)
  if (op.sendSeq > last + 1) {
    return { ...fail(ErrorCode.SEND_OUT_OF_ORDER, 'send_seq skips ahead'), expectedSendSeq: last + 1 } // [ORD-3]
  }
  if (op.sendSeq <= last) return fail(ErrorCode.SEND_SEQ_REUSED, 'send_seq already used') // [ORD-4]
  return null
}

export function send(t: Tables, op: SendOp): SendResult {
  // [SND-6] step 3: membership (a non-member's retry is NOT_FOUND even if
  // its message committed before the removal).
  const conv = memberConversation(t, op.conversationId, op.userId)
  if (conv === undefined) return notFound()
  // Steps 4 (dedupe [DUP-1] [DUP-2]) and 5 (send order [ORD-2]), answered in
  // that order. Neither send_seq nor the device is compared [DUP-7]. When
  // the order check passes, the insert below is the dedupe lookup (the
  // unique key refuses a taken id), which saves a read per fresh message.
  const orderError = sendOrderError(t, op)
  if (orderError !== null) {
    const prior = t.findByClientMsgId(op.userId, op.clientMsgId)
    return prior === undefined ? orderError : answerPrior(t, op, prior)
  }
  // Step 6: commit. [ORD-1] dense, from 1, in commit order.
  const seq = conv.topSeq + 1
  const message: StoredMessage = {
    conversationId: op.conversationId,
    seq,
    messageId: messageIdOf(t.nextMessageNumber()), // [ACK-5] (a number lost to a duplicate is never reused)
    senderUserId: op.userId,
    senderDeviceId: op.deviceId,
    clientMsgId: op.clientMsgId,
    // [HIS-11] a clock that stepped back commits the previous message's time.
    serverTimeMs: t.tracksChanges ? Math.max(op.nowMs, conv.lastTimeMs) : op.nowMs,
    contentType: op.contentType,
    body: op.body,
  }
  // [FAN-4] stored once; the dedupe record is its (sender, client_msg_id) key. [DUP-1]
  if (!t.insertMessage(message)) {
    return answerPrior(t, op, t.findByClientMsgId(op.userId, op.clientMsgId) as StoredMessage)
  }
  t.setTopSeq(op.conversationId, seq)
  if (t.tracksChanges) rd.messageCommitted(t, message) // [INB-2] [RD-5]
  if (op.sendSeq !== 0) t.setSendSeq(op.userId, op.deviceId, op.conversationId, op.sendSeq)
  return { ok: true, duplicate: false, epoch: conv.epoch, message, members: t.members(op.conversationId) }
}

export function openDevice(t: Tables, op: OpenDeviceOp): OpenDeviceResult {
  t.touchDevice(op.userId, op.deviceId, op.nowMs)
  const epochChanged = new Set<string>()
  const moves: [string, number][] = []
  for (const p of op.resume) {
    const c = memberConversation(t, p.conversationId, op.userId)
    if (c === undefined) continue // [RSM-4] non-member positions are ignored
    if (p.epoch !== c.epoch) {
      epochChanged.add(c.id)
      continue
    }
    if (p.seq > c.topSeq) return { ok: false, ackTooHigh: c.id } // [RSM-4] [DLV-3]
    moves.push([c.id, p.seq])
  }
  for (const [id, seq] of moves) {
    if (seq > t.getCursor(op.userId, op.deviceId, id)) t.setCursor(op.userId, op.deviceId, id, seq)
  }
  const conversations: ReplayState[] = []
  for (const id of t.userConversations(op.userId, '', Number.MAX_SAFE_INTEGER)) {
    const c = t.getConversation(id) as ConversationRow
    conversations.push({
      conversationId: id,
      epoch: c.epoch,
      topSeq: c.topSeq,
      cursor: t.getCursor(op.userId, op.deviceId, id),
      epochChanged: epochChanged.has(id),
    })
  }
  return { ok: true, conversations }
}

export function readReplay(t: Tables, op: ReadReplayOp): ReadReplayResult {
  const messages = t.readReplay(
    op.conversationId,
    op.afterSeq,
    op.upToSeq,
    op.limit,
    op.excludeUserId,
    op.excludeDeviceId,
  )
  return { ok: true, messages }
}

export function ack(t: Tables, op: AckOp): AckResult {
  const c = memberConversation(t, op.conversationId, op.userId)
  if (c === undefined) return { ok: true, outcome: 'ignored' } // [DLV-4]
  if (op.upToSeq > c.topSeq) return { ok: true, outcome: 'tooHigh' } // [DLV-3]
  if (op.upToSeq <= t.getCursor(op.userId, op.deviceId, op.conversationId)) return { ok: true, outcome: 'ignored' } // [DLV-2]
  t.setCursor(op.userId, op.deviceId, op.conversationId, op.upToSeq)
  return { ok: true, outcome: 'moved' }
}

/**
 * A page from a read of limit + 1 rows: the extra row, at `extraAt`, only
 * tells whether there is more. [HIS-4]
 */
function pageOf<T>(rows: T[], limit: number, extraAt: 'start' | 'end'): { rows: T[]; hasMore: boolean } {
  if (rows.length <= limit) return { rows, hasMore: false }
  return { rows: extraAt === 'start' ? rows.slice(rows.length - limit) : rows.slice(0, limit), hasMore: true }
}

export function history(t: Tables, op: HistoryOp): HistoryResult {
  const c = memberConversation(t, op.conversationId, op.userId)
  if (c === undefined) return notFound()
  if (op.anchorTimeMs !== undefined && op.anchorTimeMs !== 0 && t.tracksChanges) {
    // [HIS-10] the messages at or after the time are one run of seqs up to
    // top_seq [HIS-11]: FORWARD reads from its first seq, BACKWARD below it.
    // A time equal to the anchor is FORWARD's, never BACKWARD's.
    const first = t.firstSeqAtOrAfter(c.id, op.anchorTimeMs, c.topSeq)
    const { rows: messages, hasMore } = op.backward
      ? pageOf(t.readBackward(c.id, first, op.limit + 1), op.limit, 'start')
      : pageOf(t.readForward(c.id, first - 1, c.topSeq, op.limit + 1), op.limit, 'end')
    return { ok: true, epoch: c.epoch, topSeq: c.topSeq, messages, hasMore }
  }
  // [HIS-1] [HIS-4] A backward read returns its rows ascending, the one
  // beyond the page (the oldest) first.
  const { rows: messages, hasMore } = op.backward
    ? pageOf(
        t.readBackward(op.conversationId, op.anchorSeq === 0 ? c.topSeq + 1 : op.anchorSeq, op.limit + 1),
        op.limit,
        'start',
      )
    : pageOf(t.readForward(op.conversationId, op.anchorSeq, c.topSeq, op.limit + 1), op.limit, 'end')
  return { ok: true, epoch: c.epoch, topSeq: c.topSeq, messages, hasMore }
}

function view(t: Tables, c: ConversationRow, userId: string, deviceId: string): ConversationView {
  return {
    conversationId: c.id,
    kind: c.kind,
    epoch: c.epoch,
    topSeq: c.topSeq,
    cursor: t.getCursor(userId, deviceId, c.id),
    members: t.members(c.id),
    owner: c.owner,
    title: c.title,
    ...rd.readFields(t, c, userId), // [RD-6]
  }
}

export function list(t: Tables, op: ListOp): ListResult {
  // [HIS-5] ascending by id, paged by after_conversation_id.
  const { rows: page, hasMore } = pageOf(
    t.userConversations(op.userId, op.afterConversationId, op.limit + 1),
    op.limit,
    'end',
  )
  const conversations = page.map((id) => view(t, t.getConversation(id) as ConversationRow, op.userId, op.deviceId))
  return { ok: true, conversations, hasMore }
}

function result(t: Tables, c: ConversationRow, op: { userId: string; deviceId: string }, notices: MemberNotice[]) {
  const fresh = t.getConversation(c.id) as ConversationRow
  return {
    ok: true as const,
    conversation: view(t, fresh, op.userId, op.deviceId),
    notices,
    epoch: fresh.epoch,
    topSeq: fresh.topSeq,
  }
}

/** [ERR-13] steps 3-5 after the session's syntax checks: existence, permission, state. */
export function create(t: Tables, op: CreateOp): ConversationOpResult {
  const wanted = [...new Set([op.userId, ...op.members])].sort()
  const existing = t.getConversation(op.conversationId)
  if (existing !== undefined) {
    // [CNV-2] same kind, owner and member set: the same answer again.
    const members = t.members(existing.id)
    const same =
      existing.kind === op.kind &&
      existing.owner === op.userId &&
      members.length === wanted.length &&
      members.every((m, i) => m === wanted[i])
    if (!same) return fail(ErrorCode.ALREADY_EXISTS, 'conversation exists with other settings')
    return result(t, existing, op, [])
  }
  if (wanted.length > op.maxMembers) return fail(ErrorCode.BAD_REQUEST, 'too many members') // [CNV-8]
  // [INB-2] a conversation without messages is as active as its creation.
  const change = t.tracksChanges ? t.nextChange() : 0
  const row: ConversationRow = {
    id: op.conversationId,
    kind: op.kind,
    owner: op.userId,
    title: op.title,
    epoch: 1,
    topSeq: 0,
    activity: change,
    changed: change,
    lastTimeMs: 0,
  }
  t.insertConversation(row)
  for (const u of wanted) t.addMember(row.id, u)
  if (t.tracksChanges) for (const u of wanted) rd.joined(t, row, u, change) // [RD-2]
  // [CNV-6] the other members, and the creator's other devices, get JOINED.
  const notices: MemberNotice[] = wanted.map((u) =>
    u === op.userId
      ? { userId: u, reason: UpdateReason.JOINED, exceptDeviceId: op.deviceId }
      : { userId: u, reason: UpdateReason.JOINED },
  )
  return result(t, row, op, notices)
}

export function addMembers(t: Tables, op: MembersOp): ConversationOpResult {
  const c = memberConversation(t, op.conversationId, op.userId)
  if (c === undefined) return notFound() // [CNV-3]
  if (c.kind !== ConversationKind.GROUP) return fail(ErrorCode.FORBIDDEN, 'direct conversations have fixed members')
  const before = t.members(c.id)
  const added = op.userIds.filter((u) => !t.isMember(c.id, u))
  if (before.length + added.length > op.maxMembers) return fail(ErrorCode.BAD_REQUEST, 'too many members') // [CNV-8]
  // [CNV-7] an added user reads the whole history; its devices keep any
  // cursor from an earlier membership (a cursor moves only by acks [DLV-7]).
  for (const u of added) t.addMember(c.id, u)
  if (t.tracksChanges && added.length > 0) {
    const change = rd.membershipChanged(t, c.id) // [INB-5]
    for (const u of added) rd.joined(t, c, u, change) // [RD-2] a re-add too reads from top_seq
  }
  const notices: MemberNotice[] = []
  if (added.length > 0) {
    for (const u of added) notices.push({ userId: u, reason: UpdateReason.JOINED })
    for (const u of before) notices.push(changed(u, op))
  }
  return result(t, c, op, notices)
}

function changed(userId: string, op: { userId: string; deviceId: string }): MemberNotice {
  return userId === op.userId
    ? { userId, reason: UpdateReason.MEMBERS_CHANGED, exceptDeviceId: op.deviceId }
    : { userId, reason: UpdateReason.MEMBERS_CHANGED }
}

export function removeMembers(t: Tables, op: MembersOp): ConversationOpResult {
  const c = memberConversation(t, op.conversationId, op.userId)
  if (c === undefined) return notFound()
  // [CNV-4]
  if (c.kind !== ConversationKind.GROUP) return fail(ErrorCode.FORBIDDEN, 'direct conversations have fixed members')
  if (c.owner !== op.userId) return fail(ErrorCode.FORBIDDEN, 'only the owner removes members')
  if (op.userIds.includes(op.userId)) return fail(ErrorCode.BAD_REQUEST, 'the owner leaves instead of removing itself')
  const removed = op.userIds.filter((u) => t.isMember(c.id, u))
  for (const u of removed) t.removeMember(c.id, u)
  if (t.tracksChanges && removed.length > 0) {
    const change = rd.membershipChanged(t, c.id) // [INB-5]
    for (const u of removed) rd.departed(t, c.id, u, change)
  }
  const notices: MemberNotice[] = []
  if (removed.length > 0) {
    for (const u of removed) notices.push({ userId: u, reason: UpdateReason.REMOVED })
    for (const u of t.members(c.id)) notices.push(changed(u, op))
  }
  return result(t, c, op, notices)
}

export function leave(t: Tables, op: LeaveOp): ConversationOpResult {
  const c = memberConversation(t, op.conversationId, op.userId)
  if (c === undefined) return notFound()
  if (c.kind !== ConversationKind.GROUP) return fail(ErrorCode.FORBIDDEN, 'a direct conversation cannot be left') // [CNV-5]
  t.removeMember(c.id, op.userId)
  if (t.tracksChanges) rd.departed(t, c.id, op.userId, rd.membershipChanged(t, c.id)) // [INB-5]
  const rest = t.members(c.id)
  // [CNV-5] ownership passes to the smallest remaining user id; may be empty.
  if (c.owner === op.userId) t.setOwner(c.id, rest[0] ?? '')
  const notices: MemberNotice[] = [{ userId: op.userId, reason: UpdateReason.REMOVED, exceptDeviceId: op.deviceId }]
  for (const u of rest) notices.push({ userId: u, reason: UpdateReason.MEMBERS_CHANGED })
  return result(t, c, op, notices)
}

/** Run one operation. Throws only on backend failure (the caller rolls back). */
export function runOp<O extends StoreOp>(t: Tables, op: O): ResultOf<O> {
  switch (op.op) {
    case 'send':
      return send(t, op) as ResultOf<O>
    case 'openDevice':
      return openDevice(t, op) as ResultOf<O>
    case 'readReplay':
      return readReplay(t, op) as ResultOf<O>
    case 'ack':
      return ack(t, op) as ResultOf<O>
    case 'history':
      return history(t, op) as ResultOf<O>
    case 'list':
      return list(t, op) as ResultOf<O>
    case 'create':
      return create(t, op) as ResultOf<O>
    case 'addMembers':
      return addMembers(t, op as MembersOp) as ResultOf<O>
    case 'removeMembers':
      return removeMembers(t, op as MembersOp) as ResultOf<O>
    case 'leave':
      return leave(t, op) as ResultOf<O>
    case 'markRead':
      return rd.markRead(t, op) as ResultOf<O>
    case 'readCount':
      return rd.readCount(t, op) as ResultOf<O>
    case 'inbox':
      return rd.inbox(t, op) as ResultOf<O>
    case 'sync':
      return rd.sync(t, op) as ResultOf<O>
  }
  throw new Error(`unknown store op ${(op as StoreOp).op}`)
}
