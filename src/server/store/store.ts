// The store interface the server runs session operations against, and the
// in-process implementation used for the in-memory store (and for SQLite
// without a worker thread). Operations run in submission order; the ones
// submitted during one event-loop turn form one commit group. [ACK-4]
import type { ResultOf, StoreOp, StoreResult } from '../../session/store-ops.js'
import type { GroupRunner, OpOutcome, QueuedOp } from './group-runner.js'
import { IdSlots } from '../../session/id-slots.js'

export interface Store {
  readonly kind: 'memory' | 'sqlite'
  /** Run one operation; resolves after the commit that holds it. [ACK-1] Rejects on backend failure. */
  run<O extends StoreOp>(op: O): Promise<ResultOf<O>>
  /** Resolves once every operation submitted so far has completed. */
  idle(): Promise<void>
  /** Finish submitted work, then close. Later run() calls reject. */
  close(): Promise<void>
}

interface Waiter {
  resolve(r: StoreResult): void
  reject(e: Error): void
}

/** Largest commit group: bounds one transaction's latency. */
export const MAX_GROUP_OPS = 4096

/** Shared bookkeeping: ids, waiters, idle/close promises. */
export abstract class QueueingStore implements Store {
  abstract readonly kind: 'memory' | 'sqlite'
  private nextId = 1
  /** Not a Map: see id-slots.ts (GC promotion through replaced hash tables). */
  private readonly waiters = new IdSlots<Waiter>()
  private idleWaiters: (() => void)[] = []
  protected closed = false

  run<O extends StoreOp>(op: O): Promise<ResultOf<O>> {
    if (this.closed) return Promise.reject(new Error('store closed'))
    const id = this.nextId++
    return new Promise<ResultOf<O>>((resolve, reject) => {
      this.waiters.add(id, { resolve: resolve as (r: StoreResult) => void, reject })
      this.submit({ id, op })
    })
  }

  protected settle(outcomes: OpOutcome[]): void {
    for (const o of outcomes) {
      const w = this.waiters.take(o.id)
      if (w === undefined) continue
      if ('error' in o) w.reject(new Error(o.error))
      else w.resolve(o.result)
    }
    if (this.waiters.size === 0) {
      const ws = this.idleWaiters
      this.idleWaiters = []
      for (const f of ws) f()
    }
  }

  protected failAll(message: string): void {
    this.settle(this.waiters.ids().map((id) => ({ id, error: message })))
  }

  idle(): Promise<void> {
    if (this.waiters.size === 0) return Promise.resolve()
    return new Promise((r) => this.idleWaiters.push(r))
  }

  async close(): Promise<void> {
    await this.idle()
    this.closed = true
    await this.shutdown()
  }

  protected abstract submit(op: QueuedOp): void
  protected abstract shutdown(): Promise<void>
}

/** Runs a GroupRunner on this thread: one group per event-loop turn. */
export class LocalStore extends QueueingStore {
  readonly kind: 'memory' | 'sqlite'
  private queue: QueuedOp[] = []
  private scheduled = false

  constructor(
    private readonly runner: GroupRunner,
    kind: 'memory' | 'sqlite',
  ) {
    super()
    this.kind = kind
  }

  protected submit(op: QueuedOp): void {
    this.queue.push(op)
    this.schedule()
  }

  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => this.runGroup())
  }

  private runGroup(): void {
    this.scheduled = false
    if (this.queue.length === 0) return
    const ops = this.queue.splice(0, MAX_GROUP_OPS)
    const outcomes = this.runner.execute(ops)
    this.commitOrFail(outcomes)
    if (this.queue.length > 0) this.schedule()
  }

  private commitOrFail(outcomes: OpOutcome[]): void {
    try {
      this.runner.commit()
      this.settle(outcomes)
    } catch (err) {
      this.settle(outcomes.map(({ id }) => ({ id, error: (err as Error).message })))
    }
  }

  protected async shutdown(): Promise<void> {
    this.runner.close()
  }
}
