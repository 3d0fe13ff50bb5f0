// The session core: the protocol state machine of one server connection.
// Pure: frames and time in, effects out (see effects.ts).
export { ServerSession, type SessionConfig } from './session.js'
export type { Effect, SessionEvent, LiveMessage } from './effects.js'
export * from './store-ops.js'
export * from './limits.js'
export {
  acceptHello,
  welcomeFrame,
  SUPPORTED_FEATURES,
  SUPPORTED_VERSIONS,
  type HandshakeConfig,
  type Negotiated,
} from './handshake.js'
export { deliverFrame, messageProto, conversationInfo, errorFrame, noticeFrame } from './frames.js'
export { isConversationId, isDeviceId, isUserId, seqFromWire } from './ids.js'
export { makeTestToken, verifyTestToken } from './test-token.js'
