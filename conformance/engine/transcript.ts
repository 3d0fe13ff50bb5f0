// The wire transcript of one case: every frame in both directions (decoded
// and as hex), every socket event, every step boundary, with the time since
// the case started. Bounded, so a runaway server cannot exhaust memory.
import type { JsonValue } from '@bufbuild/protobuf'

export interface TranscriptEntry {
  /** Milliseconds since the case started (0.1 ms resolution). */
  t: number
  /** Connection name, '' for case-level events. */
  conn: string
  dir: 'out' | 'in' | 'event'
  /** Decoded frame, protobuf JSON with default values omitted. */
  frame?: JsonValue
  /** Frame bytes as hex (TCP: without the length prefix), truncated to HEX_LIMIT bytes. */
  hex?: string
  /** Total byte length when hex was truncated or for raw writes. */
  bytes?: number
  /** Set on frames that arrived inside a Batch (the batch itself is logged before them). */
  batched?: boolean
  /** Set on frames the runner sent or swallowed on its own (keepalive Pings, Pongs). */
  auto?: boolean
  /** connect, close, rst, fin, ws-close, garbage, timeout, step, restart, note */
  event?: string
  detail?: string
}

const HEX_LIMIT = 256
const MAX_ENTRIES = 5000
/** Longest string kept inside a decoded frame (large bodies are elided). */
const MAX_STRING = 512

export class Transcript {
  readonly entries: TranscriptEntry[] = []
  private dropped = 0
  private readonly start = performance.now()
  /** Whole: nothing shortened or dropped (for replaying a transcript exactly). */
  private readonly whole: boolean

  constructor(opts: { whole?: boolean } = {}) {
    this.whole = opts.whole === true
  }

  now(): number {
    return Math.round((performance.now() - this.start) * 10) / 10
  }

  add(e: Omit<TranscriptEntry, 't'>): void {
    if (this.entries.length >= MAX_ENTRIES && !this.whole) {
      this.dropped++
      return
    }
    this.entries.push({ t: this.now(), ...e })
  }

  frame(
    conn: string,
    dir: 'out' | 'in',
    frame: JsonValue,
    bytes: Uint8Array,
    extra: Partial<TranscriptEntry> = {},
  ): void {
    this.add({ conn, dir, frame: this.whole ? frame : elide(frame), ...this.hexOf(bytes), ...extra })
  }

  raw(conn: string, dir: 'out' | 'in', bytes: Uint8Array, detail: string): void {
    this.add({ conn, dir, event: 'raw', detail, ...this.hexOf(bytes) })
  }

  event(conn: string, event: string, detail?: string): void {
    this.add({ conn, dir: 'event', event, ...(detail === undefined ? {} : { detail }) })
  }

  private hexOf(bytes: Uint8Array): { hex: string; bytes?: number } {
    return this.whole ? { hex: Buffer.from(bytes).toString('hex') } : hexOf(bytes)
  }

  /** Entries plus a note when some were dropped. */
  finish(): TranscriptEntry[] {
    if (this.dropped > 0)
      this.entries.push({
        t: this.now(),
        conn: '',
        dir: 'event',
        event: 'note',
        detail: `${this.dropped} entries dropped (limit ${MAX_ENTRIES})`,
      })
    return this.entries
  }
}

export function hexOf(bytes: Uint8Array): { hex: string; bytes?: number } {
  const hex = Buffer.from(bytes.subarray(0, HEX_LIMIT)).toString('hex')
  return bytes.length > HEX_LIMIT ? { hex, bytes: bytes.length } : { hex }
}

/** Long strings (bodies of big frames) shortened for transcripts. */
export function elide(v: JsonValue): JsonValue {
  if (typeof v === 'string') return v.length > MAX_STRING ? `${v.slice(0, MAX_STRING)}…(${v.length} chars)` : v
  if (Array.isArray(v)) return v.length > 200 ? [...v.slice(0, 200).map(elide), `…(${v.length} items)`] : v.map(elide)
  if (v !== null && typeof v === 'object') {
    const out: { [k: string]: JsonValue } = {}
    for (const [k, x] of Object.entries(v)) out[k] = elide(x as JsonValue)
    return out
  }
  return v
}
