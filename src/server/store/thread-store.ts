// A store whose commit groups run in a writer thread (SQLite's worker, a
// cluster node's PostgreSQL writer): operations submitted during one event
// loop turn go over in one postMessage (worker-wire.ts keeps it small); the
// thread answers each group after its commit.
import type { Worker } from 'node:worker_threads'
import { IdSlots } from '../../session/id-slots.js'
import type { StoreOp } from '../../session/store-ops.js'
import type { OpOutcome, QueuedOp } from './group-runner.js'
import { QueueingStore } from './store.js'
import { fullOutcome, packSends, type WireOutcome } from './worker-wire.js'

export abstract class ThreadStore extends QueueingStore {
  private outbox: QueuedOp[] = []
  private scheduled = false
  private closing: Promise<void> | null = null
  /** Ops posted and not answered yet, by id (to rebuild slim results). Not a Map: see id-slots.ts. */
  private readonly posted = new IdSlots<StoreOp>()

  constructor(protected readonly worker: Worker) {
    super()
  }

  protected submit(op: QueuedOp): void {
    this.outbox.push(op)
    if (!this.scheduled) {
      this.scheduled = true
      // One postMessage per turn carries every op of that turn.
      setImmediate(() => {
        this.scheduled = false
        const ops = packSends(this.outbox)
        this.outbox = []
        for (const q of ops) this.posted.add(q.id, q.op)
        this.worker.postMessage({ type: 'ops', ops })
      })
    }
  }

  /** A group's answer from the thread, each outcome whole again and with its op. */
  protected received(wire: WireOutcome[]): { op: StoreOp | undefined; outcome: OpOutcome }[] {
    return wire.map((w) => {
      const op = this.posted.take(w.id)
      return { op, outcome: fullOutcome(w, op) }
    })
  }

  /** Ask the thread to finish its groups and exit; resolves when it has. */
  protected closeThread(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.worker.once('exit', () => resolve())
      this.worker.postMessage({ type: 'close' })
    })
    return this.closing
  }
}
