// A deliberately broken cluster writer for the cluster crash test's
// self-check: like src/server/cluster/pg-worker.ts, but it posts each
// group's results as soon as the group has run inside its transaction and
// commits DELAY_MS later. A SendAck built from them precedes the durable
// commit, so killing the node in between loses an acknowledged message —
// what [ACK-1] forbids and what the crash checks must catch. Test code only.
import { parentPort, workerData } from 'node:worker_threads'
import type { QueuedOp } from '../../src/server/store/group-runner.js'
import { MAX_GROUP_OPS } from '../../src/server/store/group-commit.js'
import { slimOutcome } from '../../src/server/store/worker-wire.js'
import { PgRunner } from '../../src/server/cluster/pg-runner.js'
import type { FromPgWorker, PgWorkerInit, ToPgWorker } from '../../src/server/cluster/pg-worker.js'

const DELAY_MS = 150
const port = parentPort
if (port === null) throw new Error('must run in a worker thread')
const runner = new PgRunner({ url: (workerData as PgWorkerInit).url })
port.postMessage({ type: 'ready', migrated: runner.migrated } satisfies FromPgWorker)

let queue: QueuedOp[] = []
let busy = false
const next = () => {
  if (busy || queue.length === 0) return
  busy = true
  const ops = queue.slice(0, MAX_GROUP_OPS)
  queue = queue.slice(MAX_GROUP_OPS)
  const outcomes = runner.execute(ops)
  // THE FAULT: results (and so SendAcks) leave before COMMIT.
  const log = runner.lastLog
  port.postMessage({ type: 'results', outcomes: outcomes.map(slimOutcome), log } satisfies FromPgWorker)
  setTimeout(() => {
    try {
      runner.commit()
    } catch {
      // the answers are already out (that is the bug)
    }
    busy = false
    next()
  }, DELAY_MS)
}
port.on('message', (msg: ToPgWorker) => {
  if (msg.type === 'ops') {
    queue.push(...msg.ops)
    setImmediate(next)
  } else if (msg.type === 'query') {
    try {
      port.postMessage({ type: 'answer', id: msg.id, ...runner.logQuery(msg.query) } satisfies FromPgWorker)
    } catch (err) {
      port.postMessage({ type: 'answer', id: msg.id, error: (err as Error).message } satisfies FromPgWorker)
    }
  } else if (msg.type === 'close') {
    runner.close()
    port.postMessage({ type: 'closed' } satisfies FromPgWorker)
    port.close()
  }
})
