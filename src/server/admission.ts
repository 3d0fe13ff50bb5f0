// Connection admission: bounds on connections and on handshakes in progress,
// per source address and in total. The excess is refused with Close 3006
// TRY_AGAIN_LATER and a retry_after_ms. [SEC-2] [ERR-14]
//
// A connection is "handshaking" from transport accept until Welcome is sent or
// it closes; the handshake timeout [HS-8] bounds how long that lasts.

export interface AdmissionLimits {
  /** Open connections in total. */
  maxConnections: number
  /** Open connections from one source address. */
  maxConnectionsPerAddress: number
  /** Connections in total that have not finished the handshake. */
  maxHandshakes: number
  /** Connections from one source address that have not finished the handshake. */
  maxHandshakesPerAddress: number
  /** Close.retry_after_ms of a refusal: uniform in [min, max) ms, spreading reconnects. [ERR-14] */
  retryAfterMinMs: number
  retryAfterMaxMs: number
}

/**
 * Defaults: far above what the conformance suite (8 cases in parallel from
 * 127.0.0.1) and `npm run bench:server` (up to 1000 connections from
 * 127.0.0.1, handshakes 100 at a time) open, and below what a 2-core server
 * holds; one address may be a NAT, hence the per-address room.
 */
export const DEFAULT_ADMISSION: AdmissionLimits = {
  maxConnections: 100_000,
  maxConnectionsPerAddress: 10_000,
  maxHandshakes: 10_000,
  maxHandshakesPerAddress: 2_000,
  retryAfterMinMs: 1_000,
  retryAfterMaxMs: 5_000,
}

/** Problems with a set of admission limits (empty when usable). */
export function checkAdmission(a: AdmissionLimits): string[] {
  const problems: string[] = []
  for (const [k, v] of Object.entries(a)) {
    if (!Number.isInteger(v) || v < 1) problems.push(`${k} must be an integer >= 1`)
  }
  if (a.retryAfterMaxMs < a.retryAfterMinMs) problems.push('retryAfterMaxMs must be >= retryAfterMinMs')
  return problems
}

/** The address part of a Connection.remoteAddress ("host:port", "[v6]:port", or a label). */
export function sourceAddress(remote: string): string {
  const m = /^\[(.*)\]:\d+$/.exec(remote) ?? /^([^:]*):\d+$/.exec(remote) ?? /^(.*:.*):\d+$/.exec(remote)
  return m ? (m[1] as string) : remote
}

interface Counts {
  connections: number
  handshakes: number
}

export type Refusal = { reason: string; retryAfterMs: number }

export class Admission {
  private connections = 0
  private handshakes = 0
  /** Only addresses with an open connection: bounded by maxConnections. */
  private readonly byAddress = new Map<string, Counts>()

  constructor(
    readonly limits: AdmissionLimits,
    private readonly random: () => number = Math.random,
  ) {
    const problems = checkAdmission(limits)
    if (problems.length > 0) throw new RangeError(`invalid admission limits: ${problems.join('; ')}`)
  }

  get open(): { connections: number; handshakes: number; addresses: number } {
    return { connections: this.connections, handshakes: this.handshakes, addresses: this.byAddress.size }
  }

  /** Admit a new connection (counted as handshaking), or say why not. */
  admit(address: string): Refusal | null {
    const l = this.limits
    const c = this.byAddress.get(address)
    let reason: string | null = null
    if (this.connections >= l.maxConnections) reason = 'too many connections'
    else if ((c?.connections ?? 0) >= l.maxConnectionsPerAddress) reason = 'too many connections from this address'
    else if (this.handshakes >= l.maxHandshakes) reason = 'too many handshakes in progress'
    else if ((c?.handshakes ?? 0) >= l.maxHandshakesPerAddress) {
      reason = 'too many handshakes in progress from this address'
    }
    if (reason !== null) {
      const span = l.retryAfterMaxMs - l.retryAfterMinMs
      return { reason, retryAfterMs: l.retryAfterMinMs + Math.floor(this.random() * span) }
    }
    if (c === undefined) this.byAddress.set(address, { connections: 1, handshakes: 1 })
    else {
      c.connections++
      c.handshakes++
    }
    this.connections++
    this.handshakes++
    return null
  }

  /** An admitted connection finished its handshake (Welcome sent, or closed before). */
  handshakeDone(address: string): void {
    const c = this.byAddress.get(address)
    if (c === undefined || c.handshakes === 0) return
    c.handshakes--
    this.handshakes--
  }

  /** An admitted connection closed (its handshake already reported done). */
  release(address: string): void {
    const c = this.byAddress.get(address)
    if (c === undefined) return
    c.connections--
    this.connections--
    if (c.connections === 0) this.byAddress.delete(address)
  }
}
