// Delivery progress: in-order hand-over, dedupe by seq, own messages [DLV-5],
// cumulative acks [DLV-2], replay closing gaps [RSM-1], epochs [RSM-8].
import t from 'tap'
import { DeliveryTracker } from '../../src/client/delivery-tracker.js'

t.test('hands deliveries over in seq order, holding those above a gap', async (t) => {
  const d = new DeliveryTracker<number>()
  t.same(d.setCursor('c', 0, 1), [])
  t.same(d.deliver('c', 1, 1, 1), [1])
  t.same(d.deliver('c', 3, 1, 3), [], 'seq 2 is missing: 3 waits')
  t.same(d.deliver('c', 4, 1, 4), [])
  t.same(d.deliver('c', 2, 1, 2), [2, 3, 4], 'the gap closes: everything held follows in order')
  t.equal(d.contiguous('c'), 4)
})

t.test('never hands over the same seq twice (replay after reconnect, history fill)', async (t) => {
  const d = new DeliveryTracker<number>()
  d.setCursor('c', 0, 1)
  t.same(d.deliver('c', 1, 1, 1), [1])
  t.same(d.deliver('c', 1, 1, 1), [])
  t.same(d.deliver('c', 3, 1, 3), [])
  t.same(d.deliver('c', 3, 1, 3), [], 'a held seq is not held twice')
  t.same(d.fill('c', 2, 1, 2), [2, 3])
  t.same(d.fill('c', 3, 1, 3), [])
})

t.test('own messages fill gaps without being handed over, and the ack covers them [DLV-5]', async (t) => {
  const d = new DeliveryTracker<number>()
  d.setCursor('c', 0, 1)
  t.same(d.deliver('c', 1, 1, 1), [1])
  t.same(d.deliver('c', 3, 1, 3), [])
  t.same(d.own('c', 2, 1), [3])
  t.equal(d.ackDue('c'), 3)
})

t.test('without a known base the first delivery sets it, and early own acks are kept', async (t) => {
  const d = new DeliveryTracker<number>()
  t.same(d.own('c', 8, 1), [], 'own ack before anything else: remembered, base unknown')
  t.equal(d.ackDue('c'), null, 'nothing to ack while the base is unknown')
  t.same(d.deliver('c', 7, 1, 7), [7], 'replay starts at cursor + 1: 7 is the first we lack')
  t.same(d.deliver('c', 9, 1, 9), [9], 'own 8 was kept and bridges 7 to 9')
  t.equal(d.ackDue('c'), 9)
})

t.test('the cumulative ack is sent once per advance and never regresses [DLV-2]', async (t) => {
  const d = new DeliveryTracker<number>()
  d.setCursor('c', 5, 1)
  t.equal(d.ackDue('c'), null, 'the server cursor itself need not be acked again')
  d.deliver('c', 6, 1, 6)
  t.equal(d.ackDue('c'), 6)
  d.markAcked('c', 6)
  t.equal(d.ackDue('c'), null)
  d.markAcked('c', 3)
  t.equal(d.ackDue('c'), null, 'a lower mark does not reopen the ack')
  d.resetAcked()
  t.equal(d.ackDue('c'), 6, 'after a reconnect the position is acked again')
})

t.test('a server cursor above what we hold moves us up and releases what was held below it', async (t) => {
  const d = new DeliveryTracker<number>()
  d.setCursor('c', 0, 1)
  d.deliver('c', 1, 1, 1)
  t.same(d.deliver('c', 4, 1, 4), [])
  t.same(d.deliver('c', 6, 1, 6), [])
  t.same(d.setCursor('c', 5, 1), [4, 6], 'seqs up to 5 were acked by this device before; 6 follows')
  t.equal(d.contiguous('c'), 6)
})

t.test('ReplayComplete closes gaps below the last replayed seq (they are own or acked) [RSM-1]', async (t) => {
  const d = new DeliveryTracker<number>()
  d.deliver('c', 3, 1, 3)
  t.same(d.deliver('c', 6, 1, 6), [], 'replay skipped 4 and 5: own messages of an earlier life')
  t.same(d.replayed('c', 6), [6])
  t.equal(d.contiguous('c'), 6)
  t.same(d.replayed('c', 2), [], 'never moves backwards')
  t.same(d.replayed('unknown', 9), [])
})

t.test('a new epoch starts the conversation over [RSM-8]', async (t) => {
  const d = new DeliveryTracker<number>()
  d.setCursor('c', 0, 1)
  d.deliver('c', 1, 1, 1)
  d.deliver('c', 2, 1, 2)
  t.equal(d.epoch('c'), 1)
  t.same(d.deliver('c', 1, 2, 101), [101], 'seq 1 of epoch 2 is a new message')
  t.equal(d.epoch('c'), 2)
  t.equal(d.contiguous('c'), 1)
})

t.test('gaps are reported once they are old enough, with their bounds', async (t) => {
  const d = new DeliveryTracker<number>()
  d.setCursor('c', 0, 1, 0)
  d.deliver('c', 1, 1, 1, 100)
  d.deliver('c', 5, 1, 5, 200)
  d.deliver('c', 7, 1, 7, 250)
  t.same(d.gaps(1000, 1000), [], 'open for 800 ms only')
  t.same(d.gaps(1200, 1000), [{ conversationId: 'c', afterSeq: 1, beforeSeq: 5 }])
  t.equal(d.heldCount('c'), 2)
  d.fill('c', 2, 1, 2, 1300)
  d.fill('c', 3, 1, 3, 1300)
  t.same(d.fill('c', 4, 1, 4, 1300), [4, 5])
  t.same(d.gaps(5000, 1000), [{ conversationId: 'c', afterSeq: 5, beforeSeq: 7 }])
  d.fill('c', 6, 1, 6)
  t.same(d.gaps(9000, 0), [])
})

t.test('positions survive through the constructor and are what Hello.resume presents [RSM-4]', async (t) => {
  const d = new DeliveryTracker<number>([['c', { seq: 10, epoch: 3 }]])
  t.same(d.positions(), [['c', { seq: 10, epoch: 3 }]])
  t.same(d.deliver('c', 10, 3, 10), [], 'already held')
  t.same(d.deliver('c', 11, 3, 11), [11])
  t.equal(d.ackDue('c'), 11)
})
