// The PostgreSQL writer thread of a cluster node: like the SQLite worker
// (store/sqlite-worker.ts), it runs commit groups beside the event loop and
// posts each group's outcomes after its COMMIT, with the group's position
// in the commit log when it committed messages or membership changes. The
// node's follower reads the log through here too (libpq's addon loads in
// one thread per process).
import { parentPort, workerData } from 'node:worker_threads'
import { GroupCommitLoop } from '../store/group-commit.js'
import type { QueuedOp } from '../store/group-runner.js'
import { slimOutcome, type WireOutcome } from '../store/worker-wire.js'
import { PgRunner } from './pg-runner.js'

export interface PgWorkerInit {
  url: string
}

/** Reads of the commit log for the node's follower, answered between groups. */
export type LogQuery =
  | { q: 'head' }
  | { q: 'after'; after: number; limit: number }
  | { q: 'prune'; retentionMs: number }

export type ToPgWorker =
  | { type: 'ops'; ops: QueuedOp[] }
  | { type: 'query'; id: number; query: LogQuery }
  | { type: 'close' }
export type FromPgWorker =
  | { type: 'ready'; migrated: { from: number; to: number } }
  | { type: 'results'; outcomes: WireOutcome[]; log: { pos: number; payload: string } | null }
  | { type: 'answer'; id: number; rows?: { pos: number; payload: string }[]; head?: number; error?: string }
  | { type: 'fatal'; message: string }
  | { type: 'closed' }

const port = parentPort
if (port === null) throw new Error('pg-worker must run in a worker thread')
const init = workerData as PgWorkerInit

let runner: PgRunner
try {
  runner = new PgRunner({ url: init.url })
  port.postMessage({ type: 'ready', migrated: runner.migrated } satisfies FromPgWorker)
} catch (err) {
  port.postMessage({ type: 'fatal', message: (err as Error).message } satisfies FromPgWorker)
  process.exit(1)
}

const loop = new GroupCommitLoop(runner, (outcomes) => {
  const log = runner.lastLog
  runner.lastLog = null
  port?.postMessage({ type: 'results', outcomes: outcomes.map(slimOutcome), log } satisfies FromPgWorker)
})

port.on('message', (msg: ToPgWorker) => {
  if (msg.type === 'ops') loop.push(msg.ops)
  else if (msg.type === 'query') {
    // Between groups (a group runs within one turn): never inside a transaction.
    try {
      const a = runner.logQuery(msg.query)
      port?.postMessage({ type: 'answer', id: msg.id, ...a } satisfies FromPgWorker)
    } catch (err) {
      port?.postMessage({ type: 'answer', id: msg.id, error: (err as Error).message } satisfies FromPgWorker)
    }
  } else if (msg.type === 'close')
    loop.close(() => {
      port?.postMessage({ type: 'closed' } satisfies FromPgWorker)
      port?.close()
    })
})
