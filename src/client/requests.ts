// Request/response correlation for the request frames (history, listing,
// conversation changes). Each request gets a non-zero request_id [HIS-6];
// the answer (or an Error echoing the id [ERR-1]) settles it.
//
// Requests still unanswered when a connection is lost are sent again on the
// next ready connection: every v1 request is a read or idempotent (creating an
// existing conversation with the same settings returns it [CNV-2]; adding a
// member twice or removing a non-member is ignored), so a repeat is harmless.
import type { Frame } from '../gen/es/imwire/v1/frame_pb.js'

interface Pending {
  frame: Frame
  resolve: (value: unknown) => void
  reject: (err: Error) => void
}

export class RequestTracker {
  private nextId = 1
  private readonly pending = new Map<number, Pending>()
  private readonly transmit: (frame: Frame) => void
  private connected = false
  /** Set once the client stopped: new requests fail at once. */
  private stopped: Error | null = null

  constructor(transmit: (frame: Frame) => void) {
    this.transmit = transmit
  }

  get size(): number {
    return this.pending.size
  }

  /** Build the frame with a fresh request_id, send it when connected, resolve with the answer. */
  request<T>(build: (requestId: number) => Frame): Promise<T> {
    const id = this.nextId
    // uint32, never 0. [HIS-6]
    this.nextId = id >= 0xffffffff ? 1 : id + 1
    const frame = build(id)
    if (this.stopped !== null) return Promise.reject(this.stopped)
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { frame, resolve: resolve as (v: unknown) => void, reject })
      if (this.connected) this.transmit(frame)
    })
  }

  /** An answer arrived; false when nothing waited for it. */
  settle(requestId: number, value: unknown): boolean {
    const p = this.pending.get(requestId)
    if (p === undefined) return false
    this.pending.delete(requestId)
    p.resolve(value)
    return true
  }

  fail(requestId: number, err: Error): boolean {
    const p = this.pending.get(requestId)
    if (p === undefined) return false
    this.pending.delete(requestId)
    p.reject(err)
    return true
  }

  /** A connection is ready: send everything unanswered, oldest first. */
  online(): void {
    this.connected = true
    for (const p of this.pending.values()) this.transmit(p.frame)
  }

  offline(): void {
    this.connected = false
  }

  /** The client stopped: fail everything pending and every later request. */
  failAll(err: Error): void {
    this.stopped = err
    this.connected = false
    const all = [...this.pending.values()]
    this.pending.clear()
    for (const p of all) p.reject(err)
  }
}
