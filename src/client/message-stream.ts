// Async iteration over an event source: each iterator gets every item pushed
// after it was created, in order, until it is returned or the source ends.
// The queue is unbounded: a consumer that never reads keeps items alive, so
// applications that do not iterate should use the 'message' event instead.

export class MessageStream<T> {
  private readonly subscribers = new Set<Subscriber<T>>()
  private ended = false

  push(item: T): void {
    for (const s of this.subscribers) s.push(item)
  }

  /** No more items: pending and future next() calls finish. */
  end(): void {
    this.ended = true
    for (const s of this.subscribers) s.end()
    this.subscribers.clear()
  }

  iterate(): AsyncIterableIterator<T> {
    const sub = new Subscriber<T>(() => this.subscribers.delete(sub))
    if (this.ended) sub.end()
    else this.subscribers.add(sub)
    return sub
  }
}

class Subscriber<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = []
  private head = 0
  private waiter: ((r: IteratorResult<T>) => void) | null = null
  private done = false
  private readonly onReturn: () => void

  constructor(onReturn: () => void) {
    this.onReturn = onReturn
  }

  push(item: T): void {
    if (this.done) return
    if (this.waiter !== null) {
      const w = this.waiter
      this.waiter = null
      w({ value: item, done: false })
    } else this.items.push(item)
  }

  end(): void {
    this.done = true
    if (this.waiter !== null) {
      const w = this.waiter
      this.waiter = null
      w({ value: undefined, done: true })
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.head < this.items.length) {
      const value = this.items[this.head++] as T
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items.splice(0, this.head)
        this.head = 0
      }
      return Promise.resolve({ value, done: false })
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true })
    return new Promise((r) => {
      this.waiter = r
    })
  }

  return(): Promise<IteratorResult<T>> {
    this.end()
    this.onReturn()
    return Promise.resolve({ value: undefined, done: true })
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this
  }
}
