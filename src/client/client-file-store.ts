// A client store in one JSON-lines journal, so a restarted client process
// keeps its outbox ids, send sequences and positions. [SND-5]
//
// Each write appends one line per operation and (by default) fsyncs before the
// promise resolves: the outbox entry is on disk before the Send leaves. Writes
// issued in the same event-loop turn share one append and one fsync, so a
// burst of sends costs one disk flush, not one each. The journal is compacted
// (rewritten as a snapshot via a temporary file and rename, which is atomic on
// POSIX) when it is opened and whenever it grows past a few times its live
// size, so it stays proportional to the outbox, not to the history of sends.
import { type FileHandle, open, readFile, rename } from 'node:fs/promises'
import { fromJson, type JsonValue, toJson } from '@bufbuild/protobuf'
import { InboxEntrySchema } from '../gen/es/imwire/v1/inbox_pb.js'
import {
  type StoredClientState,
  type ClientStore,
  applyOps,
  emptyState,
  snapshotState,
  type StoredEntry,
  type StoreOp,
} from './client-store.js'

export interface FileStoreOptions {
  /** fsync after each group of writes (default true). Off: survives a process crash, not a power cut. */
  fsync?: boolean
}

interface Line {
  t: 'put' | 'del' | 'seq' | 'pos' | 'rs' | 'rsdel' | 'ibx' | 'ibxdel' | 'ibxclr' | 'sp'
  [k: string]: unknown
}

/** Compact when the journal holds this many lines more than the live state needs. */
const COMPACT_SLACK_LINES = 10_000

function toLine(o: StoreOp): Line {
  switch (o.op) {
    case 'put': {
      const e = o.entry
      return {
        t: 'put',
        id: e.id,
        c: e.conversationId,
        s: e.sendSeq,
        ct: e.contentType,
        b: Buffer.from(e.body).toString('base64'),
        o: e.order,
        at: e.createdAtMs,
      }
    }
    case 'delete':
      return { t: 'del', id: o.id }
    case 'sendSeq':
      return { t: 'seq', c: o.conversationId, n: o.next }
    case 'position':
      return { t: 'pos', c: o.conversationId, s: o.seq, e: o.epoch }
    case 'readState': {
      const r = o.state
      return {
        t: 'rs',
        c: r.conversationId,
        e: r.epoch,
        top: r.topSeq,
        r: r.readSeq,
        u: r.unreadCount,
        p: r.peerReadSeq,
      }
    }
    case 'readStateDelete':
      return { t: 'rsdel', c: o.conversationId }
    case 'inboxPut':
      // The protobuf JSON mapping: bytes as base64, uint64 as strings.
      return { t: 'ibx', v: toJson(InboxEntrySchema, o.entry) }
    case 'inboxDelete':
      return { t: 'ibxdel', c: o.conversationId }
    case 'inboxClear':
      return { t: 'ibxclr' }
    case 'syncPoint':
      return { t: 'sp', n: o.point }
  }
}

function fromLine(l: Line): StoreOp | null {
  switch (l.t) {
    case 'put':
      return {
        op: 'put',
        entry: {
          id: String(l.id),
          clientMsgId: Buffer.from(String(l.id), 'hex'),
          conversationId: String(l.c),
          sendSeq: Number(l.s),
          contentType: String(l.ct ?? ''),
          body: Buffer.from(String(l.b ?? ''), 'base64'),
          order: Number(l.o),
          createdAtMs: Number(l.at ?? 0),
        },
      }
    case 'del':
      return { op: 'delete', id: String(l.id) }
    case 'seq':
      return { op: 'sendSeq', conversationId: String(l.c), next: Number(l.n) }
    case 'pos':
      return { op: 'position', conversationId: String(l.c), seq: Number(l.s), epoch: Number(l.e) }
    case 'rs':
      return {
        op: 'readState',
        state: {
          conversationId: String(l.c),
          epoch: Number(l.e),
          topSeq: Number(l.top),
          readSeq: Number(l.r),
          unreadCount: Number(l.u),
          peerReadSeq: Number(l.p ?? 0),
        },
      }
    case 'rsdel':
      return { op: 'readStateDelete', conversationId: String(l.c) }
    case 'ibx':
      return { op: 'inboxPut', entry: fromJson(InboxEntrySchema, l.v as JsonValue, { ignoreUnknownFields: true }) }
    case 'ibxdel':
      return { op: 'inboxDelete', conversationId: String(l.c) }
    case 'ibxclr':
      return { op: 'inboxClear' }
    case 'sp':
      return { op: 'syncPoint', point: Number(l.n) }
    default:
      return null
  }
}

interface Pending {
  lines: string[]
  done: Promise<void>
  resolve: () => void
  reject: (err: Error) => void
}

export class JsonFileClientStore implements ClientStore {
  private readonly path: string
  private readonly fsync: boolean
  private readonly state = emptyState()
  private readonly entries = new Map<string, StoredEntry>()
  private fh: FileHandle | null = null
  private journalLines = 0
  private pending: Pending | null = null
  private flushing: Promise<void> = Promise.resolve()
  private closed = false

  constructor(path: string, opts: FileStoreOptions = {}) {
    this.path = path
    this.fsync = opts.fsync ?? true
  }

  async load(): Promise<StoredClientState> {
    let text = ''
    try {
      text = await readFile(this.path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    for (const raw of text.split('\n')) {
      if (raw === '') continue
      let line: Line
      try {
        line = JSON.parse(raw) as Line
      } catch {
        // A torn last line (crash mid-append) is the only way to get here;
        // its operation was never acknowledged to the caller, so drop it.
        continue
      }
      const op = fromLine(line)
      if (op !== null) applyOps(this.state, [op], this.entries)
    }
    await this.compact()
    return snapshotState(this.state, this.entries)
  }

  write(ops: StoreOp[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('client store closed'))
    applyOps(this.state, ops, this.entries)
    if (this.pending === null) {
      let resolve!: () => void
      let reject!: (err: Error) => void
      const done = new Promise<void>((res, rej) => {
        resolve = res
        reject = rej
      })
      const p: Pending = { lines: [], done, resolve, reject }
      this.pending = p
      // Everything written until the previous flush ends joins this group.
      this.flushing = this.flushing.then(() => new Promise((r) => setImmediate(r))).then(() => this.flushGroup(p))
    }
    for (const o of ops) this.pending.lines.push(JSON.stringify(toLine(o)))
    return this.pending.done
  }

  private async flushGroup(p: Pending): Promise<void> {
    if (this.pending === p) this.pending = null
    try {
      if (this.fh === null) this.fh = await open(this.path, 'a')
      await this.fh.write(`${p.lines.join('\n')}\n`)
      if (this.fsync) await this.fh.datasync()
      this.journalLines += p.lines.length
      p.resolve()
    } catch (err) {
      p.reject(err as Error)
      return
    }
    if (this.journalLines > this.liveLines() + COMPACT_SLACK_LINES) {
      // A failed compaction leaves the journal as it was: still valid, just long.
      await this.compact().catch(() => {})
    }
  }

  private liveLines(): number {
    const s = this.state
    return this.entries.size + s.nextSendSeq.size + s.positions.size + s.readStates.size + s.inbox.size + 1
  }

  /** Rewrite the journal as a snapshot of the live state (tmp file, fsync, rename). */
  private async compact(): Promise<void> {
    const lines: string[] = []
    for (const [c, n] of this.state.nextSendSeq)
      lines.push(JSON.stringify(toLine({ op: 'sendSeq', conversationId: c, next: n })))
    for (const [c, p] of this.state.positions) {
      lines.push(JSON.stringify(toLine({ op: 'position', conversationId: c, seq: p.seq, epoch: p.epoch })))
    }
    for (const r of this.state.readStates.values()) lines.push(JSON.stringify(toLine({ op: 'readState', state: r })))
    for (const e of this.state.inbox.values()) lines.push(JSON.stringify(toLine({ op: 'inboxPut', entry: e })))
    // After the entries it covers (see client-store.ts).
    if (this.state.syncPoint !== 0) lines.push(JSON.stringify(toLine({ op: 'syncPoint', point: this.state.syncPoint })))
    const sorted = [...this.entries.values()].sort((a, b) => a.order - b.order)
    for (const e of sorted) lines.push(JSON.stringify(toLine({ op: 'put', entry: e })))
    const tmp = `${this.path}.tmp`
    const fh = await open(tmp, 'w')
    try {
      if (lines.length > 0) await fh.write(`${lines.join('\n')}\n`)
      await fh.sync()
    } finally {
      await fh.close()
    }
    if (this.fh !== null) {
      await this.fh.close()
      this.fh = null
    }
    await rename(tmp, this.path)
    this.journalLines = lines.length
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.flushing
    if (this.fh !== null) {
      await this.fh.close()
      this.fh = null
    }
  }
}
