// Delivery progress: dedupe by seq, positions advancing with deliveries,
// own messages [DLV-5], cumulative acks [DLV-2], pulls that hold later
// deliveries behind history [RSM-2] [CNV-7], epochs [RSM-8].
import t from 'tap'
import { DeliveryTracker } from '../../src/client/delivery-tracker.js'

t.test('hands each delivery over once and moves the position to it', async (t) => {
  const d = new DeliveryTracker<number>()
  d.setCursor('c', 0, 1)
  t.same(d.deliver('c', 1, 1, 1), [1])
  t.same(d.deliver('c', 1, 1, 1), [], 'a repeat (replay after reconnect) is dropped')
  t.same(d.deliver('c', 3, 1, 3), [3], 'seq 2 is own or acked: the server sends every other message in order')
  t.equal(d.position('c'), 3)
  t.same(d.deliver('c', 2, 1, 2), [], 'below the position: never handed over out of order')
})

t.test('the first delivery sets an unknown base; own acks seen before it are kept', async (t) => {
  const d = new DeliveryTracker<number>()
  t.same(d.own('c', 8, 1), [])
  t.equal(d.ackDue('c'), null, 'nothing to ack while the base is unknown')
  t.same(d.deliver('c', 7, 1, 7), [7], 'replay starts at cursor + 1')
  t.equal(d.position('c'), 8, 'own 8 continues the run')
  t.same(d.deliver('c', 9, 1, 9), [9])
  t.equal(d.ackDue('c'), 9)
})

t.test('own messages move the position only through unbroken runs [DLV-5]', async (t) => {
  const d = new DeliveryTracker<number>()
  d.setCursor('c', 0, 1)
  t.same(d.own('c', 2, 1), [])
  t.equal(d.position('c'), 0, 'seq 1 (someone else) may still be on its way')
  t.same(d.deliver('c', 1, 1, 1), [1])
  t.equal(d.position('c'), 2, 'the held own seq joins the run')
  t.same(d.own('c', 2, 1), [], 'a duplicate ack changes nothing')
  t.equal(d.ackDue('c'), 2, 'the cumulative ack covers the own message')
})

t.test('the cumulative ack is due once per advance and never regresses [DLV-2]', async (t) => {
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

t.test('a server cursor above the position moves it up and hands over what was held below', async (t) => {
  const d = new DeliveryTracker<number>()
  const r = d.setCursor('c', 0, 1, 10)
  t.same(r, { items: [], pull: true })
  t.same(d.deliver('c', 11, 1, 11), [], 'held behind the pull')
  t.same(d.setCursor('c', 12, 1).items, [11], 'the cursor says everything to 12 was acked here')
  t.equal(d.position('c'), 12)
  t.equal(d.pulling('c'), false, 'the pull target is behind us')
})

t.test('a pull holds later deliveries until history reached the announced top [RSM-2] [CNV-7]', async (t) => {
  const d = new DeliveryTracker<number>()
  const r = d.setCursor('c', 0, 1, 3)
  t.equal(r.pull, true)
  t.ok(d.pulling('c'))
  t.same(d.deliver('c', 4, 1, 4), [], 'live message above the pulled range waits')
  t.same(d.deliver('c', 4, 1, 4), [], 'held once')
  t.same(d.fill('c', 1, 1, 1), [1])
  t.same(d.fill('c', 2, 1, null), [], 'an own message from history is held, not handed over')
  t.same(d.fill('c', 3, 1, 3), [3, 4], 'the top reached: the held delivery follows in order')
  t.equal(d.pulling('c'), false)
  t.same(d.deliver('c', 5, 1, 5), [5], 'back to live deliveries')
})

t.test('a pull that ends early (error, no more history) releases what it held', async (t) => {
  const d = new DeliveryTracker<number>()
  d.setCursor('c', 0, 1, 5)
  d.fill('c', 1, 1, 1)
  d.deliver('c', 7, 1, 7)
  d.own('c', 8, 1)
  t.same(d.endPull('c'), [7])
  t.equal(d.position('c'), 8)
  t.same(d.endPull('c'), [], 'ending twice is harmless')
  t.same(d.endPull('unknown'), [])
})

t.test('no pull when the announced top is already held', async (t) => {
  const d = new DeliveryTracker<number>()
  d.setCursor('c', 0, 1)
  d.deliver('c', 1, 1, 1)
  t.same(d.setCursor('c', 0, 1, 1), { items: [], pull: false })
})

t.test('a new epoch starts the conversation over [RSM-8]', async (t) => {
  const d = new DeliveryTracker<number>()
  d.setCursor('c', 0, 1)
  d.deliver('c', 1, 1, 1)
  d.deliver('c', 2, 1, 2)
  t.equal(d.epoch('c'), 1)
  t.same(d.deliver('c', 1, 2, 101), [101], 'seq 1 of epoch 2 is a new message')
  t.equal(d.epoch('c'), 2)
  t.equal(d.position('c'), 1)
})

t.test('positions survive through the constructor and are what Hello.resume presents [RSM-4]', async (t) => {
  const d = new DeliveryTracker<number>([['c', { seq: 10, epoch: 3 }]])
  t.same(d.positions(), [['c', { seq: 10, epoch: 3 }]])
  t.same(d.deliver('c', 10, 3, 10), [], 'already held')
  t.same(d.deliver('c', 11, 3, 11), [11])
  t.equal(d.ackDue('c'), 11)
  t.equal(d.heldCount('c'), 0)
})

t.test(
  'a pull that reaches its top with a hole below held deliveries pulls on instead of jumping [DLV-9]',
  async (t) => {
    const d = new DeliveryTracker<number>()
    d.setCursor('c', 0, 1)
    t.same(d.setCursor('c', 0, 1, 3).pull, true, 'pull to 3')
    t.same(d.deliver('c', 6, 1, 6), [], 'held behind the pull')
    t.same(
      [1, 2, 3].flatMap((s) => d.fill('c', s, 1, s)),
      [1, 2, 3],
    )
    t.ok(d.pulling('c'), 'still pulling: 4 and 5 are neither held nor known to be own')
    t.equal(d.pullTarget('c'), 6)
    t.equal(d.ackDue('c'), 3, 'the ack stops below the hole')
    t.same(d.fill('c', 4, 1, null), [], 'own message from history')
    t.same(d.fill('c', 5, 1, 5), [5, 6], 'the hole is filled, then the held delivery follows')
    t.notOk(d.pulling('c'))
  },
)
