// Per-operation bookkeeping keyed by increasing ids: the session's pending store
// continuations, the store's waiters and the ops posted to its worker.
//
// Not a Map, on purpose (measured, docs/design/id-slots.md): every commit group
// fills such a Map and then empties it, and V8 reallocates a Map's hash table
// as it grows and again as it shrinks; each replaced table keeps a link to its
// successor. Once one table had lived long enough to reach the old generation
// (after a burst of load, or with a larger young generation), every successor
// table and every op, promise and byte view it referenced survived the next
// scavenge through that link and was promoted too, for good: at 10,000 sends/s
// that was ~2.4 MB promoted per scavenge and 4-15 ms scavenge pauses instead of
// under 1 ms, the p99 ack latency going from ~9 ms to 11-30 ms.
// A plain array indexed by (id - first id) does not reallocate while it drains
// and a taken slot is cleared, so nothing settled stays reachable from it.

export class IdSlots<T> {
  private slots: Array<T | undefined> = []
  /** Index of the oldest slot that may still hold a value. */
  private head = 0
  /** The id stored at slots[0]. */
  private firstId = 0
  private count = 0

  get size(): number {
    return this.count
  }

  /** Ids must be added in increasing order. */
  add(id: number, value: T): void {
    if (this.count === 0) {
      // Empty: start over at this id.
      this.firstId = id
    }
    const i = id - this.firstId
    if (i < this.slots.length) throw new Error(`IdSlots: id ${id} not above the last one added`)
    while (this.slots.length < i) this.slots.push(undefined)
    this.slots.push(value)
    this.count++
  }

  get(id: number): T | undefined {
    const i = id - this.firstId
    return i >= this.head && i < this.slots.length ? this.slots[i] : undefined
  }

  /** Remove and return the value held for id (undefined if none). */
  take(id: number): T | undefined {
    const i = id - this.firstId
    if (i < this.head || i >= this.slots.length) return undefined
    const v = this.slots[i]
    if (v === undefined) return undefined
    this.slots[i] = undefined
    if (--this.count === 0) {
      // Drained: length 0 gives the backing store back (V8 replaces it with
      // the shared empty one), so an idle session holds no slots (~180 bytes
      // each at 10,000 idle connections); the next add starts over.
      this.slots.length = 0
      this.head = 0
      return v
    }
    while (this.head < this.slots.length && this.slots[this.head] === undefined) this.head++
    // An op held far longer than the ones after it: drop the cleared prefix.
    if (this.head > 4096 && this.head * 2 > this.slots.length) {
      this.slots = this.slots.slice(this.head)
      this.firstId += this.head
      this.head = 0
    }
    return v
  }

  /** Ids holding a value, ascending. */
  ids(): number[] {
    const out: number[] = []
    for (let i = this.head; i < this.slots.length; i++) if (this.slots[i] !== undefined) out.push(this.firstId + i)
    return out
  }
}
