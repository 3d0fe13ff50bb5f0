// The store of a cluster node (`imwire serve --postgres URL --redis URL`):
// the same Store interface the sessions already use, on PostgreSQL through
// a writer thread, with the node's part of the cluster around it:
//
// - fan-out: committed messages and notices reach this node's hub through
//   the commit-log follower, in commit order across all nodes (the server's
//   StoreFanOut leaves publishing to this store);
// - results leave in the order their groups committed, each after the
//   group's log entry is applied here, as on a single node, where a result
//   settles after its fan-out;
// - takeover: a session start (openDevice) bumps the device generation in
//   PostgreSQL; before its result is released, the older session of the
//   device is closed on whichever node holds it [RSM-6]. The operations of
//   every local session carry its generation, and the writer fences those
//   of a superseded one.
//
// docs/cluster.md states the invariants and what happens when Redis loses a
// message or a node dies.
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
import { STORE_FEATURES } from '../../session/handshake.js'
import type { ResultOf, StoreOp, StoreResult } from '../../session/store-ops.js'
import type { Hub } from '../hub.js'
import type { OpOutcome } from '../store/group-runner.js'
import type { Store } from '../store/store.js'
import { ThreadStore } from '../store/thread-store.js'
import type { WireOutcome } from '../store/worker-wire.js'
import { Bus, TakeoverLost } from './bus.js'
import { LogFollower, type LogReader } from './follower.js'
import { eventsOf } from './log-events.js'
import { deviceOf } from './fencing.js'
import type { FromPgWorker, LogQuery, PgWorkerInit, ToPgWorker } from './pg-worker.js'

export interface ClusterOptions {
  postgresUrl: string
  redisUrl: string
  /** Stable name of this node (logs); a random suffix makes each start a new incarnation. */
  nodeId?: string
  logger: Logger
  /** How often the node looks at the log head for entries Redis lost (default 200 ms). */
  pollMs?: number
  /** How long commit-log entries are kept (default 1 hour). */
  logRetentionMs?: number
  /** The writer thread's module (default ./pg-worker.js; the cluster crash test substitutes a faulty one). */
  writerModule?: URL
}

const key = (u: string, d: string) => `${u}\u0000${d}`

/** Operations not stamped with a generation: the session start, and reads. */
const UNFENCED = new Set(['openDevice', 'readReplay', 'history', 'list', 'readCount', 'inbox', 'sync'])

/** Null when cluster mode can run here, else what is missing. */
export function clusterAvailable(): string | null {
  try {
    createRequire(import.meta.url).resolve('pg-native')
    return null
  } catch {
    return 'cluster mode needs the optional dependency pg-native, built against libpq (Debian: apt-get install libpq-dev, then npm install)'
  }
}

/** The follower's reads of the commit log, answered by the writer thread between groups. */
class WorkerLogReader implements LogReader {
  private nextId = 1
  private readonly waiting = new Map<number, (a: Extract<FromPgWorker, { type: 'answer' }>) => void>()

  constructor(private readonly worker: Worker) {
    worker.on('message', (msg: FromPgWorker) => {
      if (msg.type !== 'answer') return
      const w = this.waiting.get(msg.id)
      this.waiting.delete(msg.id)
      w?.(msg)
    })
  }

  private ask(query: LogQuery): Promise<Extract<FromPgWorker, { type: 'answer' }>> {
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.waiting.set(id, (a) => (a.error !== undefined ? reject(new Error(`postgres: ${a.error}`)) : resolve(a)))
      this.worker.postMessage({ type: 'query', id, query } satisfies ToPgWorker)
    })
  }

  async readAfter(after: number, limit: number): Promise<{ pos: number; payload: string }[]> {
    return (await this.ask({ q: 'after', after, limit })).rows ?? []
  }

  async head(): Promise<number> {
    return (await this.ask({ q: 'head' })).head ?? 0
  }

  async prune(retentionMs: number): Promise<void> {
    await this.ask({ q: 'prune', retentionMs })
  }

  /** The writer is gone: nothing will answer. */
  failAll(): void {
    for (const w of this.waiting.values()) w({ type: 'answer', id: 0, error: 'store worker exited' })
    this.waiting.clear()
  }
}

interface Group {
  ready: boolean
  outcomes: OpOutcome[]
}

export class ClusterStore extends ThreadStore {
  readonly kind = 'postgres' as const
  // PgTables tracks changes (read rows, change numbers in commit order): the
  // node offers read-state, inbox and history-time.
  override readonly features = STORE_FEATURES
  readonly nodeId: string
  /** Generation of the newest local session of each (user, device). */
  private readonly generations = new Map<string, number>()
  /** Groups in commit order whose results wait for an earlier one. */
  private readonly groups: Group[] = []
  private hub: Hub | null = null
  private follower!: LogFollower
  private bus!: Bus
  private readonly reader: WorkerLogReader
  private pruneTimer: NodeJS.Timeout | null = null
  private closedPromise: Promise<void> | null = null
  private lastErrorLog = 0
  migrated: { from: number; to: number } = { from: 0, to: 0 }

  private constructor(
    worker: Worker,
    private readonly opts: ClusterOptions,
  ) {
    super(worker)
    this.nodeId = `${opts.nodeId ?? 'node'}-${randomBytes(4).toString('hex')}`
    this.reader = new WorkerLogReader(worker)
    worker.on('message', (msg: FromPgWorker) => {
      if (msg.type === 'results') this.onResults(msg.outcomes, msg.log)
    })
    worker.on('error', (err) => this.failAll(`store worker failed: ${err.message}`))
    worker.on('exit', () => {
      this.failAll('store worker exited')
      this.reader.failAll()
    })
  }

  static async open(opts: ClusterOptions): Promise<ClusterStore> {
    const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js'
    const worker = new Worker(opts.writerModule ?? new URL(`./pg-worker${ext}`, import.meta.url), {
      workerData: { url: opts.postgresUrl } satisfies PgWorkerInit,
    })
    const migrated = await new Promise<{ from: number; to: number }>((resolve, reject) => {
      worker.once('message', (msg: FromPgWorker) => {
        if (msg.type === 'ready') resolve(msg.migrated)
        else if (msg.type === 'fatal') reject(new Error(`postgres: ${msg.message}`))
      })
      worker.once('error', reject)
    })
    worker.removeAllListeners('error')
    const s = new ClusterStore(worker, opts)
    s.migrated = migrated
    try {
      await s.startCluster()
    } catch (err) {
      await s.close()
      throw err
    }
    return s
  }

  private async startCluster(): Promise<void> {
    // Follow the log from its head now: every session of this node starts later.
    const head = await this.reader.head()
    this.follower = new LogFollower(
      head,
      this.reader,
      (events, pos) => this.fanOut(events, pos),
      (err) => this.logError(err, 'commit log read failed'),
    )
    this.bus = new Bus(this.opts.redisUrl, this.nodeId, {
      log: (pos, payload) => this.follower.published(pos, payload),
      takeover: (user, device, generation) => this.takenOverElsewhere(user, device, generation),
      error: (err) => this.logError(err, 'redis'),
    })
    await this.bus.start()
    this.follower.start(this.opts.pollMs ?? 200)
    const retention = this.opts.logRetentionMs ?? 3600_000
    this.pruneTimer = setInterval(
      () => {
        this.reader.prune(retention).catch((err: Error) => this.logError(err, 'commit log prune failed'))
      },
      Math.min(60_000, retention),
    )
    this.pruneTimer.unref()
    this.opts.logger.info({ node: this.nodeId, logPosition: head }, 'cluster node started')
  }

  /** Apply the commit log up to its head now (graceful shutdown), waiting at most `timeoutMs`. */
  async catchUp(timeoutMs = 2000): Promise<void> {
    const end = Date.now() + timeoutMs
    let head: number
    try {
      head = await this.reader.head()
    } catch {
      return // PostgreSQL away: nothing more can be read
    }
    while (this.follower.applied < head && Date.now() < end) {
      this.follower.repair()
      await new Promise((r) => setTimeout(r, 10))
    }
  }

  /** The server's hub: committed traffic reaches it from the follower. */
  attachHub(hub: Hub): void {
    this.hub = hub
  }

  /** Entries applied from PostgreSQL because Redis lost or delayed them. */
  get repairedEntries(): number {
    return this.follower.repaired
  }

  private logError(err: Error, msg: string): void {
    // An engine outage produces an error per poll: log at most one a second.
    const now = Date.now()
    if (now - this.lastErrorLog < 1000) return
    this.lastErrorLog = now
    this.opts.logger.warn({ err: err.message, node: this.nodeId }, msg)
  }

  private fanOut(events: ReturnType<typeof eventsOf>, pos: number): void {
    const hub = this.hub
    if (hub === null) return
    for (const e of events) {
      if (e.kind === 'message') hub.publish(e.message, e.epoch, e.members, pos)
      else if (e.kind === 'notice') hub.notify(e.conversationId, e.notices, e.epoch, e.topSeq, pos)
      // [RD-4] in log order on every node: one user's moves in a conversation
      // commit in read-position order (its row lock), so positions increase.
      else hub.readMoved(e.notices, e.state)
    }
  }

  /** Another node started a newer session of the device. [RSM-6] */
  private takenOverElsewhere(user: string, device: string, generation: number): void {
    const k = key(user, device)
    const mine = this.generations.get(k)
    if (mine === undefined || mine >= generation) return
    this.generations.delete(k)
    this.hub?.evict(user, device)
  }

  override run<O extends StoreOp>(op: O): Promise<ResultOf<O>> {
    // Stamp the operation with its session's generation (fencing). The
    // session start itself carries none, nor do reads (they move nothing).
    if (op.op !== 'readReplay' && !UNFENCED.has(op.op)) {
      const g = this.generations.get(key(op.userId, op.deviceId))
      if (g !== undefined) return super.run({ ...op, generation: g })
    }
    return super.run(op)
  }

  private onResults(wire: WireOutcome[], log: { pos: number; payload: string } | null): void {
    const outcomes: OpOutcome[] = []
    for (const { op, outcome: o } of this.received(wire)) {
      if (op === undefined) continue
      if ('result' in o && (o.result as { fenced?: boolean }).fenced) {
        // A superseded session: close it (3509) before its answer arrives.
        const dev = deviceOf(op)
        if (dev !== null) this.hub?.evict(...dev)
      }
      if (op.op === 'openDevice' && 'result' in o && o.result.ok) {
        this.claim(op.userId, op.deviceId, o)
        continue
      }
      outcomes.push(o)
    }
    const group: Group = { ready: log === null, outcomes }
    this.groups.push(group)
    if (log !== null) {
      this.bus.publishLog(log.pos, log.payload)
      this.follower.committed(log.pos, eventsOf(outcomes), () => {
        group.ready = true
        this.release()
      })
    } else this.release()
  }

  /** Settle groups in commit order, each once its fan-out is done. */
  private release(): void {
    while (this.groups.length > 0 && (this.groups[0] as Group).ready) {
      this.settle((this.groups.shift() as Group).outcomes)
    }
  }

  /** Close the device's older session wherever it is, then release the session start. [RSM-6] */
  private claim(user: string, device: string, o: OpOutcome): void {
    const result = (o as { result: StoreResult & { generation?: number } }).result
    const generation = result.generation as number
    this.generations.set(key(user, device), generation)
    this.bus.claim(user, device, generation).then(
      () => this.settle([o]),
      (err: Error) => {
        if (this.generations.get(key(user, device)) === generation) this.generations.delete(key(user, device))
        if (!(err instanceof TakeoverLost)) this.logError(err, 'takeover failed (redis)')
        this.settle([{ id: o.id, error: err instanceof TakeoverLost ? 'session taken over' : 'redis unavailable' }])
      },
    )
  }

  protected shutdown(): Promise<void> {
    this.closedPromise ??= (async () => {
      this.follower?.stop()
      if (this.follower !== undefined) {
        // How much came through Redis in time, and how much the log had to repair.
        this.opts.logger.info(
          { node: this.nodeId, logPosition: this.follower.applied, repaired: this.follower.repaired },
          'cluster node stopped',
        )
      }
      if (this.pruneTimer !== null) clearInterval(this.pruneTimer)
      await this.bus?.close()
      await this.closeThread()
    })()
    return this.closedPromise
  }
}

export type { Store }
