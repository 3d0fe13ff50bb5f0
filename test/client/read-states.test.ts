// The local read state: server states merged with deliveries in between. [RD-2] [RD-5] [RD-8]
import t from 'tap'
import { MAX_TRACKED_DELIVERIES, ReadStates } from '../../src/client/read-states.js'

const server = (readSeq: number, topSeq: number, unreadCount: number, epoch = 1) => ({
  conversationId: 'c',
  epoch,
  topSeq,
  readSeq,
  unreadCount,
})

t.test('an unknown conversation is not counted: there is no read position to count from', async (t) => {
  const r = new ReadStates()
  t.equal(r.message('c', 1, 1, true), null)
  t.equal(r.get('c'), undefined)
  t.equal(r.totalUnread(), 0)
})

t.test("others' messages above the read position raise the count; own ones only the top", async (t) => {
  const r = new ReadStates()
  r.applyServer(server(2, 3, 1))
  t.match(r.message('c', 4, 1, true), { topSeq: 4, unreadCount: 2 })
  t.match(r.message('c', 5, 1, false), { topSeq: 5, unreadCount: 2 })
  t.equal(r.message('c', 5, 1, true), null, 'a seq already counted is not counted twice')
  t.equal(r.message('c', 3, 1, true), null, 'nor one the server state covers')
  t.equal(r.totalUnread(), 2)
})

t.test('a server state older than the deliveries seen keeps their count (a notice crossing a Deliver)', async (t) => {
  const r = new ReadStates()
  r.applyServer(server(0, 3, 3))
  r.message('c', 4, 1, true)
  r.message('c', 5, 1, false)
  r.message('c', 6, 1, true)
  // Another device read up to 4 when top was 4: the server counts 0 then.
  t.match(r.applyServer(server(4, 4, 0)), { readSeq: 4, topSeq: 6, unreadCount: 1 })
  // The same state again changes nothing.
  t.equal(r.applyServer(server(4, 4, 0)), null)
  // A later one covering everything replaces the merge.
  t.match(r.applyServer(server(6, 6, 0)), { readSeq: 6, topSeq: 6, unreadCount: 0 })
})

t.test('within an epoch the read position never goes back; a new epoch starts over [RD-2] [RD-8]', async (t) => {
  const r = new ReadStates()
  r.applyServer(server(5, 9, 4))
  t.equal(r.applyServer(server(3, 9, 6)), null, 'a lower read position is stale')
  t.equal(r.applyServer(server(5, 7, 2)), null, 'an older top with the same position is stale')
  t.equal(r.applyServer(server(9, 12, 3, 0)), null, 'an older epoch is stale')
  t.match(r.applyServer(server(0, 2, 2, 2)), { epoch: 2, readSeq: 0, topSeq: 2, unreadCount: 2 })
  t.match(r.message('c', 1, 3, true), { epoch: 3, readSeq: 0, topSeq: 1, unreadCount: 1 }, 'a Deliver of a new epoch')
})

t.test('joining reads everything before the join; removal forgets the state [RD-2]', async (t) => {
  const r = new ReadStates()
  t.match(r.joined('c', 1, 7), { readSeq: 7, topSeq: 7, unreadCount: 0 })
  t.match(r.message('c', 8, 1, true), { unreadCount: 1 })
  t.equal(r.joined('c', 1, 7), null, 'a repeated JOINED after newer state changes nothing')
  t.ok(r.forget('c'))
  t.equal(r.get('c'), undefined)
})

t.test('peer read positions only grow within the epoch', async (t) => {
  const r = new ReadStates()
  t.equal(r.peerRead('c', 1, 3), null, 'unknown conversation')
  r.applyServer({ ...server(0, 5, 5), peerReadSeq: 2 })
  t.match(r.peerRead('c', 1, 4), { peerReadSeq: 4 })
  t.equal(r.peerRead('c', 1, 3), null)
  t.equal(r.peerRead('c', 2, 9), null, 'another epoch')
  t.match(r.applyServer({ ...server(0, 5, 5), peerReadSeq: 5 }), { peerReadSeq: 5 }, 'an inbox entry moves it too')
})

t.test('states from a store come back as they were', async (t) => {
  const r = new ReadStates([{ conversationId: 'c', epoch: 1, topSeq: 4, readSeq: 2, unreadCount: 2, peerReadSeq: 1 }])
  t.match(r.get('c'), { topSeq: 4, readSeq: 2, unreadCount: 2, peerReadSeq: 1 })
  t.match(r.message('c', 5, 1, true), { unreadCount: 3 })
})

t.test('deliveries kept for merging are bounded', async (t) => {
  const r = new ReadStates()
  r.applyServer(server(0, 0, 0))
  for (let i = 1; i <= MAX_TRACKED_DELIVERIES + 10; i++) r.message('c', i, 1, true)
  // A stale-top state from before all of them: at most the bound is added back.
  t.match(r.applyServer(server(1, 0, 0)), { unreadCount: MAX_TRACKED_DELIVERIES })
})
