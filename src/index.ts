// imwire public API: a small named list. Internals (session state machine
// pieces, store engine, generated code) stay behind their own modules.

// Codec: frames <-> bytes.
export {
  CodecError,
  CodecErrorCode,
  decodeBatch,
  decodeFrame,
  delimit,
  encodeBatch,
  encodeFrame,
  StreamDecoder,
} from './codec/index.js'

// Transports: one peer carrying frames.
export {
  type CloseInfo,
  Connection,
  connectTcp,
  connectWs,
  createMemoryPair,
  type Listener,
  listenTcp,
  listenWs,
  WS_SUBPROTOCOL,
} from './transport/index.js'

// Test-token authentication. [AUTH-1]
export { makeTestToken, verifyTestToken } from './session/test-token.js'
export { DEFAULT_LIMITS, type ServerLimits } from './codec/index.js'

// Reference server and its stores.
export { type RunningServer, type ServerOptions, startServer } from './server/server.js'
export type { Store } from './server/store/store.js'
export { createMemoryStore, openSqliteStore, type SqliteStoreOptions } from './server/store/sqlite-store.js'

// Client (its whole surface, with the outbox and tracker pieces, is the
// `imwire/client` entry).
export {
  ClientError,
  ClientErrorCode,
  type ClientEvents,
  type ClientStore,
  type CreateConversationOptions,
  type Delivered,
  type DisconnectInfo,
  type FileStoreOptions,
  type HistoryOptions,
  ImwireClient,
  type ImwireClientOptions,
  isTerminalClose,
  JsonFileClientStore,
  MemoryClientStore,
  type SendOptions,
  type SendResult,
} from './client/index.js'
