// The durable store: SQLite (WAL) in a data directory, written by a worker
// thread (default) or on the main thread.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import type { StoreOp } from '../../session/store-ops.js'
import { MemoryRunner, type QueuedOp, SqliteRunner, type Synchronous } from './group-runner.js'
import type { FromWorker, ToWorker, WorkerInit } from './sqlite-worker.js'
import { IdSlots } from '../../session/id-slots.js'
import { LocalStore, QueueingStore, type Store } from './store.js'
import { fullOutcome, packSends } from './worker-wire.js'

export const DB_FILE = 'imwire.sqlite'

export interface SqliteStoreOptions {
  dataDir: string
  /** Default FULL (see group-runner.ts for why). */
  synchronous?: Synchronous
  /** Run SQLite in a worker thread (default true). */
  worker?: boolean
}

class WorkerStore extends QueueingStore {
  readonly kind = 'sqlite' as const
  private outbox: QueuedOp[] = []
  private scheduled = false
  private closedPromise: Promise<void> | null = null
  /** Ops posted and not answered yet, by id (to rebuild slim results). Not a Map: see id-slots.ts. */
  private readonly posted = new IdSlots<StoreOp>()

  constructor(private readonly worker: Worker) {
    super()
    worker.on('message', (msg: FromWorker) => {
      if (msg.type !== 'results') return
      this.settle(msg.outcomes.map((o) => fullOutcome(o, this.posted.take(o.id))))
    })
    worker.on('error', (err) => this.failAll(`store worker failed: ${err.message}`))
    worker.on('exit', () => this.failAll('store worker exited'))
  }

  protected submit(op: QueuedOp): void {
    this.outbox.push(op)
    if (!this.scheduled) {
      this.scheduled = true
      // One postMessage per turn carries every op of that turn.
      setImmediate(() => {
        this.scheduled = false
        const ops = packSends(this.outbox)
        this.outbox = []
        for (const q of ops) this.posted.add(q.id, q.op)
        this.worker.postMessage({ type: 'ops', ops } satisfies ToWorker)
      })
    }
  }

  protected shutdown(): Promise<void> {
    this.closedPromise ??= new Promise<void>((resolve) => {
      this.worker.once('exit', () => resolve())
      this.worker.postMessage({ type: 'close' } satisfies ToWorker)
    })
    return this.closedPromise
  }
}

function workerUrl(): URL {
  // Under a TypeScript loader (tsx) this module is .ts and so is the worker.
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js'
  return new URL(`./sqlite-worker${ext}`, import.meta.url)
}

export async function openSqliteStore(
  opts: SqliteStoreOptions,
): Promise<Store & { migrated: { from: number; to: number } }> {
  mkdirSync(opts.dataDir, { recursive: true })
  const path = join(opts.dataDir, DB_FILE)
  const synchronous = opts.synchronous ?? 'FULL'
  if (opts.worker === false) {
    const runner = new SqliteRunner({ path, synchronous })
    return Object.assign(new LocalStore(runner, 'sqlite'), { migrated: runner.migrated })
  }
  const init: WorkerInit = { path, synchronous }
  const worker = new Worker(workerUrl(), { workerData: init })
  const migrated = await new Promise<{ from: number; to: number }>((resolve, reject) => {
    const onMessage = (msg: FromWorker) => {
      if (msg.type === 'ready') resolve(msg.migrated)
      else if (msg.type === 'fatal') reject(new Error(msg.message))
    }
    worker.once('message', onMessage)
    worker.once('error', reject)
  })
  worker.removeAllListeners('error')
  return Object.assign(new WorkerStore(worker), { migrated })
}

export function createMemoryStore(): Store {
  return new LocalStore(new MemoryRunner(), 'memory')
}
