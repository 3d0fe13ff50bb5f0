// One timer for every session's deadline: the handshake timeout [HS-8] and
// the idle deadline [HB-2]. A session re-arms its deadline on every heartbeat
// period; with a Node Timeout per connection that is a Timeout object, its
// closure and a timer-list entry alive per connection (~230 bytes in the
// 2026-12-06 heap snapshot at 10k connections) and a new pair allocated per
// period. Here deadlines are rounded *up* to a tick of `resolutionMs` and kept
// in one Set per tick; a single Node timer is armed for the earliest tick.
//
// Never early: an entry in tick k runs once now() >= k * resolutionMs >= its
// deadline. At most one tick late (plus event-loop delay, as before). Entries
// whose tick came due run in one setImmediate, after the loop turn's socket
// reads, so a frame already waiting in a socket counts before its sender is
// judged silent [HB-2] (test/server/idle-timer-after-stall.test.ts).

/** What the wheel schedules: the entry carries its own slot, so arming allocates nothing per entry. */
export interface WheelEntry {
  /** Owned by the wheel: 0 idle, > 0 the tick it waits for, DUE between firing and running. */
  wheelTick: number
  onWheelTimer(): void
}

const IDLE = 0
const DUE = -1

/**
 * 50 ms: far below the shortest deadline the server sets (1.5 x the 1000 ms
 * minimum heartbeat [HS-9]), so rounding up adds at most 5 % to it, and each
 * tick gathers every deadline in a 50 ms span (at 100k connections and a 30 s
 * heartbeat, ~170 per tick) into one wakeup.
 */
export const WHEEL_RESOLUTION_MS = 50

export class TimerWheel {
  private readonly buckets = new Map<number, Set<WheelEntry>>()
  /** Min-heap of the ticks that have a bucket. */
  private readonly heap: number[] = []
  private timer: NodeJS.Timeout | null = null
  private armedTick = Number.POSITIVE_INFINITY
  /** Entries waiting in buckets: at 0 the Node timer is cleared, so an idle wheel holds no process open. */
  private waiting = 0

  constructor(
    private readonly now: () => number,
    private readonly resolutionMs = WHEEL_RESOLUTION_MS,
  ) {}

  /** Run e.onWheelTimer() once, at or after `at` (ms on the now() clock); replaces e's earlier deadline. */
  schedule(e: WheelEntry, at: number): void {
    this.cancel(e)
    const tick = Math.max(1, Math.ceil(at / this.resolutionMs))
    let b = this.buckets.get(tick)
    if (b === undefined) {
      b = new Set()
      this.buckets.set(tick, b)
      this.push(tick)
    }
    b.add(e)
    this.waiting++
    e.wheelTick = tick
    if (tick < this.armedTick) this.arm(tick)
  }

  cancel(e: WheelEntry): void {
    if (e.wheelTick > 0 && this.buckets.get(e.wheelTick)?.delete(e) === true && --this.waiting === 0) this.reset()
    e.wheelTick = IDLE
  }

  /** Entries waiting (for tests and diagnostics). */
  get size(): number {
    return this.waiting
  }

  private reset(): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    this.armedTick = Number.POSITIVE_INFINITY
    this.buckets.clear()
    this.heap.length = 0
  }

  private arm(tick: number): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.armedTick = tick
    this.timer = setTimeout(() => this.fire(), Math.max(1, tick * this.resolutionMs - this.now()))
  }

  private fire(): void {
    this.timer = null
    this.armedTick = Number.POSITIVE_INFINITY
    const nowTick = Math.floor(this.now() / this.resolutionMs)
    const due: WheelEntry[] = []
    while (this.heap.length > 0 && (this.heap[0] as number) <= nowTick) {
      const tick = this.pop()
      const b = this.buckets.get(tick)
      if (b === undefined) continue
      this.buckets.delete(tick)
      for (const e of b) {
        e.wheelTick = DUE
        due.push(e)
      }
      this.waiting -= b.size
    }
    // Drop emptied buckets at the head (their entries were cancelled) so the
    // timer is not armed for a tick with nothing in it.
    while (this.heap.length > 0 && (this.buckets.get(this.heap[0] as number)?.size ?? 0) === 0) {
      this.buckets.delete(this.pop())
    }
    if (this.heap.length > 0) this.arm(this.heap[0] as number)
    if (due.length === 0) return
    setImmediate(() => {
      for (const e of due) {
        // Cancelled or re-armed since: skip.
        if (e.wheelTick !== DUE) continue
        e.wheelTick = IDLE
        e.onWheelTimer()
      }
    })
  }

  private push(tick: number): void {
    const h = this.heap
    let i = h.length
    h.push(tick)
    while (i > 0) {
      const p = (i - 1) >> 1
      if ((h[p] as number) <= tick) break
      h[i] = h[p] as number
      i = p
    }
    h[i] = tick
  }

  private pop(): number {
    const h = this.heap
    const top = h[0] as number
    const last = h.pop() as number
    if (h.length > 0) {
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= h.length) break
        const r = l + 1
        const c = r < h.length && (h[r] as number) < (h[l] as number) ? r : l
        if ((h[c] as number) >= last) break
        h[i] = h[c] as number
        i = c
      }
      h[i] = last
    }
    return top
  }
}
