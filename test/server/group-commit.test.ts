// The one group-commit loop (main-thread store and SQLite worker): groups of
// at most MAX_GROUP_OPS, outcomes only after their commit [ACK-1] [ACK-4], a
// failed commit fails its whole group [DUP-6], close after the queued work.
import t from 'tap'
import { GroupCommitLoop, MAX_GROUP_OPS } from '../../src/server/store/group-commit.js'
import type { GroupRunner, OpOutcome, QueuedOp } from '../../src/server/store/group-runner.js'
import type { StoreResult } from '../../src/session/store-ops.js'

/** A runner that records what happens, in order. */
class FakeRunner implements GroupRunner {
  readonly events: string[] = []
  failCommits = 0
  execute(ops: QueuedOp[]): OpOutcome[] {
    this.events.push(`execute ${ops.length}`)
    return ops.map(({ id }) => ({ id, result: { ok: true, outcome: 'moved' } as StoreResult }))
  }
  commit(): void {
    if (this.failCommits > 0) {
      this.failCommits--
      this.events.push('commit failed')
      throw new Error('disk full')
    }
    this.events.push('commit')
  }
  rollback(): void {
    this.events.push('rollback')
  }
  close(): void {
    this.events.push('close')
  }
}

const ops = (from: number, n: number): QueuedOp[] =>
  Array.from({ length: n }, (_, i) => ({
    id: from + i,
    op: { op: 'ack', userId: 'u', deviceId: 'd', conversationId: 'c', upToSeq: 1 },
  }))

const turn = () => new Promise((r) => setImmediate(r))

t.test('ops of one turn form groups of at most MAX_GROUP_OPS, delivered in order after each commit', async (t) => {
  const runner = new FakeRunner()
  const delivered: number[] = []
  const loop = new GroupCommitLoop(runner, (out) => {
    runner.events.push(`deliver ${out.length}`)
    for (const o of out) delivered.push(o.id)
  })
  loop.push(ops(1, 10))
  loop.push(ops(11, MAX_GROUP_OPS))
  for (let i = 0; i < 5; i++) await turn()
  t.same(runner.events, [
    `execute ${MAX_GROUP_OPS}`,
    'commit',
    `deliver ${MAX_GROUP_OPS}`,
    'execute 10',
    'commit',
    'deliver 10',
  ])
  t.same(
    delivered,
    Array.from({ length: MAX_GROUP_OPS + 10 }, (_, i) => i + 1),
  )
})

t.test('a failed commit fails every op of its group, and the next group runs', async (t) => {
  const runner = new FakeRunner()
  runner.failCommits = 1
  const groups: OpOutcome[][] = []
  const loop = new GroupCommitLoop(runner, (out) => groups.push(out))
  loop.push(ops(1, 3))
  await turn()
  loop.push(ops(4, 2))
  await turn()
  t.same(groups, [
    [1, 2, 3].map((id) => ({ id, error: 'disk full' })),
    [4, 5].map((id) => ({ id, result: { ok: true, outcome: 'moved' } })),
  ])
})

t.test('close runs what is queued, then closes the runner', async (t) => {
  const runner = new FakeRunner()
  const loop = new GroupCommitLoop(runner, (out) => runner.events.push(`deliver ${out.length}`))
  loop.push(ops(1, 2))
  await new Promise<void>((resolve) => loop.close(resolve))
  t.same(runner.events, ['execute 2', 'commit', 'deliver 2', 'close'])
})
