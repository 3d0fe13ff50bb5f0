// Where a client keeps what must survive it: the outbox of unacked sends, the
// next send_seq per conversation and the delivery positions it has acked;
// with the features "read-state" and "inbox", the read states, the
// conversation list and the sync point it is current to ([INB-5]).
//
// The sync point is written after the inbox entries it covers, in the same
// write: a journal torn mid-write loses the point before it loses an entry,
// so a restarted client never holds a point newer than its list.
//
// [SND-5] a client_msg_id is persisted before its first transmission, so a
// client that restarts resends the same ids and the server's dedupe answers
// them with the original seqs. The store is a list of idempotent operations
// applied in order; the in-memory store is for tests and throwaway clients,
// the JSON-lines file store (client-file-store.ts) for anything that restarts.

/** One unacked send as stored. Binary fields stay binary; file stores encode them. */
export interface StoredEntry {
  /** Hex of client_msg_id (32 characters): the outbox key. */
  id: string
  clientMsgId: Uint8Array
  conversationId: string
  /** 0 = unordered (no send_seq check, [ORD-5]). */
  sendSeq: number
  contentType: string
  body: Uint8Array
  /** Outbox position: entries are resent in this order. [RTY-2] */
  order: number
  createdAtMs: number
}

import type { InboxEntry } from '../gen/es/imwire/v1/inbox_pb.js'
import type { ReadState } from './read-states.js'

/** Delivery position of one conversation: everything up to seq is held. */
export interface StoredPosition {
  seq: number
  epoch: number
}

export type StoreOp =
  | { op: 'put'; entry: StoredEntry }
  | { op: 'delete'; id: string }
  | { op: 'sendSeq'; conversationId: string; next: number }
  | { op: 'position'; conversationId: string; seq: number; epoch: number }
  | { op: 'readState'; state: ReadState }
  | { op: 'readStateDelete'; conversationId: string }
  | { op: 'inboxPut'; entry: InboxEntry }
  | { op: 'inboxDelete'; conversationId: string }
  | { op: 'inboxClear' }
  | { op: 'syncPoint'; point: number }

export interface StoredClientState {
  /** Ascending by order. */
  entries: StoredEntry[]
  /** Next send_seq to assign, per conversation. */
  nextSendSeq: Map<string, number>
  positions: Map<string, StoredPosition>
  readStates: Map<string, ReadState>
  /** The local conversation list, by conversation id. */
  inbox: Map<string, InboxEntry>
  /** Change number the inbox is current to; 0 = never synced. [INB-4] */
  syncPoint: number
}

export interface ClientStore {
  load(): Promise<StoredClientState>
  /** Resolves once the operations are durable (as durable as the store gets). */
  write(ops: StoreOp[]): Promise<void>
  close(): Promise<void>
}

/** Applies operations to a state: the one definition both stores share. */
export function applyOps(state: StoredClientState, ops: StoreOp[], entries: Map<string, StoredEntry>): void {
  for (const o of ops) {
    switch (o.op) {
      case 'put':
        entries.set(o.entry.id, o.entry)
        break
      case 'delete':
        entries.delete(o.id)
        break
      case 'sendSeq':
        state.nextSendSeq.set(o.conversationId, o.next)
        break
      case 'position':
        state.positions.set(o.conversationId, { seq: o.seq, epoch: o.epoch })
        break
      case 'readState':
        state.readStates.set(o.state.conversationId, { ...o.state })
        break
      case 'readStateDelete':
        state.readStates.delete(o.conversationId)
        break
      case 'inboxPut':
        state.inbox.set(o.entry.conversationId, o.entry)
        break
      case 'inboxDelete':
        state.inbox.delete(o.conversationId)
        break
      case 'inboxClear':
        state.inbox.clear()
        break
      case 'syncPoint':
        state.syncPoint = o.point
        break
    }
  }
}

export function emptyState(): StoredClientState {
  return {
    entries: [],
    nextSendSeq: new Map(),
    positions: new Map(),
    readStates: new Map(),
    inbox: new Map(),
    syncPoint: 0,
  }
}

/** A copy of a state for load(): maps copied, entries sorted by outbox order. */
export function snapshotState(state: StoredClientState, entries: Map<string, StoredEntry>): StoredClientState {
  return {
    entries: [...entries.values()].sort((a, b) => a.order - b.order),
    nextSendSeq: new Map(state.nextSendSeq),
    positions: new Map(state.positions),
    readStates: new Map(state.readStates),
    inbox: new Map(state.inbox),
    syncPoint: state.syncPoint,
  }
}

/** Keeps state in memory: survives reconnects, not the process. */
export class MemoryClientStore implements ClientStore {
  private readonly state = emptyState()
  private readonly entries = new Map<string, StoredEntry>()

  async load(): Promise<StoredClientState> {
    return snapshotState(this.state, this.entries)
  }

  async write(ops: StoreOp[]): Promise<void> {
    applyOps(this.state, ops, this.entries)
  }

  async close(): Promise<void> {}
}
