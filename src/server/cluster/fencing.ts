// Fencing of superseded sessions in cluster mode. [RSM-6] Every session
// start bumps the device's generation in PostgreSQL; a node stamps each
// operation of its sessions with the session's generation, and the writer
// refuses (fences) those whose generation is no longer the device's: an
// older connection that another node took over cannot move a cursor or
// commit anything, whether or not word of the takeover reached its node.
import { ErrorCode } from '../../gen/es/imwire/v1/control_pb.js'
import type { StoreOp, StoreResult } from '../../session/store-ops.js'

/** A store operation of a session that knows its device generation (cluster mode). */
export type FencedOp = StoreOp & { generation?: number }

/** What an operation of a superseded session gets instead of running. [RSM-6] */
export function fencedResult(op: StoreOp): StoreResult & { fenced: true } {
  if (op.op === 'ack') return { ok: true, outcome: 'ignored', fenced: true }
  return { ok: false, code: ErrorCode.INTERNAL, message: 'session taken over', fenced: true }
}

/** The (user, device) an operation acts for; a replay read names none. */
export function deviceOf(op: StoreOp): [string, string] | null {
  return op.op === 'readReplay' ? null : [op.userId, op.deviceId]
}
