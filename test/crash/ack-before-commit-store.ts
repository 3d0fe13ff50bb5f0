// A deliberately broken store for the crash test's self-check: it answers
// every operation as soon as the group has run inside its transaction and
// commits that transaction DELAY_MS later. A SendAck built from its result
// therefore precedes the durable commit, and a SIGKILL in between loses an
// acknowledged message — exactly what [ACK-1] forbids and what the crash
// scenario must catch. Test code only: the shipped server has no such switch.
import { type OpOutcome, type QueuedOp, SqliteRunner } from '../../src/server/store/group-runner.js'
import { MAX_GROUP_OPS } from '../../src/server/store/group-commit.js'
import { QueueingStore } from '../../src/server/store/store.js'

/** Long enough that a kill under load lands inside the gap most of the time. */
const DELAY_MS = 150

export class AckBeforeCommitStore extends QueueingStore {
  readonly kind = 'sqlite' as const
  private queue: QueuedOp[] = []
  private scheduled = false
  /** A group executed and answered but not committed yet. */
  private held: NodeJS.Timeout | null = null

  constructor(private readonly runner: SqliteRunner) {
    super()
  }

  static open(path: string): AckBeforeCommitStore {
    return new AckBeforeCommitStore(new SqliteRunner({ path, synchronous: 'FULL' }))
  }

  protected submit(op: QueuedOp): void {
    this.queue.push(op)
    this.schedule()
  }

  private schedule(): void {
    if (this.scheduled || this.held !== null) return
    this.scheduled = true
    setImmediate(() => this.runGroup())
  }

  private runGroup(): void {
    this.scheduled = false
    if (this.queue.length === 0) return
    const outcomes: OpOutcome[] = this.runner.execute(this.queue.splice(0, MAX_GROUP_OPS))
    // THE FAULT: results (and so SendAcks) leave before COMMIT.
    this.settle(outcomes)
    this.held = setTimeout(() => this.commitHeld(), DELAY_MS)
  }

  private commitHeld(): void {
    if (this.held !== null) clearTimeout(this.held)
    this.held = null
    try {
      this.runner.commit()
    } catch {
      // Nothing to tell anyone: the answers are already out (that is the bug).
    }
    this.schedule()
  }

  protected async shutdown(): Promise<void> {
    this.commitHeld()
    this.runner.close()
  }
}
