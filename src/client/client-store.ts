// Where a client keeps what must survive it: the outbox of unacked sends, the
// next send_seq per conversation and the delivery positions it has acked.
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

export interface StoredClientState {
  /** Ascending by order. */
  entries: StoredEntry[]
  /** Next send_seq to assign, per conversation. */
  nextSendSeq: Map<string, number>
  positions: Map<string, StoredPosition>
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
    }
  }
}

export function emptyState(): StoredClientState {
  return { entries: [], nextSendSeq: new Map(), positions: new Map() }
}

/** Keeps state in memory: survives reconnects, not the process. */
export class MemoryClientStore implements ClientStore {
  private readonly state = emptyState()
  private readonly entries = new Map<string, StoredEntry>()

  async load(): Promise<StoredClientState> {
    return {
      entries: [...this.entries.values()].sort((a, b) => a.order - b.order),
      nextSendSeq: new Map(this.state.nextSendSeq),
      positions: new Map(this.state.positions),
    }
  }

  async write(ops: StoreOp[]): Promise<void> {
    applyOps(this.state, ops, this.entries)
  }

  async close(): Promise<void> {}
}
