// Request/response correlation for the request frames (history, listing,
// conversation changes). Each request gets a non-zero request_id [HIS-6];
// the answer (or an Error echoing the id [ERR-1]) settles it.
//
// Requests still unanswered when a connection is lost are sent again on the
// next ready connection: every v1 request is a read or idempotent (creating an
// existing conversation with the same settings returns it [CNV-2]; adding a
// member twice or removing a non-member is ignored), so a repeat is harmless;
// so are the feature requests (MarkRead is idempotent [RD-3], the rest read).
//
// A request that needs a feature names it, and goes on the wire only on a
// connection whose Welcome enabled it: [GEN-2] [RD-1]. One queued before a
// Welcome, or across a reconnect to a server that no longer offers it, fails
// with FEATURE_NOT_ENABLED when the connection is ready instead; once a
// Welcome is known, a request for a feature it did not enable fails at once.
import type { Frame } from '../gen/es/imwire/v1/frame_pb.js'
import { ClientError } from './client-error.js'

interface Pending {
  frame: Frame
  feature: string | null
  resolve: (value: unknown) => void
  reject: (err: Error) => void
}

export class RequestTracker {
  private nextId = 1
  private readonly pending = new Map<number, Pending>()
  private readonly transmit: (frame: Frame) => void
  private connected = false
  /** Features of the last ready connection; null before the first. */
  private enabled: ((feature: string) => boolean) | null = null
  /** Set once the client stopped: new requests fail at once. */
  private stopped: Error | null = null

  constructor(transmit: (frame: Frame) => void) {
    this.transmit = transmit
  }

  get size(): number {
    return this.pending.size
  }

  /**
   * Build the frame with a fresh request_id, send it when connected, resolve
   * with the answer. With `feature`, only on a connection that enabled it.
   */
  request<T>(build: (requestId: number) => Frame, feature: string | null = null): Promise<T> {
    const id = this.nextId
    // uint32, never 0. [HIS-6]
    this.nextId = id >= 0xffffffff ? 1 : id + 1
    const frame = build(id)
    if (this.stopped !== null) return Promise.reject(this.stopped)
    // Known not enabled (the last Welcome said so): refuse now rather than queue.
    if (feature !== null && this.enabled !== null && !this.enabled(feature)) return Promise.reject(notEnabled(feature))
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { frame, feature, resolve: resolve as (v: unknown) => void, reject })
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

  /**
   * A connection is ready: send everything unanswered, oldest first; fail
   * what needs a feature this connection did not enable.
   */
  online(enabled: (feature: string) => boolean = () => false): void {
    this.connected = true
    this.enabled = enabled
    for (const [id, p] of [...this.pending]) {
      if (p.feature !== null && !enabled(p.feature)) {
        this.pending.delete(id)
        p.reject(notEnabled(p.feature))
      } else this.transmit(p.frame)
    }
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

function notEnabled(feature: string): ClientError {
  return new ClientError('FEATURE_NOT_ENABLED', `feature "${feature}" is not enabled on this connection`, {
    feature,
  })
}
