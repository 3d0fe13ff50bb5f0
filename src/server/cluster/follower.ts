// A node's view of the cluster's commit log: it hands every committed
// message and membership notice to the node's hub exactly once, in commit
// order, whichever node committed it. [FAN-1] [ORD-1] [DLV-1] [CNV-14]
//
// Entries arrive three ways: this node's own commits (from its store
// worker), Redis pub/sub (fast, at most once, any order across
// publishers), and reads of the log table in PostgreSQL (the truth). An
// entry is applied only when it is the next position; a gap is filled from
// PostgreSQL, and a periodic look at the log head finds entries whose
// publish Redis lost when nothing came after them. Delivery correctness
// never depends on Redis delivering anything.
import { decodeEvents, type LogEvent } from './log-events.js'

export interface LogReader {
  /** Entries with pos > after, ascending, at most limit. */
  readAfter(after: number, limit: number): Promise<{ pos: number; payload: string }[]>
  head(): Promise<number>
}

interface Entry {
  events: LogEvent[] | null
  payload: string | null
  /** Callbacks to run once the entry is applied (own commits: their results). */
  after: (() => void)[]
}

const REPAIR_PAGE = 500

export class LogFollower {
  private readonly pending = new Map<number, Entry>()
  private repairing: Promise<void> | null = null
  private timer: NodeJS.Timeout | null = null
  /** Entries applied from a PostgreSQL read (Redis lost or was late with them). */
  repaired = 0

  constructor(
    /** Last applied position. */
    private position: number,
    private readonly reader: LogReader,
    private readonly apply: (events: LogEvent[], pos: number) => void,
    private readonly onError: (err: Error) => void,
  ) {}

  get applied(): number {
    return this.position
  }

  /** Look at the log head every `ms` (the bound on delivery delay when Redis loses a publish). */
  start(ms: number): void {
    this.timer = setInterval(() => {
      this.reader.head().then(
        (head) => {
          if (head > this.position) this.repair()
        },
        (err: Error) => this.onError(err),
      )
    }, ms)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  /** This node committed entry `pos`; `after` runs once it is applied (at once if it already was). */
  committed(pos: number, events: LogEvent[], after: () => void): void {
    if (pos <= this.position) {
      after()
      return
    }
    const e = this.entry(pos)
    e.events ??= events
    e.after.push(after)
    this.drain()
  }

  /** An entry published on Redis (any node's, this one's included). */
  published(pos: number, payload: string): void {
    if (pos <= this.position) return
    const e = this.entry(pos)
    if (e.events === null) e.payload ??= payload
    this.drain()
  }

  private entry(pos: number): Entry {
    let e = this.pending.get(pos)
    if (e === undefined) {
      e = { events: null, payload: null, after: [] }
      this.pending.set(pos, e)
    }
    return e
  }

  /** Apply what is next in line; `kick`: start a repair when a gap remains. */
  private drain(kick = true): void {
    for (;;) {
      const next = this.position + 1
      const e = this.pending.get(next)
      if (e === undefined || (e.events === null && e.payload === null)) break
      this.pending.delete(next)
      this.position = next
      try {
        this.apply(e.events ?? decodeEvents(e.payload as string), next)
      } catch (err) {
        this.onError(err as Error)
      }
      for (const f of e.after) f()
    }
    if (kick && this.pending.size > 0) this.repair()
  }

  /** Fill the gap below the pending entries (or up to the head) from PostgreSQL. */
  repair(): void {
    if (this.repairing !== null) return
    this.repairing = (async () => {
      try {
        for (;;) {
          const rows = await this.reader.readAfter(this.position, REPAIR_PAGE)
          if (rows.length === 0) break
          const first = (rows[0] as { pos: number }).pos
          if (first > this.position + 1) {
            // Pruned past this node (it fell further behind than the log's
            // retention): those entries are gone. Go on from what is there
            // and say so; the node should be restarted (docs/cluster.md).
            this.onError(new Error(`commit log entries ${this.position + 1}..${first - 1} were pruned unread`))
            this.position = first - 1
          }
          for (const r of rows) {
            if (r.pos <= this.position) continue
            const e = this.entry(r.pos)
            if (e.events === null && e.payload === null) {
              e.payload = r.payload
              this.repaired++
            }
          }
          this.drain(false)
          if (rows.length < REPAIR_PAGE) break
        }
      } catch (err) {
        this.onError(err as Error)
      } finally {
        this.repairing = null
      }
      // Entries that came in meanwhile may still wait behind a gap.
      if (this.pending.size > 0 && this.hasGap()) setTimeout(() => this.repair(), 50).unref()
    })()
  }

  private hasGap(): boolean {
    const e = this.pending.get(this.position + 1)
    return e === undefined || (e.events === null && e.payload === null)
  }
}
