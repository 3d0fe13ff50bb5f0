// Server limits and their defaults. [LIM-1] [LIM-2]
//
// Every value here is advertised in Welcome.limits and enforced as advertised.

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

const DAY_MS = 24 * 3600 * 1000

export const DEFAULT_LIMITS: ServerLimits = {
  maxFrameBytes: 1024 * 1024,
  maxBatchBytes: 4 * 1024 * 1024,
  maxBatchFrames: 1024,
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
}

/** Appendix D bounds of every advertised limit. [LIM-1] */
export const LIMIT_BOUNDS: Record<keyof ServerLimits, [number, number]> = {
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
  dedupeWindowMs: [7 * DAY_MS, Number.MAX_SAFE_INTEGER],
  maxGroupMembers: [2, 4294967295],
}

/** Problems with a set of limits (empty when it may be advertised). [LIM-1] */
export function checkLimits(l: ServerLimits): string[] {
  const problems: string[] = []
  for (const [k, [lo, hi]] of Object.entries(LIMIT_BOUNDS) as [keyof ServerLimits, [number, number]][]) {
    const v = l[k]
    if (!Number.isInteger(v) || v < lo || v > hi) problems.push(`${k} must be an integer in [${lo}, ${hi}]`)
  }
  // A Send around a largest body fits a frame; a backlog holds at least a window.
  if (l.maxFrameBytes < l.maxMessageBytes + 1024) problems.push('maxFrameBytes must be >= maxMessageBytes + 1024')
  if (l.maxBacklog < l.receiveWindow) problems.push('maxBacklog must be >= receiveWindow')
  return problems
}

/** Heartbeat interval: default and the bounds every server honours. [HS-9] */
export const HEARTBEAT_DEFAULT_MS = 30_000
export const HEARTBEAT_MIN_MS = 1_000
export const HEARTBEAT_MAX_MS = 300_000

/** Hello must arrive within this long: at most 10 s, 5-10 s recommended. [HS-8] */
export const HANDSHAKE_TIMEOUT_MS = 10_000

/** Hello.max_frame_bytes is 0 or at least this. [HS-13] */
export const MIN_CLIENT_MAX_FRAME_BYTES = 1048576

/** Longest content_type in bytes. [SND-3] */
export const MAX_CONTENT_TYPE_BYTES = 128

/** Longest conversation title in bytes (proto: CreateConversation.title). */
export const MAX_TITLE_BYTES = 256

/**
 * Output buffered for a connection beyond which it is a slow consumer even
 * if the backlog count is low (e.g. big messages). [FLW-3] 16 MiB: several
 * windows of maximum-size messages, far above what a reading client holds.
 */
export const DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024 * 1024
