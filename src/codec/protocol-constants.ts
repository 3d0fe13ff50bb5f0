// Every protocol default and bound of spec.md, in one place. Session, client,
// server, CLI and the conformance runner import these; none of them types the
// numbers again (a second copy drifts from the spec while the vectors check
// the first). Close and error code numbers are the generated CloseCode and
// ErrorCode enums (src/gen/es/imwire/v1/control_pb.ts), re-exported here so
// one import brings every protocol number.
export { CloseCode, ErrorCode } from '../gen/es/imwire/v1/control_pb.js'

const DAY_MS = 24 * 3600 * 1000

// ---- framing [FRM-*] ---------------------------------------------------------

/** Default and assumed max frame size: 1 MiB. [FRM-9] [LIM-1] */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024
/**
 * A length prefix never needs more than 5 bytes (values < 2^32) [FRM-4]; the
 * varint reader holds every 32-bit varint (tags, lengths) to the same bound.
 */
export const MAX_PREFIX_BYTES = 5
/** Hello.max_frame_bytes is 0 or at least this: a client may raise its inbound limit, never lower it. [HS-13] */
export const MIN_CLIENT_MAX_FRAME_BYTES = 1048576

// ---- batches [BAT-*] ---------------------------------------------------------

/** Default max decompressed batch payload: 4 MiB. [BAT-5] */
export const DEFAULT_MAX_BATCH_BYTES = 4 * 1024 * 1024
/** Default max frames per batch. [BAT-5] */
export const DEFAULT_MAX_BATCH_FRAMES = 1024

// ---- handshake and heartbeat [HS-*] [HB-*] -------------------------------------

/** Hello must arrive within the handshake timeout, which MUST NOT exceed 10 s (5-10 s recommended). [HS-8] */
export const HANDSHAKE_TIMEOUT_MAX_MS = 10_000
/**
 * The reference server's handshake timeout: within the recommended 5-10 s, a
 * second under the cap so that a late timer on a busy machine (or the time
 * between the peer's connect and our accept) never takes it past 10 s. [HS-8]
 */
export const HANDSHAKE_TIMEOUT_MS = 9_000
/** A client gives up on a Welcome that has not come this long after its Hello. [HS-16] */
export const CLIENT_WELCOME_TIMEOUT_MS = 15_000
/** Heartbeat interval a server uses for Hello.heartbeat_ms = 0, unless configured. [HS-9] */
export const HEARTBEAT_DEFAULT_MS = 30_000
/** Every heartbeat request is clamped into [HEARTBEAT_MIN_MS, HEARTBEAT_MAX_MS]. [HS-9] */
export const HEARTBEAT_MIN_MS = 1_000
export const HEARTBEAT_MAX_MS = 300_000
/** A client drops a link silent for heartbeat_ms + this. [HB-3] */
export const DEAD_MARGIN_MS = 10_000

// ---- retry [RTY-3] -----------------------------------------------------------

/** Reconnect delay: uniform in [0, min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2^n)). [RTY-3] */
export const BACKOFF_BASE_MS = 500
export const BACKOFF_CAP_MS = 30_000

// ---- requests [SND-3] [CNV-*] ----------------------------------------------------

/** Longest content_type in bytes. [SND-3] */
export const MAX_CONTENT_TYPE_BYTES = 128
/** Longest conversation title in bytes (proto: CreateConversation.title). */
export const MAX_TITLE_BYTES = 256

// ---- Welcome.limits [LIM-1] [LIM-2] ----------------------------------------------

/** Welcome.limits: what a server advertises and enforces as advertised. [LIM-1] [LIM-2] */
export interface ServerLimits {
  /** Largest frame the server accepts (prefix excluded). [FRM-3] */
  maxFrameBytes: number
  /** Largest decompressed Batch payload, both directions. [BAT-5] */
  maxBatchBytes: number
  /** Most frames in one Batch. [BAT-5] */
  maxBatchFrames: number
  /** Largest Send.body. [SND-3] */
  maxMessageBytes: number
  /** Most unacked Deliver frames per connection (min with the client's). [FLW-1] */
  receiveWindow: number
  /** Most Sends outstanding per connection before 3507. [FLW-2] */
  maxInflightSends: number
  /** Most committed messages waiting on a connection before 3003. [FLW-3] */
  maxBacklog: number
  /** Most messages replayed per conversation before a REPLAY_LIMIT notice. [RSM-2] */
  replayLimit: number
  /** Most messages in a HistoryPage and entries in a ConversationList. [HIS-2] */
  historyPageMax: number
  /** Cursors and send sequences are kept at least this long. [RSM-5] */
  resumeTtlMs: number
  /** Dedupe records are kept at least this long (>= 7 days). [DUP-5] */
  dedupeWindowMs: number
  /** Most members of a group, the creator included. [CNV-8] */
  maxGroupMembers: number
}

/** The reference defaults (spec Appendix D). */
export const DEFAULT_LIMITS: Readonly<ServerLimits> = Object.freeze({
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  maxBatchBytes: DEFAULT_MAX_BATCH_BYTES,
  maxBatchFrames: DEFAULT_MAX_BATCH_FRAMES,
  maxMessageBytes: 64 * 1024,
  receiveWindow: 256,
  maxInflightSends: 256,
  maxBacklog: 4096,
  replayLimit: 500,
  historyPageMax: 100,
  // The reference server never deletes cursors, send sequences or dedupe
  // records, so it can promise the spec's 30 days and keep it.
  resumeTtlMs: 30 * DAY_MS,
  dedupeWindowMs: 30 * DAY_MS,
  maxGroupMembers: 1000,
})

/** Appendix D bounds of every advertised limit, [min, max]. [LIM-1] */
export const LIMIT_BOUNDS: Readonly<Record<keyof ServerLimits, readonly [number, number]>> = Object.freeze({
  maxFrameBytes: [65536, 16777216],
  maxBatchBytes: [65536, 67108864],
  maxBatchFrames: [16, 65536],
  maxMessageBytes: [1024, 1047552],
  receiveWindow: [1, 65535],
  maxInflightSends: [1, 65535],
  maxBacklog: [1, 1048576],
  replayLimit: [1, 100000],
  historyPageMax: [10, 1000],
  resumeTtlMs: [DAY_MS, Number.MAX_SAFE_INTEGER],
  // [DUP-5] at least 7 days.
  dedupeWindowMs: [7 * DAY_MS, Number.MAX_SAFE_INTEGER],
  maxGroupMembers: [2, 4294967295],
})
