// The durable store: SQLite (WAL) in a data directory, written by a worker
// thread (default) or on the main thread.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { MemoryRunner, SqliteRunner, type Synchronous } from './group-runner.js'
import type { FromWorker, WorkerInit } from './sqlite-worker.js'
import { LocalStore, type Store } from './store.js'
import { ThreadStore } from './thread-store.js'
import { STORE_FEATURES } from '../../session/handshake.js'

export const DB_FILE = 'imwire.sqlite'

export interface SqliteStoreOptions {
  dataDir: string
  /** Default FULL (see group-runner.ts for why). */
  synchronous?: Synchronous
  /** Run SQLite in a worker thread (default true). */
  worker?: boolean
}

class WorkerStore extends ThreadStore {
  readonly kind = 'sqlite' as const
  override readonly features = STORE_FEATURES

  constructor(worker: Worker) {
    super(worker)
    worker.on('message', (msg: FromWorker) => {
      if (msg.type === 'results') this.settle(this.received(msg.outcomes).map((r) => r.outcome))
    })
    worker.on('error', (err) => this.failAll(`store worker failed: ${err.message}`))
    worker.on('exit', () => this.failAll('store worker exited'))
  }

  protected shutdown(): Promise<void> {
    return this.closeThread()
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
