// The group-commit loop, once for both places that commit: the store on the
// main thread (memory, or SQLite without a worker) and the SQLite worker
// thread. Every operation queued since the last group runs in one
// transaction, committed once [ACK-4]; its outcomes leave only after that
// commit [ACK-1]. A commit that fails fails every operation of its group (the
// clients retry with the same client_msg_id [DUP-6]).
import type { GroupRunner, OpOutcome, QueuedOp } from './group-runner.js'

/** Largest commit group: bounds one transaction's latency. */
export const MAX_GROUP_OPS = 4096

export class GroupCommitLoop {
  private queue: QueuedOp[] = []
  private scheduled = false
  private onClosed: (() => void) | null = null

  constructor(
    private readonly runner: GroupRunner,
    /** Receives each group's outcomes, after its commit. */
    private readonly deliver: (outcomes: OpOutcome[]) => void,
  ) {}

  push(ops: readonly QueuedOp[]): void {
    for (const op of ops) this.queue.push(op)
    this.schedule()
  }

  /** Runs what is queued, then closes the runner and calls `done`. */
  close(done: () => void): void {
    this.onClosed = done
    this.schedule()
  }

  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    // One group per event-loop turn: the ops that arrived during this turn
    // (or while the last commit's fsync ran) form the next group.
    setImmediate(() => this.runGroup())
  }

  private runGroup(): void {
    this.scheduled = false
    if (this.queue.length === 0) {
      if (this.onClosed) {
        this.runner.close()
        this.onClosed()
      }
      return
    }
    // The common case takes the whole queue without copying it.
    const ops = this.queue.length <= MAX_GROUP_OPS ? this.queue : this.queue.slice(0, MAX_GROUP_OPS)
    this.queue = this.queue.length <= MAX_GROUP_OPS ? [] : this.queue.slice(MAX_GROUP_OPS)
    const outcomes = this.runner.execute(ops)
    let out = outcomes
    try {
      this.runner.commit()
    } catch (err) {
      out = outcomes.map(({ id }) => ({ id, error: (err as Error).message }))
    }
    this.deliver(out)
    if (this.queue.length > 0 || this.onClosed) this.schedule()
  }
}
