// Server answer latencies of one case: the time from a request the runner
// wrote to the answer it can attribute to it (Hello -> Welcome, Ping -> Pong,
// a request_id -> the frame echoing it, Send -> SendAck by client_msg_id).
// A case that times out says how slow the server was meanwhile, so a stalled
// server is named instead of showing up as unrelated timeouts.
import type { Frame } from '../../src/gen/es/imwire/v1/frame_pb.js'

export interface LatencySummary {
  answers: number
  medianMs: number
  maxMs: number
}

export class LatencyLog {
  private readonly samples: number[] = []

  record(ms: number): void {
    this.samples.push(ms)
  }

  summary(): LatencySummary | undefined {
    if (this.samples.length === 0) return undefined
    const s = [...this.samples].sort((a, b) => a - b)
    return { answers: s.length, medianMs: round(median(s)), maxMs: round(s[s.length - 1] as number) }
  }
}

/** Per-connection pending requests (request ids are per connection). */
export class PendingRequests {
  private readonly pending = new Map<string, number>()
  constructor(private readonly log: LatencyLog) {}

  sent(frame: Frame, at: number): void {
    const key = keyOf(frame, 'out')
    if (key !== null && !this.pending.has(key)) this.pending.set(key, at)
  }

  received(frame: Frame, at: number): void {
    const key = keyOf(frame, 'in')
    if (key === null) return
    const t = this.pending.get(key)
    if (t === undefined) return
    this.pending.delete(key)
    this.log.record(at - t)
  }
}

function keyOf(frame: Frame, dir: 'in' | 'out'): string | null {
  const b = frame.body
  switch (b.case) {
    case 'hello':
    case 'welcome':
      return 'hello'
    case 'ping':
      return dir === 'out' ? `ping:${b.value.nonce}` : null
    case 'pong':
      return dir === 'in' ? `ping:${b.value.nonce}` : null
    case 'send':
    case 'sendAck':
      return `msg:${Buffer.from(b.value.clientMsgId).toString('hex')}`
    case undefined:
      return null
    default: {
      const v = b.value as { requestId?: unknown }
      return typeof v.requestId === 'bigint' || typeof v.requestId === 'number'
        ? v.requestId
          ? `req:${v.requestId}`
          : null
        : null
    }
  }
}

export function median(sorted: number[]): number {
  if (sorted.length === 0) return 0
  const m = sorted.length >> 1
  return sorted.length % 2 ? (sorted[m] as number) : ((sorted[m - 1] as number) + (sorted[m] as number)) / 2
}

const round = (x: number) => Math.round(x * 10) / 10
