// The SQLite writer thread. better-sqlite3 is synchronous (~11 µs of CPU per
// row plus the fsync per commit); on the main thread that time would stall
// every socket. Here it runs beside the event loop: the main thread posts
// operations, this thread commits them in groups and posts the results back
// after each commit. While a commit (and its fsync) runs, new operations
// queue up in the port and form the next group. [ACK-1] [ACK-4]
import { parentPort, workerData } from 'node:worker_threads'
import { type QueuedOp, SqliteRunner, type Synchronous } from './group-runner.js'
import { MAX_GROUP_OPS } from './store.js'
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

let queue: QueuedOp[] = []
let scheduled = false
let closing = false

function schedule(): void {
  if (scheduled) return
  scheduled = true
  setImmediate(runGroup)
}

function runGroup(): void {
  scheduled = false
  if (queue.length === 0) {
    if (closing) finish()
    return
  }
  const ops = queue.length <= MAX_GROUP_OPS ? queue : queue.slice(0, MAX_GROUP_OPS)
  queue = queue.length <= MAX_GROUP_OPS ? [] : queue.slice(MAX_GROUP_OPS)
  const outcomes = runner.execute(ops)
  let out = outcomes
  try {
    runner.commit()
  } catch (err) {
    out = outcomes.map(({ id }) => ({ id, error: (err as Error).message }))
  }
  port?.postMessage({ type: 'results', outcomes: out.map(slimOutcome) } satisfies FromWorker)
  if (queue.length > 0 || closing) schedule()
}

function finish(): void {
  runner.close()
  port?.postMessage({ type: 'closed' } satisfies FromWorker)
  port?.close()
}

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'ops') {
    for (const op of msg.ops) queue.push(op)
    schedule()
  } else if (msg.type === 'close') {
    closing = true
    schedule()
  }
})
