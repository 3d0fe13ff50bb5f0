// What crosses the thread boundary between the main thread and the SQLite
// worker, and how it is kept small.
import type { SendOp, StoredMessage, StoreOp } from '../../session/store-ops.js'
import type { OpOutcome, QueuedOp } from './group-runner.js'

/**
 * What crosses the thread boundary is structured-cloned, and that cost is
 * per object and per ArrayBuffer. So, per post:
 * - the byte fields of every Send (client_msg_id, body; views into socket
 *   chunks) are copied into ONE buffer and the ops carry views into it: the
 *   clone copies that buffer once instead of one buffer per field;
 * - the worker answers a fresh (non-duplicate) Send with its new values only
 *   (SlimSend: seq, message_id, time, epoch, members); this side rebuilds the
 *   StoredMessage from the op it kept, whose bytes are views into the same
 *   packed buffer. A duplicate carries the original message whole (its time,
 *   seq and sending device are the original's [DUP-2]).
 */
export function packSends(ops: QueuedOp[]): QueuedOp[] {
  let total = 0
  for (const { op } of ops) if (op.op === 'send') total += op.clientMsgId.length + op.body.length
  if (total === 0) return ops
  const packed = new Uint8Array(total)
  let off = 0
  const put = (b: Uint8Array): Uint8Array => {
    packed.set(b, off)
    off += b.length
    return packed.subarray(off - b.length, off)
  }
  return ops.map((q) =>
    q.op.op === 'send' ? { id: q.id, op: { ...q.op, clientMsgId: put(q.op.clientMsgId), body: put(q.op.body) } } : q,
  )
}

/** A fresh Send's outcome as the worker posts it (see packSends). */
export interface SlimSend {
  id: number
  slim: { seq: number; messageId: string; epoch: number; members: string[] }
}
export type WireOutcome = OpOutcome | SlimSend

/** Worker side: drop what the main thread already has. */
export function slimOutcome(o: OpOutcome): WireOutcome {
  if (!('result' in o)) return o
  const r = o.result
  if (!r.ok || !('duplicate' in r) || r.duplicate) return o
  return { id: o.id, slim: { seq: r.message.seq, messageId: r.message.messageId, epoch: r.epoch, members: r.members } }
}

/** Main side: rebuild the full result of a fresh Send from its op. */
export function fullOutcome(o: WireOutcome, op: StoreOp | undefined): OpOutcome {
  if (!('slim' in o)) return o
  const s = op as SendOp
  const message: StoredMessage = {
    conversationId: s.conversationId,
    seq: o.slim.seq,
    messageId: o.slim.messageId,
    senderUserId: s.userId,
    senderDeviceId: s.deviceId,
    clientMsgId: s.clientMsgId,
    serverTimeMs: s.nowMs,
    contentType: s.contentType,
    body: s.body,
  }
  return { id: o.id, result: { ok: true, duplicate: false, epoch: o.slim.epoch, message, members: o.slim.members } }
}
