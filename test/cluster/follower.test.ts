// The commit-log follower hands every entry to the hub once, in position
// order, whatever Redis does: lost, late, repeated or reordered publishes,
// and a last entry whose publish was lost with nothing after it.
import t from 'tap'
import { LogFollower, type LogReader } from '../../src/server/cluster/follower.js'
import { encodeEvents, type LogEvent } from '../../src/server/cluster/log-events.js'

const msg = (seq: number): LogEvent => ({
  kind: 'message',
  message: {
    conversationId: 'c',
    seq,
    messageId: `m${seq}`,
    senderUserId: 'u',
    senderDeviceId: 'd',
    clientMsgId: new Uint8Array([seq]),
    serverTimeMs: 1,
    contentType: 'text/plain',
    body: new Uint8Array([1, 2, seq]),
  },
  epoch: 1,
  members: ['u', 'v'],
})

/** The log table: entry pos holds message seq pos. */
function table(upTo: number, reads: number[] = []): LogReader & { top: number } {
  return {
    top: upTo,
    async readAfter(after, limit) {
      reads.push(after)
      const rows = []
      for (let p = after + 1; p <= this.top && rows.length < limit; p++)
        rows.push({ pos: p, payload: encodeEvents([msg(p)]) })
      return rows
    },
    async head() {
      return this.top
    },
  }
}

const settle = () => new Promise((r) => setTimeout(r, 20))

function follower(reader: LogReader, start = 0) {
  const applied: number[] = []
  const f = new LogFollower(
    start,
    reader,
    (events) => {
      for (const e of events) if (e.kind === 'message') applied.push(e.message.seq)
    },
    (err) => {
      throw err
    },
  )
  return { f, applied }
}

t.test('in-order publishes apply at once, repeats are ignored', async (t) => {
  const reads: number[] = []
  const { f, applied } = follower(table(3, reads))
  for (const p of [1, 2, 2, 3, 1]) f.published(p, encodeEvents([msg(p)]))
  t.same(applied, [1, 2, 3])
  await settle()
  t.same(reads, [], 'no database read without a gap')
})

t.test('a lost publish is repaired from the log before anything after it applies', async (t) => {
  const reads: number[] = []
  const { f, applied } = follower(table(5, reads))
  f.published(1, encodeEvents([msg(1)]))
  f.published(3, encodeEvents([msg(3)])) // 2 lost
  t.same(applied, [1], '3 waits behind the gap')
  await settle()
  t.same(applied, [1, 2, 3, 4, 5], 'filled from the log, in order')
  t.ok(reads.length > 0)
  t.ok(f.repaired >= 1)
  f.published(2, encodeEvents([msg(2)])) // late copy
  f.published(4, encodeEvents([msg(4)]))
  t.same(applied, [1, 2, 3, 4, 5], 'late copies are not applied twice')
})

t.test('reordered publishes from two nodes apply in position order', async (t) => {
  const { f, applied } = follower(table(4))
  f.published(2, encodeEvents([msg(2)]))
  f.published(1, encodeEvents([msg(1)]))
  f.published(4, encodeEvents([msg(4)]))
  f.published(3, encodeEvents([msg(3)]))
  await settle()
  t.same(applied, [1, 2, 3, 4])
})

t.test("an own commit's results wait until everything before it is applied", async (t) => {
  const { f, applied } = follower(table(3))
  const settled: number[] = []
  f.committed(3, [msg(3)], () => settled.push(applied.length))
  t.same(settled, [], 'not before 1 and 2')
  await settle()
  t.same(applied, [1, 2, 3])
  t.same(settled, [3], 'after its own fan-out')
  f.committed(2, [msg(2)], () => settled.push(-2))
  t.same(settled, [3, -2], 'an entry already applied settles at once')
})

t.test('a last publish lost with nothing after it is found by the head poll', async (t) => {
  const log = table(2)
  const { f, applied } = follower(log)
  f.published(1, encodeEvents([msg(1)]))
  t.same(applied, [1])
  f.start(10)
  await new Promise((r) => setTimeout(r, 60))
  f.stop()
  t.same(applied, [1, 2])
})

t.test('a follower that starts at the head applies only what comes after it', async (t) => {
  const { f, applied } = follower(table(7), 5)
  f.published(5, encodeEvents([msg(5)]))
  f.published(7, encodeEvents([msg(7)]))
  await settle()
  t.same(applied, [6, 7])
})

t.test('entries pruned before this node read them are reported, and the follower goes on', async (t) => {
  const log = table(6)
  const pruned = {
    ...log,
    readAfter: async (after: number, limit: number) => await log.readAfter(Math.max(after, 3), limit),
  }
  const errors: string[] = []
  const applied: number[] = []
  const f = new LogFollower(
    0,
    pruned,
    (events) => {
      for (const e of events) if (e.kind === 'message') applied.push(e.message.seq)
    },
    (err) => errors.push(err.message),
  )
  f.published(5, encodeEvents([msg(5)]))
  await settle()
  t.same(applied, [4, 5, 6])
  t.match(errors, [/1\.\.3 were pruned/])
})
