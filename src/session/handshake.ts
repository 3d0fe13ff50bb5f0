// Hello -> negotiated parameters or a close code; the Welcome frame. [HS-4..10]
import { create } from '@bufbuild/protobuf'
import {
  DEFAULT_MAX_FRAME_BYTES,
  FEATURE_HISTORY_TIME,
  FEATURE_INBOX,
  FEATURE_LZ4,
  FEATURE_READ_STATE,
} from '../codec/index.js'
import { CloseCode } from '../gen/es/imwire/v1/control_pb.js'
import { type Frame, FrameSchema } from '../gen/es/imwire/v1/frame_pb.js'
import type { Hello } from '../gen/es/imwire/v1/handshake_pb.js'
import { isConversationId, isDeviceId, seqFromWire } from './ids.js'
import { MIN_CLIENT_MAX_FRAME_BYTES, type ServerLimits } from '../codec/index.js'
import type { ResumePosition } from './store-ops.js'

/** Protocol versions this server speaks. [HS-4] */
export const SUPPORTED_VERSIONS = [1]
/** Features this server can enable. [HS-5] */
export const SUPPORTED_FEATURES = [FEATURE_LZ4, FEATURE_READ_STATE, FEATURE_INBOX, FEATURE_HISTORY_TIME]
/**
 * The features that need the store's support (change numbers, read rows,
 * message times): offered only when the store has it (Store.features).
 */
export const STORE_FEATURES = [FEATURE_READ_STATE, FEATURE_INBOX, FEATURE_HISTORY_TIME]

export interface HandshakeConfig {
  limits: ServerLimits
  /** Default heartbeat and bounds; the spec's bounds are [1000, 300000]. [HS-9] */
  heartbeatDefaultMs: number
  heartbeatMinMs: number
  heartbeatMaxMs: number
  handshakeTimeoutMs: number
  /** Features offered (a subset of SUPPORTED_FEATURES). */
  features: readonly string[]
  /** The user id a token proves, or null. [HS-7] [AUTH-2] */
  authenticate: (token: string) => string | null
}

export interface Negotiated {
  version: number
  userId: string
  deviceId: string
  features: string[]
  lz4: boolean
  /** "read-state" enabled. [RD-1] */
  readState: boolean
  /** "inbox" enabled. [INB-1] */
  inbox: boolean
  /** "history-time" enabled. [HIS-10] */
  historyTime: boolean
  heartbeatMs: number
  /** min(server, client) receive window. [FLW-1] */
  receiveWindow: number
  /** The client's receive limit: the server never sends a larger frame. [FRM-9] */
  peerMaxFrameBytes: number
  resume: ResumePosition[]
  limits: ServerLimits
}

export type HelloOutcome = { ok: true; negotiated: Negotiated } | { ok: false; code: CloseCode; reason: string }

/**
 * The checks of [HS-12] that need no data, in its order: version (3502),
 * token (3501), device_id (3500), max_frame_bytes (3500). Check 5 (resume
 * positions above top_seq, 3508) needs the store and is the session's.
 */
export function acceptHello(hello: Hello, cfg: HandshakeConfig): HelloOutcome {
  // [HS-4] highest common version; none (or an empty list) -> 3502.
  let version = 0
  for (const v of hello.versions) if (SUPPORTED_VERSIONS.includes(v) && v > version) version = v
  if (version === 0) return { ok: false, code: CloseCode.UNSUPPORTED_VERSION, reason: 'no common protocol version' }
  // [HS-7] [AUTH-2]
  const userId = cfg.authenticate(hello.token)
  if (userId === null) return { ok: false, code: CloseCode.UNAUTHORIZED, reason: 'invalid token' }
  if (!isDeviceId(hello.deviceId)) {
    return { ok: false, code: CloseCode.PROTOCOL_ERROR, reason: 'invalid device_id' }
  }
  // [HS-13] a client may raise its inbound limit, never lower it below 1 MiB.
  if (hello.maxFrameBytes !== 0 && hello.maxFrameBytes < MIN_CLIENT_MAX_FRAME_BYTES) {
    return {
      ok: false,
      code: CloseCode.PROTOCOL_ERROR,
      reason: `max_frame_bytes must be 0 or at least ${MIN_CLIENT_MAX_FRAME_BYTES}`,
    }
  }
  // [HS-5] requested ∩ offered; unknown names ignored.
  const features = cfg.features.filter((f) => hello.features.includes(f))
  // [HS-9] clamp(requested or default, min, max). [FLW-5] min(requested, ours).
  const requested = hello.heartbeatMs === 0 ? cfg.heartbeatDefaultMs : hello.heartbeatMs
  const heartbeatMs = Math.min(cfg.heartbeatMaxMs, Math.max(cfg.heartbeatMinMs, requested))
  const receiveWindow =
    hello.receiveWindow === 0 ? cfg.limits.receiveWindow : Math.min(hello.receiveWindow, cfg.limits.receiveWindow)
  const resume: ResumePosition[] = []
  for (const p of hello.resume) {
    // [RSM-4] positions are acks; ones naming no valid conversation are ignored.
    if (isConversationId(p.conversationId)) {
      resume.push({ conversationId: p.conversationId, seq: seqFromWire(p.seq), epoch: seqFromWire(p.epoch) })
    }
  }
  return {
    ok: true,
    negotiated: {
      version,
      userId,
      deviceId: hello.deviceId,
      features,
      lz4: features.includes(FEATURE_LZ4),
      readState: features.includes(FEATURE_READ_STATE),
      inbox: features.includes(FEATURE_INBOX),
      historyTime: features.includes(FEATURE_HISTORY_TIME),
      heartbeatMs,
      receiveWindow,
      peerMaxFrameBytes: hello.maxFrameBytes === 0 ? DEFAULT_MAX_FRAME_BYTES : hello.maxFrameBytes,
      resume,
      limits: cfg.limits,
    },
  }
}

/** Welcome with everything [HS-10] asks for; limits as enforced. [LIM-2] */
export function welcomeFrame(n: Negotiated, sessionId: string, nowMs: number): Frame {
  const l = n.limits
  return create(FrameSchema, {
    body: {
      case: 'welcome',
      value: {
        version: n.version,
        features: n.features,
        sessionId,
        userId: n.userId,
        deviceId: n.deviceId,
        heartbeatMs: n.heartbeatMs,
        limits: {
          maxFrameBytes: l.maxFrameBytes,
          maxBatchBytes: l.maxBatchBytes,
          maxBatchFrames: l.maxBatchFrames,
          maxMessageBytes: l.maxMessageBytes,
          receiveWindow: n.receiveWindow,
          maxInflightSends: l.maxInflightSends,
          maxBacklog: l.maxBacklog,
          replayLimit: l.replayLimit,
          historyPageMax: l.historyPageMax,
          resumeTtlMs: BigInt(l.resumeTtlMs),
          dedupeWindowMs: BigInt(l.dedupeWindowMs),
          maxGroupMembers: l.maxGroupMembers,
        },
        serverTimeMs: BigInt(nowMs),
      },
    },
  })
}
