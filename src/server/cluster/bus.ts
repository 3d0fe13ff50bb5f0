// Redis in cluster mode: the fast path of the commit log (pub/sub), node
// leases, and the device-session registry used for takeover across nodes.
// Nothing here is needed for correctness of delivery (the log in
// PostgreSQL is); takeover needs Redis to reach the older session's node,
// and fencing in PostgreSQL keeps cursors safe when Redis cannot.
//
// Keys and channels (prefix "imwire:"):
//   node:<id>          lease of a live node (PX NODE_LEASE_MS, refreshed every third of it)
//   dev:<user>\0<dev>  "<node id>|<generation>": which node holds the device's newest session
//   log                channel: "<pos>\n<payload>" of every commit-log entry
//   node:<id>          channel: takeover requests and answers for that node
import { Redis } from 'ioredis'

export const NODE_LEASE_MS = 3000
/** How long a takeover waits for the older session's node to answer before relying on fencing alone. */
export const TAKEOVER_WAIT_MS = 3000
const REGISTRY_TTL_MS = 24 * 3600 * 1000

/** Sets the registry entry unless a newer generation holds it; returns [verdict, previous]. */
const CLAIM = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local gen = tonumber(string.match(cur, '|(%d+)$'))
  if gen and gen > tonumber(ARGV[2]) then return {'stale', cur} end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'PX', ARGV[3])
return {'ok', cur or ''}
`

export class TakeoverLost extends Error {}

type NodeMessage =
  | { t: 'takeover'; id: string; user: string; device: string; generation: number; from: string }
  | { t: 'released'; id: string }

export interface BusHandlers {
  /** A log entry published by some node (this one included). */
  log(pos: number, payload: string): void
  /** Another node took the device over at `generation`: close any older local session. [RSM-6] */
  takeover(user: string, device: string, generation: number): void
  error(err: Error): void
}

export class Bus {
  private readonly cmd: Redis
  private readonly sub: Redis
  private readonly waiting = new Map<string, () => void>()
  private leaseTimer: NodeJS.Timeout | null = null
  private nextId = 0
  private closed = false

  constructor(
    url: string,
    readonly nodeId: string,
    private readonly h: BusHandlers,
  ) {
    // Commands fail at once while Redis is away (no offline queue): a
    // publish is then simply lost (the log repairs it) and a takeover is
    // refused rather than delayed.
    this.cmd = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true })
    this.sub = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: null })
    for (const r of [this.cmd, this.sub]) r.on('error', (err: Error) => this.h.error(err))
    // Redis restarted empty: put the lease back at once, not at the next tick.
    this.cmd.on('ready', () => {
      if (this.leaseTimer !== null) this.renewLease().catch((err: Error) => this.h.error(err))
    })
    this.sub.on('messageBuffer', (channel: Buffer, message: Buffer) => this.onMessage(channel.toString(), message))
  }

  async start(): Promise<void> {
    await Promise.all([this.cmd.connect(), this.sub.connect()])
    await this.sub.subscribe('imwire:log', `imwire:node:${this.nodeId}`)
    await this.renewLease()
    this.leaseTimer = setInterval(() => {
      this.renewLease().catch((err: Error) => this.h.error(err))
    }, NODE_LEASE_MS / 3)
    this.leaseTimer.unref()
  }

  private async renewLease(): Promise<void> {
    await this.cmd.set(`imwire:node:${this.nodeId}`, '1', 'PX', NODE_LEASE_MS)
  }

  publishLog(pos: number, payload: string): void {
    this.cmd.publish('imwire:log', `${pos}\n${payload}`).catch(() => {
      // Lost: every node finds the entry in PostgreSQL (follower.ts).
    })
  }

  private onMessage(channel: string, message: Buffer): void {
    if (channel === 'imwire:log') {
      const nl = message.indexOf(10)
      const pos = Number(message.subarray(0, nl).toString())
      if (Number.isSafeInteger(pos)) this.h.log(pos, message.subarray(nl + 1).toString())
      return
    }
    let m: NodeMessage
    try {
      m = JSON.parse(message.toString()) as NodeMessage
    } catch {
      return
    }
    if (m.t === 'released') {
      this.waiting.get(m.id)?.()
      return
    }
    this.h.takeover(m.user, m.device, m.generation)
    this.cmd
      .publish(`imwire:node:${m.from}`, JSON.stringify({ t: 'released', id: m.id } satisfies NodeMessage))
      .catch((err: Error) => this.h.error(err))
  }

  /**
   * Make this node the holder of the device's session `generation`. Resolves
   * once an older session on another node is closed (its node answered, or
   * its node's lease ran out, or TAKEOVER_WAIT_MS passed: its operations are
   * fenced in PostgreSQL whatever happens). Throws TakeoverLost when a newer
   * session already holds the device, and Redis errors when Redis is away.
   */
  async claim(user: string, device: string, generation: number): Promise<void> {
    const key = `imwire:dev:${user}\u0000${device}`
    const [verdict, previous] = (await this.cmd.eval(CLAIM, 1, key, this.nodeId, generation, REGISTRY_TTL_MS)) as [
      string,
      string,
    ]
    if (verdict === 'stale') throw new TakeoverLost(`device held by a newer session (${previous})`)
    const holder = previous.slice(0, previous.lastIndexOf('|'))
    if (previous === '' || holder === this.nodeId) return
    const id = `${this.nodeId}:${this.nextId++}`
    const request = JSON.stringify({
      t: 'takeover',
      id,
      user,
      device,
      generation,
      from: this.nodeId,
    } satisfies NodeMessage)
    // Asked even when the holder's lease is gone (a live node whose renewal
    // lagged still closes its session); waited for only while it is alive.
    await this.cmd.publish(`imwire:node:${holder}`, request).catch(() => {})
    if ((await this.cmd.exists(`imwire:node:${holder}`)) === 0) return // a dead node's sessions are released
    await new Promise<void>((resolve) => {
      const started = Date.now()
      let timer: NodeJS.Timeout | null = null
      const done = () => {
        if (timer !== null) clearTimeout(timer)
        this.waiting.delete(id)
        resolve()
      }
      this.waiting.set(id, done)
      // Ask again until answered: a lost request is repeated, not waited out.
      const ask = async () => {
        if (!this.waiting.has(id)) return
        if (this.closed || Date.now() - started >= TAKEOVER_WAIT_MS) return done()
        try {
          if ((await this.cmd.exists(`imwire:node:${holder}`)) === 0) return done()
          await this.cmd.publish(`imwire:node:${holder}`, request)
        } catch {
          // Redis away mid-takeover: keep trying until the wait runs out.
        }
        timer = setTimeout(ask, 250)
      }
      void ask()
    })
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.leaseTimer !== null) clearInterval(this.leaseTimer)
    for (const done of [...this.waiting.values()]) done()
    try {
      await this.cmd.del(`imwire:node:${this.nodeId}`)
    } catch {
      // Redis away: the lease runs out on its own.
    }
    this.cmd.disconnect()
    this.sub.disconnect()
  }
}
