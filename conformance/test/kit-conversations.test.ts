// The kit's model of the conversations it serves a client: what counts as
// given, how each DeliverAck is judged [DLV-9], and what a listing reports.
import t from 'tap'
import { KitConversations } from '../client/kit-conversations.js'

t.test('a DeliverAck covering only given seqs passes; one over a hole is a DLV-9 violation', async (t) => {
  const k = new KitConversations(() => 0)
  k.deliver('c1', 1n, false)
  k.deliver('c1', 2n, false)
  k.acked('c1', 2n)
  t.same(k.violations, [])
  k.deliver('c1', 4n, false)
  k.acked('c1', 4n)
  t.equal(k.violations.length, 1)
  t.match(k.violations[0], /up_to_seq 4 for c1 covers seq 3.*\[DLV-9\]/)
})

t.test("the client's own seqs and history pages count as given", async (t) => {
  const k = new KitConversations(() => 0)
  k.deliver('c1', 1n, false)
  t.equal(k.own('c1'), 2n)
  k.deliver('c1', 3n, false)
  k.acked('c1', 3n)
  k.notice('c1', 1, 6n, 3n, 1n)
  k.page('c1', 1, 3n, 2)
  k.acked('c1', 5n)
  t.same(k.violations, [])
  k.acked('c1', 6n)
  t.equal(k.violations.length, 1, '6 was never paged')
})

t.test('a notice with another epoch starts the conversation over from its cursor', async (t) => {
  const k = new KitConversations(() => 0)
  k.deliver('c1', 1n, false)
  k.deliver('c1', 2n, false)
  k.acked('c1', 2n)
  k.notice('c1', 5, 1n, 0n, 2n)
  t.equal(k.held('c1'), 0n)
  k.acked('c1', 1n)
  t.equal(k.violations.length, 1, 'seq 1 of epoch 2 was not given yet')
})

t.test('the receive window counts Delivers above the cursor', async (t) => {
  const k = new KitConversations(() => 0)
  for (let s = 1n; s <= 4n; s++) k.deliver('c1', s, false)
  t.equal(k.outstandingCount('c1'), 4)
  k.acked('c1', 3n)
  t.equal(k.outstandingCount('c1'), 1)
})

t.test('a listing reports every conversation with its epoch, top_seq and cursor', async (t) => {
  const k = new KitConversations(() => 0)
  k.deliver('c2', 1n, false)
  k.notice('c1', 1, 5n, 0n, 3n)
  const f = k.list(7)
  if (f.body.case !== 'conversationList') throw new Error('not a list')
  t.equal(f.body.value.requestId, 7)
  t.same(
    f.body.value.conversations.map((c) => [c.conversationId, c.epoch, c.topSeq, c.cursor]),
    [
      ['c1', 3n, 5n, 0n],
      ['c2', 1n, 1n, 0n],
    ],
  )
})
