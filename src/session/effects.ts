// The session's inputs (events) and outputs (effects).
import type { UpdateReason } from '../gen/es/imwire/v1/conversation_pb.js'
import type { CloseCode } from '../gen/es/imwire/v1/control_pb.js'
import type { Frame } from '../gen/es/imwire/v1/frame_pb.js'
import type { ReadNotice } from './frames.js'
import type { StoredMessage, StoreOp, StoreResult } from './store-ops.js'

/** A committed message on its way to online devices (from the hub). */
export interface LiveMessage {
  message: StoredMessage
  epoch: number
  /** The live Deliver frame (replayed=false), encoded once for every recipient. */
  deliverBytes(): Uint8Array
  /** Cluster mode: the commit-log position that committed it (see OpenDeviceResult.livePosition). */
  logPos?: number
}

export type SessionEvent =
  /** A frame from the client. */
  | { type: 'frame'; frame: Frame }
  /** Invalid input; the connection must close with this code. */
  | { type: 'codecError'; closeCode: CloseCode; reason: string }
  /** The timer set by the last setTimer effect fired. */
  | { type: 'timer' }
  /** The result of a store effect. */
  | { type: 'storeResult'; id: number; result: StoreResult }
  /** A store effect failed (I/O, bug): the session answers INTERNAL or closes. */
  | { type: 'storeFailed'; id: number; message: string }
  /** A message committed in a conversation this user belongs to (not sent by this device). */
  | { type: 'live'; live: LiveMessage }
  /** A conversation's membership changed. [CNV-6] [CNV-14] */
  | { type: 'notice'; conversationId: string; reason: UpdateReason; epoch: number; topSeq: number; logPos?: number }
  /** A read position moved (another device of the user, or the DIRECT peer). [RD-4] */
  | { type: 'read'; notice: ReadNotice }
  /** Another connection of the same (user, device) took over. [RSM-6] */
  | { type: 'takenOver' }
  /** The server is shutting down (in-flight commits are done). [ERR-6] */
  | { type: 'shutdown'; retryAfterMs: number }
  /** The output buffer is over its bound. [FLW-3] */
  | { type: 'outputOverflow' }
  /** The transport is gone. */
  | { type: 'disconnected' }

export type Effect =
  | { type: 'send'; frame: Frame }
  /** An encoded frame (no prefix): Deliver frames, encoded once and size-checked. */
  | { type: 'sendEncoded'; bytes: Uint8Array }
  /** Send Close{code, reason} last, then close the transport. [ERR-2] */
  | { type: 'close'; code: CloseCode; reason: string; retryAfterMs: number }
  /**
   * The peer sent Close: end the transport without a Close of our own
   * [ERR-3]; over WebSocket the close frame echoes the Close's code. [ERR-16]
   */
  | { type: 'end'; code: number }
  /** (Re)arm the session's single timer to fire at this time (ms, same clock as `now`). */
  | { type: 'setTimer'; at: number }
  | { type: 'clearTimer' }
  /** Run a store operation; answer with storeResult/storeFailed carrying `id`. */
  | { type: 'store'; id: number; op: StoreOp }
  /**
   * Receive live traffic for (user, device) from now on, without taking over
   * an existing session yet (the Hello may still fail). [RSM-7] [SEC-8]
   */
  | { type: 'subscribe'; userId: string; deviceId: string }
  /** Become the (user, device)'s session: an older one is taken over (3509). [RSM-6] */
  | { type: 'attach'; userId: string; deviceId: string }
  /** Unregister (the session is over). */
  | { type: 'detach' }
  /** From now on, frames may be packed into Batches (after Welcome). [RSM-9] [BAT-10] */
  | { type: 'batching'; lz4: boolean; maxFrameBytes: number }
