// The SQLite writer thread. better-sqlite3 is synchronous (~11 µs of CPU per
// row plus the fsync per commit); on the main thread that time would stall
// every socket. Here it runs beside the event loop: the main thread posts
// operations, this thread commits them in groups and posts the results back
// after each commit. While a commit (and its fsync) runs, new operations
// queue up in the port and form the next group. [ACK-1] [ACK-4]
import { parentPort, workerData } from 'node:worker_threads'
import { type QueuedOp, SqliteRunner, type Synchronous } from './group-runner.js'
import { GroupCommitLoop } from './group-commit.js'
import { slimOutcome, type WireOutcome } from './worker-wire.js'

export interface WorkerInit {
  path: string
  synchronous: Synchronous
}

export type ToWorker = { type: 'ops'; ops: QueuedOp[] } | { type: 'close' }
export type FromWorker =
  | { type: 'ready'; migrated: { from: number; to: number } }
  | { type: 'results'; outcomes: WireOutcome[] }
  | { type: 'fatal'; message: string }
  | { type: 'closed' }

const port = parentPort
if (port === null) throw new Error('sqlite-worker must run in a worker thread')
const init = workerData as WorkerInit

let runner: SqliteRunner
try {
  runner = new SqliteRunner({ path: init.path, synchronous: init.synchronous })
  port.postMessage({ type: 'ready', migrated: runner.migrated } satisfies FromWorker)
} catch (err) {
  port.postMessage({ type: 'fatal', message: (err as Error).message } satisfies FromWorker)
  process.exit(1)
}

const loop = new GroupCommitLoop(runner, (outcomes) => {
  port?.postMessage({ type: 'results', outcomes: outcomes.map(slimOutcome) } satisfies FromWorker)
})

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'ops') loop.push(msg.ops)
  else if (msg.type === 'close')
    loop.close(() => {
      port?.postMessage({ type: 'closed' } satisfies FromWorker)
      port?.close()
    })
})
