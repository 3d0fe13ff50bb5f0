// The store interface the server runs session operations against, and the
// in-process implementation used for the in-memory store (and for SQLite
// without a worker thread). Operations run in submission order; the ones
// submitted during one event-loop turn form one commit group. [ACK-4]
import type { ResultOf, StoreOp, StoreResult } from '../../session/store-ops.js'
import { GroupCommitLoop } from './group-commit.js'
import type { GroupRunner, OpOutcome, QueuedOp } from './group-runner.js'
import { STORE_FEATURES } from '../../session/handshake.js'
import { IdSlots } from '../../session/id-slots.js'

export interface Store {
  readonly kind: 'memory' | 'sqlite' | 'postgres'
  /**
   * The features of STORE_FEATURES (read-state, inbox, history-time) this
   * store supports; the server offers no other of them.
   */
  readonly features?: readonly string[]
  /**
   * A store that fans committed traffic out itself (cluster mode: in commit
   * order across nodes) takes the hub here; the server then leaves
   * publishing to it.
   */
  attachHub?(hub: import('../hub.js').Hub): void
  /**
   * Graceful shutdown, before Close 3001: hand the hub everything committed
   * so far, elsewhere too (cluster mode: follow the commit log up to its
   * head), so that live Delivers of it go out first. [ERR-6]
   */
  catchUp?(): Promise<void>
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

/** Shared bookkeeping: ids, waiters, idle/close promises. */
export abstract class QueueingStore implements Store {
  abstract readonly kind: 'memory' | 'sqlite' | 'postgres'
  /** None unless the subclass says so (see Store.features). */
  readonly features: readonly string[] = []
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
  // Both runners' tables (memory, SQLite) track changes.
  override readonly features = STORE_FEATURES
  private readonly loop: GroupCommitLoop

  constructor(runner: GroupRunner, kind: 'memory' | 'sqlite') {
    super()
    this.kind = kind
    this.loop = new GroupCommitLoop(runner, (outcomes) => this.settle(outcomes))
  }

  protected submit(op: QueuedOp): void {
    this.loop.push([op])
  }

  protected shutdown(): Promise<void> {
    return new Promise((resolve) => this.loop.close(resolve))
  }
}
