// The imwire client: public surface.
export { ImwireClient } from './client.js'
export type {
  ClientEvents,
  ClientState,
  Delivered,
  DisconnectInfo,
  ImwireClientOptions,
  InboxEntry,
  SendOptions,
  SendResult,
} from './client-types.js'
export { ClientError, ClientErrorCode, isTerminalClose } from './client-error.js'
export {
  type StoredClientState,
  type ClientStore,
  MemoryClientStore,
  type StoredEntry,
  type StoreOp,
} from './client-store.js'
export { JsonFileClientStore, type FileStoreOptions } from './client-file-store.js'
export { Outbox, type OutboxEntry } from './outbox.js'
export { Backoff, BACKOFF_BASE_MS, BACKOFF_CAP_MS, type BackoffOptions } from './backoff.js'
export { DeliveryTracker, type Position } from './delivery-tracker.js'
export { Heartbeat, DEAD_MARGIN_MS } from './heartbeat.js'
export { SendPipeline } from './send-pipeline.js'
export type { CreateConversationOptions, HistoryOptions } from './conversation-requests.js'
export { DEFAULT_FEATURES, FEATURE_HISTORY_TIME, FEATURE_INBOX, FEATURE_READ_STATE } from './features.js'
export type { InboxPageOptions, SyncPageOptions } from './inbox-requests.js'
export type { InboxDelta, InboxFetchOptions } from './inbox-sync.js'
export type { MarkReadOutcome, PeerReadInfo, ReadCountInfo, ReadStateSource } from './read-inbox.js'
export { type ReadState, ReadStates } from './read-states.js'
export { makeTestToken } from './test-token.js'
