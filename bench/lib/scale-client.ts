// One load child of `npm run bench:scale`: a block of client connections from
// one source address (127.0.0.x), driven by the parent over IPC. A child per
// address block keeps each process under its file-descriptor limit and puts
// the generator's CPU in processes of its own, measured apart from the server.
//
// Connections are half TCP, half WebSocket (even slots TCP). imwire clients
// answer nothing on their own but send a Ping whenever heartbeat_ms passed
// since their last one [HB-3] (one shared tick walks the slots; no timer per
// connection); MQTT clients send PINGREQ every keepalive period.
import { create } from '@bufbuild/protobuf'
import { BACKOFF_BASE_MS, BACKOFF_CAP_MS } from '../../src/codec/index.js'
import { makeTestToken } from '../../src/client/test-token.js'
import { FrameSchema } from '../../src/gen/es/imwire/v1/frame_pb.js'
import { RawImwirePeer } from './imwire-peer.js'
import { pooled, sleep } from './load.js'
import { RawMqttPeer } from './mqtt-peer.js'
import { nowUs, Samples } from './stats.js'

export type ScaleCommand =
  | {
      cmd: 'connect'
      proto: 'imwire' | 'mqtt'
      tcp: string
      ws: string
      localAddress: string
      count: number
      /** Names users and clients: `${tag}x${slot}`. */
      tag: string
      secret: string
      /** Ping period (imwire: the heartbeat Welcome gave; MQTT: keepalive). */
      heartbeatMs: number
      concurrency: number
    }
  | { cmd: 'stats' }
  | { cmd: 'senders'; count: number; body: number }
  | { cmd: 'storm'; policy: 'jitter' | 'immediate' }
  | { cmd: 'verify' }
  | { cmd: 'live'; senders: number; ratePerSec: number; warmupMs: number; measureMs: number }
  | { cmd: 'closeAll' }

type Peer = RawImwirePeer | RawMqttPeer

interface Slot {
  peer: Peer | null
  user: string
  kind: 'tcp' | 'ws'
  lastPing: number
  /**
   * Longest time this client let pass between two Pings it wrote, or from its
   * last Ping to the server's Close: a close after a gap of 1.5 heartbeats or
   * more is the generator's lateness, not the server's [HB-2].
   */
  maxGap: number
  /** Reconnect attempts that failed since the last Welcome ([RTY-3] n). */
  failures: number
  /** Date.now() of the Welcome after the last loss (storm). */
  backAt: number
  /** Sends acked before the restart (storm senders), and their conversation. */
  acked: number
  conv: string | null
  /** Open when the storm began (its return is timed). */
  inStorm: boolean
}

const BODY = new Uint8Array(64).fill(0x62)
let cfg: Extract<ScaleCommand, { cmd: 'connect' }> | null = null
const slots: Slot[] = []
let policy: 'jitter' | 'immediate' | null = null
/** Most the shared heartbeat tick ran late (ms): a busy generator shows here first. */
let tickLagMax = 0
const storm = { refused: 0, tryLater: 0, otherClose: 0, attempts: 0, codes: {} as Record<string, number> }

const reply = (m: unknown): void => {
  process.send?.(m)
}

async function open(slot: Slot): Promise<Peer> {
  const c = cfg as NonNullable<typeof cfg>
  const addr = slot.kind === 'tcp' ? c.tcp : c.ws
  if (c.proto === 'mqtt') {
    const p = await RawMqttPeer.connect(slot.kind, addr, c.localAddress)
    await p.handshake(slot.user, Math.round(c.heartbeatMs / 1000))
    return p
  }
  const p = await RawImwirePeer.connect(slot.kind, addr, c.localAddress)
  await p.handshake(makeTestToken(c.secret, slot.user), 'd1', 0)
  return p
}

function watch(slot: Slot, p: Peer): void {
  slot.peer = p
  slot.lastPing = Date.now()
  if (p instanceof RawImwirePeer) p.onClosed = () => lost(slot, p)
}

/** A connection ended: during a storm, reconnect by the policy. */
function lost(slot: Slot, p: RawImwirePeer): void {
  if (slot.peer === p) slot.maxGap = Math.max(slot.maxGap, Date.now() - slot.lastPing)
  if (slot.peer !== p || policy === null) return // outside a storm the closed peer stays, with its close code
  slot.peer = null
  schedule(slot, p.closeRetryAfterMs)
}

function schedule(slot: Slot, retryAfterMs: number): void {
  let delay = 0
  if (policy === 'jitter') {
    // [RTY-3] uniform in [0, min(30 s, 500 ms x 2^n)), never below retry_after_ms.
    const span = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** slot.failures)
    delay = Math.max(retryAfterMs, Math.floor(Math.random() * span))
  } else if (slot.failures > 0) {
    // "Immediate": no backoff and no jitter; a refused connect (server still
    // down) is retried after 50 ms rather than in a tight loop.
    delay = 50
  }
  setTimeout(() => void reconnect(slot), delay)
}

async function reconnect(slot: Slot): Promise<void> {
  const c = cfg as NonNullable<typeof cfg>
  storm.attempts++
  let p: RawImwirePeer | null = null
  try {
    p = await RawImwirePeer.connect(slot.kind, slot.kind === 'tcp' ? c.tcp : c.ws, c.localAddress)
    await p.handshake(makeTestToken(c.secret, slot.user), 'd1', 0)
  } catch {
    // Refused by the kernel (server down), or closed by the server before
    // Welcome: 3006 TRY_AGAIN_LATER (admission) carries retry_after_ms.
    const code = p?.closeCode ?? 0
    if (p === null) storm.refused++
    else if (code === 3006) storm.tryLater++
    else {
      storm.otherClose++
      const k = String(code)
      storm.codes[k] = (storm.codes[k] ?? 0) + 1
    }
    p?.close()
    slot.failures++
    schedule(slot, code === 3006 ? (p?.closeRetryAfterMs ?? 0) : 0)
    return
  }
  slot.failures = 0
  slot.backAt = Date.now()
  watch(slot, p)
}

/** One shared tick: every connection pings once per heartbeat period, spread over the period. */
function startHeartbeats(): void {
  const tick = 250
  let last = Date.now()
  setInterval(() => {
    const now = Date.now()
    tickLagMax = Math.max(tickLagMax, now - last - tick)
    last = now
    const c = cfg
    if (c === null) return
    for (const s of slots) {
      if (s.peer === null || s.peer.closed || now - s.lastPing < c.heartbeatMs * 0.8) continue
      s.maxGap = Math.max(s.maxGap, now - s.lastPing)
      s.lastPing = now
      s.peer.ping()
    }
  }, tick)
}

async function connect(c: Extract<ScaleCommand, { cmd: 'connect' }>): Promise<unknown> {
  cfg = c
  const t0 = Date.now()
  let failed = 0
  const fresh: Slot[] = []
  for (let i = 0; i < c.count; i++) {
    fresh.push({
      peer: null,
      user: `${c.tag}x${slots.length + i}`,
      kind: i % 2 === 0 ? 'tcp' : 'ws',
      lastPing: 0,
      maxGap: 0,
      failures: 0,
      backAt: 0,
      acked: 0,
      conv: null,
      inStorm: false,
    })
  }
  // In the shared list before connecting: the first connections must ping
  // while the last ones are still being opened.
  slots.push(...fresh)
  const errors = new Map<string, number>()
  await pooled(fresh, c.concurrency, async (s) => {
    try {
      const p = await open(s)
      // Spread the first pings over the period.
      watch(s, p)
      s.lastPing = Date.now() - Math.random() * c.heartbeatMs * 0.8
    } catch (err) {
      failed++
      const m = (err instanceof Error ? err.message : String(err)).slice(0, 60)
      errors.set(m, (errors.get(m) ?? 0) + 1)
    }
  })
  return { ok: c.count - failed, failed, ms: Date.now() - t0, errors: [...errors.entries()] }
}

/** What `stats` answers. */
export interface ScaleStats {
  cpuMs: number
  rss: number
  open: number
  slots: number
  /** Closed connections by `${transport}:${close code}`. */
  codes: Record<string, number>
  /** Closed connections whose client itself went 1.5 heartbeats without a Ping (see Slot.maxGap). */
  closedLate: number
  closedMaxGap: number
  tickLagMax: number
}

function stats(): ScaleStats {
  const u = process.cpuUsage()
  let open = 0
  const codes: Record<string, number> = {}
  const hb = cfg?.heartbeatMs ?? Number.POSITIVE_INFINITY
  let closedLate = 0
  let closedMaxGap = 0
  for (const s of slots) {
    if (s.peer !== null && !s.peer.closed) open++
    else if (s.peer instanceof RawImwirePeer) {
      const k = `${s.kind}:${s.peer.closeCode}`
      codes[k] = (codes[k] ?? 0) + 1
      if (s.maxGap >= 1.5 * hb) closedLate++
      closedMaxGap = Math.max(closedMaxGap, s.maxGap)
    }
  }
  return {
    cpuMs: (u.user + u.system) / 1000,
    rss: process.memoryUsage().rss,
    open,
    slots: slots.length,
    codes,
    closedLate,
    closedMaxGap,
    tickLagMax,
  }
}

/** The first `count` imwire slots each open a group and keep one Send in flight until their connection ends. */
async function senders(count: number): Promise<unknown> {
  const chosen = slots.filter((s) => s.peer instanceof RawImwirePeer).slice(0, count)
  await pooled(chosen, 50, async (s) => {
    const p = s.peer as RawImwirePeer
    try {
      await p.createGroup(`c${s.user}`, [])
    } catch {
      return // counted out: only senders with a conversation are verified
    }
    s.conv = `c${s.user}`
    p.startSending(s.conv, BODY, new TextEncoder().encode(s.user.padEnd(8, '_')).subarray(0, 8))
    p.onAnswer = (_t, ok) => {
      if (ok) s.acked++
      if (!p.closed) p.send(nowUs())
    }
    p.send(nowUs())
  })
  return { senders: chosen.filter((s) => s.conv !== null).length }
}

/** After the storm: every storm sender reads its conversation; each acked seq (1..acked) must be there. */
async function verify(): Promise<unknown> {
  let missing = 0
  let checked = 0
  let acked = 0
  const problems: string[] = []
  await pooled(
    slots.filter((s) => s.conv !== null),
    50,
    async (s) => {
      acked += s.acked
      const p = s.peer
      if (!(p instanceof RawImwirePeer) || p.closed) {
        problems.push(`${s.user} not connected`)
        missing += s.acked
        return
      }
      const seen = new Set<number>()
      let anchor = 0n
      for (let req = 1; ; req++) {
        p.sendFrame(
          create(FrameSchema, {
            body: {
              case: 'historyRequest',
              value: { requestId: req, conversationId: s.conv as string, anchorSeq: anchor, limit: 0 },
            },
          }),
        )
        let page = null
        for (;;) {
          const f = await p.nextSetupFrame()
          if (f.body.case === 'historyPage' && f.body.value.requestId === req) {
            page = f.body.value
            break
          }
          if (f.body.case === 'error') throw new Error(`history ${s.conv}: error ${f.body.value.code}`)
        }
        for (const m of page.messages) {
          seen.add(Number(m.seq))
          if (m.seq > anchor) anchor = m.seq
        }
        if (!page.hasMore || page.messages.length === 0) break
      }
      for (let q = 1; q <= s.acked; q++) if (!seen.has(q)) missing++
      checked++
    },
  )
  return { checked, acked, missing, problems: problems.slice(0, 5) }
}

/**
 * Paced live traffic: slot pairs (2i sends into a group with 2i+1) over
 * `senders` pairs; sends offered at ratePerSec in total, round robin; latency
 * from due time (no coordinated omission) to SendAck and to the receiver's
 * Deliver. Raw samples go back to the parent, which merges children.
 */
async function live(c: Extract<ScaleCommand, { cmd: 'live' }>): Promise<unknown> {
  const pairs: Array<{ s: RawImwirePeer; due: number[] }> = []
  const imw = slots.filter((s) => s.peer instanceof RawImwirePeer && !s.peer.closed)
  const ack = new Samples()
  const dlv = new Samples()
  let measuring = false
  let errors = 0
  const want = Math.min(c.senders, Math.floor(imw.length / 2))
  await pooled(
    Array.from({ length: want }, (_, i) => i),
    50,
    async (i) => {
      const a = imw[2 * i] as Slot
      const b = imw[2 * i + 1] as Slot
      const sp = a.peer as RawImwirePeer
      const rp = b.peer as RawImwirePeer
      const conv = `l${a.user}`
      const convBytes = new TextEncoder().encode(conv)
      await sp.createGroup(conv, [b.user])
      const pair = { s: sp, due: [] as number[] }
      sp.startSending(conv, BODY, new TextEncoder().encode(a.user.padEnd(8, '_')).subarray(-8))
      sp.onAnswer = (t, ok) => {
        if (!ok) errors++
        if (measuring) ack.add(nowUs() - t)
      }
      // One sender per conversation: its Delivers come in send order.
      rp.startReceiving()
      rp.onDeliver = (seq) => {
        const t = pair.due.shift()
        if (t !== undefined && measuring) dlv.add(nowUs() - t)
        rp.ackDeliveries(convBytes, seq)
      }
      pairs.push(pair)
    },
  )
  await sleep(300)
  const perUs = c.ratePerSec / 1e6
  const t0 = nowUs()
  let issued = 0
  let next = 0
  let running = true
  const pace = () => {
    if (!running || pairs.length === 0) return
    const due = Math.floor((nowUs() - t0) * perUs)
    while (issued < due) {
      const intended = t0 + issued / perUs
      const pair = pairs[next] as (typeof pairs)[number]
      next = (next + 1) % pairs.length
      pair.due.push(intended)
      pair.s.send(intended)
      issued++
    }
    setTimeout(pace, 1)
  }
  pace()
  await sleep(c.warmupMs)
  measuring = true
  const u0 = process.cpuUsage()
  const w0 = performance.now()
  await sleep(c.measureMs)
  measuring = false
  const cpu = process.cpuUsage(u0)
  const wall = performance.now() - w0
  running = false
  await sleep(500)
  return {
    pairs: pairs.length,
    ack: Array.from(ack.sorted()),
    dlv: Array.from(dlv.sorted()),
    errors,
    genCpu: (100 * (cpu.user + cpu.system)) / 1000 / wall,
  }
}

process.on('message', (m: ScaleCommand) => {
  const run = async (): Promise<unknown> => {
    switch (m.cmd) {
      case 'connect':
        return connect(m)
      case 'stats':
        return stats()
      case 'senders':
        return senders(m.count)
      case 'storm':
        policy = m.policy
        Object.assign(storm, { refused: 0, tryLater: 0, otherClose: 0, attempts: 0, codes: {} })
        for (const s of slots) {
          s.backAt = 0
          // Only connections open when the server goes down count as "back".
          s.inStorm = s.peer !== null && !s.peer.closed
        }
        return { inStorm: slots.filter((s) => s.inStorm).length }
      case 'verify': {
        const backs = slots.filter((s) => s.inStorm).map((s) => s.backAt)
        policy = null
        return { ...((await verify()) as object), backs, storm: { ...storm, codes: { ...storm.codes } } }
      }
      case 'live':
        return live(m)
      case 'closeAll':
        policy = null
        for (const s of slots) s.peer?.close()
        slots.length = 0
        return { ok: true }
    }
  }
  run().then(
    (r) => reply({ ok: true, result: r }),
    (err: unknown) => reply({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  )
})

// The parent went away (killed or failed): do not linger holding connections.
process.on('disconnect', () => process.exit(0))
startHeartbeats()
reply({ ready: true })
