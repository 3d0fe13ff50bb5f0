// Phase 2 of startServer: every store operation goes through here, so that
// committed messages and membership changes reach the hub in commit order,
// and shutdown knows how many operations are still in flight.
import type { ResultOf, StoreOp } from '../session/store-ops.js'
import type { Hub } from './hub.js'
import type { SessionDriver } from './session-driver.js'
import type { Store } from './store/store.js'

export class StoreFanOut {
  private inflight = 0
  /** False when the store fans out itself (cluster mode). */
  private readonly publishes: boolean

  constructor(
    private readonly store: Store,
    private readonly hub: Hub<SessionDriver>,
  ) {
    this.publishes = store.attachHub === undefined
    store.attachHub?.(hub as Hub)
  }

  /** Operations submitted and not settled yet. */
  get inflightOps(): number {
    return this.inflight
  }

  run<O extends StoreOp>(op: O): Promise<ResultOf<O>> {
    this.inflight++
    const p = this.store.run(op)
    p.then(
      (r) => {
        this.inflight--
        // Fan-out in commit order: results settle in commit order. [FAN-1] [ORD-1]
        const res = r as ResultOf<StoreOp>
        if (!this.publishes) return
        if (op.op === 'send' && res.ok && 'duplicate' in res) {
          if (!res.duplicate) this.hub.publish(res.message, res.epoch, res.members) // [FAN-2]
        } else if (op.op === 'markRead' && res.ok && 'readNotices' in res) {
          if (res.readNotices !== null) this.hub.readMoved(res.readNotices, res.state) // [RD-4]
        } else if (res.ok && 'notices' in res) {
          this.hub.notify(res.conversation.conversationId, res.notices, res.epoch, res.topSeq) // [CNV-6]
        }
      },
      () => {
        this.inflight--
      },
    )
    return p
  }
}
