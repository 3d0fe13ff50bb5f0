// The outbox: every send the server has not acknowledged yet, in the order the
// application made them, with the ids and send_seqs they will keep for life.
//
// [SND-5] the client_msg_id is 16 bytes from the CSPRNG, created once and
// persisted (with its send_seq) before the first transmission; [RTY-2] after a
// reconnect the whole outbox is resent in this order with the same ids and
// send_seqs. The outbox knows nothing about connections: the client decides
// what is in flight.
import { randomBytes } from 'node:crypto'
import type { ClientStore, StoredEntry, StoreOp } from './client-store.js'

export type OutboxEntry = StoredEntry

export interface AddOptions {
  contentType?: string
  /** Use a send_seq (default true): the server refuses gaps so a lost send is never overtaken. [ORD-2] */
  ordered?: boolean
}

export class Outbox {
  private readonly store: ClientStore
  private readonly entries = new Map<string, OutboxEntry>()
  private readonly nextSendSeq: Map<string, number>
  private nextOrder: number
  private readonly now: () => number
  private readonly random: (n: number) => Uint8Array

  private constructor(
    store: ClientStore,
    entries: OutboxEntry[],
    nextSendSeq: Map<string, number>,
    now: () => number,
    random: (n: number) => Uint8Array,
  ) {
    this.store = store
    for (const e of entries) this.entries.set(e.id, e)
    this.nextSendSeq = nextSendSeq
    this.nextOrder = entries.reduce((m, e) => Math.max(m, e.order), 0) + 1
    this.now = now
    this.random = random
  }

  /** Load the outbox a store holds (empty for a new store). */
  static async open(
    store: ClientStore,
    opts: { now?: () => number; random?: (n: number) => Uint8Array } = {},
  ): Promise<Outbox> {
    const state = await store.load()
    return new Outbox(store, state.entries, state.nextSendSeq, opts.now ?? Date.now, opts.random ?? randomBytes)
  }

  get size(): number {
    return this.entries.size
  }

  /** Entries in resend order. [RTY-2] */
  list(): OutboxEntry[] {
    return [...this.entries.values()]
  }

  get(id: string): OutboxEntry | undefined {
    return this.entries.get(id)
  }

  /** The send_seq the next ordered message of this conversation gets. */
  peekSendSeq(conversationId: string): number {
    return this.nextSendSeq.get(conversationId) ?? 1
  }

  /**
   * Create a message: fresh id, next send_seq, persisted before the promise
   * resolves, so the caller may transmit it as soon as it has it. [SND-5]
   */
  async add(conversationId: string, body: Uint8Array, opts: AddOptions = {}): Promise<OutboxEntry> {
    const clientMsgId = this.random(16)
    const ordered = opts.ordered ?? true
    const sendSeq = ordered ? this.peekSendSeq(conversationId) : 0
    const entry: OutboxEntry = {
      id: Buffer.from(clientMsgId).toString('hex'),
      clientMsgId,
      conversationId,
      sendSeq,
      contentType: opts.contentType ?? '',
      body,
      order: this.nextOrder++,
      createdAtMs: this.now(),
    }
    const ops: StoreOp[] = [{ op: 'put', entry }]
    if (ordered) {
      this.nextSendSeq.set(conversationId, sendSeq + 1)
      ops.push({ op: 'sendSeq', conversationId, next: sendSeq + 1 })
    }
    await this.store.write(ops)
    // Visible to the pipeline (and to a reconnect's resend) only once durable. [SND-5]
    this.entries.set(entry.id, entry)
    return entry
  }

  /** The server acknowledged it: forget it. */
  remove(id: string): Promise<void> {
    if (!this.entries.delete(id)) return Promise.resolve()
    return this.store.write([{ op: 'delete', id }])
  }

  /**
   * The server refused it for good ([RTY-5]: surfaced, removed). The refused
   * send_seq was never accepted, so the server still expects it: the later
   * ordered messages of the conversation move down by one (none of them can
   * have been committed, since each needs its predecessor first [ORD-2]) and
   * the next new message takes the last number.
   */
  drop(id: string): Promise<void> {
    const gone = this.entries.get(id)
    if (gone === undefined) return Promise.resolve()
    this.entries.delete(id)
    const ops: StoreOp[] = [{ op: 'delete', id }]
    if (gone.sendSeq !== 0) {
      for (const e of this.entries.values()) {
        if (e.conversationId === gone.conversationId && e.sendSeq > gone.sendSeq) {
          e.sendSeq -= 1
          ops.push({ op: 'put', entry: e })
        }
      }
      const next = this.peekSendSeq(gone.conversationId) - 1
      this.nextSendSeq.set(gone.conversationId, next)
      ops.push({ op: 'sendSeq', conversationId: gone.conversationId, next })
    }
    return this.store.write(ops)
  }

  /**
   * The server expects `expected` next but the outbox has no message with
   * that send_seq (the client lost its sequence state): move the
   * conversation's messages numbered at or above it down so the lowest takes
   * `expected`. None of them can have been committed: each needs its
   * predecessor, and `expected - 1` is the last the server accepted. [ORD-3]
   * Returns true when something was renumbered.
   */
  resync(conversationId: string, expected: number): Promise<boolean> {
    let low = Number.POSITIVE_INFINITY
    for (const e of this.entries.values()) {
      if (e.conversationId === conversationId && e.sendSeq >= expected && e.sendSeq < low) low = e.sendSeq
    }
    if (low === Number.POSITIVE_INFINITY || low === expected) return Promise.resolve(false)
    const shift = low - expected
    const ops: StoreOp[] = []
    for (const e of this.entries.values()) {
      if (e.conversationId === conversationId && e.sendSeq >= low) {
        e.sendSeq -= shift
        ops.push({ op: 'put', entry: e })
      }
    }
    const next = this.peekSendSeq(conversationId) - shift
    this.nextSendSeq.set(conversationId, next)
    ops.push({ op: 'sendSeq', conversationId, next })
    return this.store.write(ops).then(() => true)
  }
}
