// Public shapes of the client: options, what it hands to the application.
import type { ConversationInfo, ConversationUpdated } from '../gen/es/imwire/v1/conversation_pb.js'
import type { Welcome } from '../gen/es/imwire/v1/handshake_pb.js'
import type { InboxEntry } from '../gen/es/imwire/v1/inbox_pb.js'
import type { Connection } from '../transport/index.js'
import type { BackoffOptions } from './backoff.js'
import type { ClientError } from './client-error.js'
import type { ClientStore } from './client-store.js'
import type { InboxDelta } from './inbox-sync.js'
import type { OutboxEntry } from './outbox.js'
import type { PeerReadInfo, ReadStateSource } from './read-inbox.js'
import type { ReadState } from './read-states.js'

export interface ImwireClientOptions {
  /** Server address: "tcp://host:port" or "ws://host:port/imwire" (wss too). */
  url?: string
  /** Instead of url: open a connection yourself (tests use the in-memory pair). */
  connect?: () => Promise<Connection>
  token: string
  /** Stable id of this installation: [A-Za-z0-9._-]{1,64}. */
  deviceId: string
  /** Outbox, send sequences, positions, read states and inbox. Default: in memory (lost with the process). */
  store?: ClientStore
  /**
   * Features to request (Hello.features), exactly these. Default:
   * DEFAULT_FEATURES ("read-state", "inbox", "history-time"); pass [] for
   * none, or e.g. [...DEFAULT_FEATURES, "lz4"]. What the server enabled is in
   * `client.features`. [HS-5]
   */
  features?: string[]
  /** With "inbox" enabled, run sync() on every ready connection (default true). [RD-4] [INB-5] */
  syncOnReady?: boolean
  /** Requested heartbeat (ms); 0 = server default. [HS-9] */
  heartbeatMs?: number
  /** Requested receive window; 0 = server default. */
  receiveWindow?: number
  /** Never keep more Sends in flight than this (the server's max_inflight_sends also caps it). [FLW-2] */
  maxInflightSends?: number
  /** Reconnect automatically after a non-terminal close (default true). [RTY-4] */
  reconnect?: boolean
  backoff?: BackoffOptions
  /** Extra silence beyond heartbeat_ms before the link counts as dead. [HB-3] Default 10 s. */
  deadMarginMs?: number
  /** Coalesce DeliverAcks for this long (default 5 ms; 0 = end of the event-loop turn). */
  ackDelayMs?: number
  connectTimeoutMs?: number
  /** Give up on a handshake (no Welcome and ReplayComplete) after this long (default 15 s). */
  handshakeTimeoutMs?: number
  clientName?: string
  /** Clock, for tests. */
  now?: () => number
  /** Where client_msg_ids come from (default: node:crypto randomBytes, a CSPRNG [SND-5]); for tests. */
  randomBytes?: (n: number) => Uint8Array
}

/** A message handed to the application, once, in seq order per conversation. */
export interface Delivered {
  conversationId: string
  seq: number
  epoch: number
  messageId: string
  senderUserId: string
  senderDeviceId: string
  clientMsgId: Uint8Array
  contentType: string
  body: Uint8Array
  serverTimeMs: number
  /** Committed before this connection's Welcome. [DLV-6] */
  replayed: boolean
  /** Read from history (joined with history, replay limit, new epoch) rather than delivered. */
  fromHistory: boolean
}

/** A SendAck, as the application sees it. */
export interface SendResult {
  /** Hex of client_msg_id. */
  id: string
  conversationId: string
  sendSeq: number
  seq: number
  messageId: string
  serverTimeMs: number
  epoch: number
  /** The server had it already (a retry). [DUP-2] */
  duplicate: boolean
}

export interface SendOptions {
  contentType?: string
  /** Use a send_seq (default true). [ORD-2] */
  ordered?: boolean
}

export interface DisconnectInfo {
  /** Close code received (or 0 when the link just broke). */
  code: number
  reason: string
  /** Delay before the next attempt, null when the client stops. */
  reconnectInMs: number | null
}

export type ClientState = 'idle' | 'connecting' | 'handshaking' | 'replaying' | 'ready' | 'waiting' | 'closed'

export interface ClientEvents {
  /** A delivered message. */
  message: [m: Delivered]
  /** One of this client's sends is durable. */
  ack: [r: SendResult]
  /** The server refused a send for good; it left the outbox. [RTY-5] */
  rejected: [entry: OutboxEntry, err: ClientError]
  /** A connection completed handshake and replay. */
  ready: [welcome: Welcome]
  /** The server says a conversation changed (joined, removed, members, epoch). */
  updated: [u: ConversationUpdated]
  /** A connection ended. */
  disconnected: [info: DisconnectInfo]
  /** The client stopped for good (terminal close code or close()). */
  terminated: [err: ClientError]
  state: [s: ClientState]
  /** A read state changed: a read on any device, a delivery, a listing or sync. [RD-4] [RD-5] */
  readState: [s: ReadState, source: ReadStateSource]
  /** DIRECT: the other member read up to a seq ("seen"). [RD-4] */
  peerRead: [p: PeerReadInfo]
  /** loadInbox() or sync() changed the local conversation list. */
  inbox: [d: InboxDelta]
}

export type { ConversationInfo, InboxEntry }
