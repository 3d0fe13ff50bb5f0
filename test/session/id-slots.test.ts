// IdSlots: the id-keyed bookkeeping that replaced Maps on the per-message path
// (session pending ops, store waiters, ops posted to the SQLite worker).
import t from 'tap'
import { IdSlots } from '../../src/session/id-slots.js'

t.test('values come back by id, in or out of order, once', async (t) => {
  const s = new IdSlots<string>()
  for (let id = 1; id <= 5; id++) s.add(id, `v${id}`)
  t.equal(s.size, 5)
  t.equal(s.take(3), 'v3')
  t.equal(s.take(3), undefined, 'taken once')
  t.equal(s.get(4), 'v4', 'get does not remove')
  t.equal(s.take(1), 'v1')
  t.same(s.ids(), [2, 4, 5])
  t.equal(s.take(99), undefined)
  t.equal(s.take(0), undefined)
  for (const id of [5, 2, 4]) t.equal(s.take(id), `v${id}`)
  t.equal(s.size, 0)
  t.same(s.ids(), [])
})

t.test('gaps between ids and a restart after draining', async (t) => {
  const s = new IdSlots<number>()
  s.add(10, 10)
  s.add(13, 13)
  t.same(s.ids(), [10, 13])
  t.equal(s.get(11), undefined)
  t.equal(s.take(10), 10)
  t.equal(s.take(13), 13)
  s.add(20, 20)
  t.same(s.ids(), [20])
  t.equal(s.take(20), 20)
  t.throws(() => {
    s.add(30, 30)
    s.add(30, 31)
  }, /not above/)
})

t.test('one op held while many pass keeps every later value reachable', async (t) => {
  const s = new IdSlots<number>()
  s.add(1, 1)
  const lost: number[] = []
  for (let id = 2; id <= 20_000; id++) {
    s.add(id, id)
    if (id > 2 && s.take(id - 1) !== id - 1) lost.push(id - 1)
  }
  t.same(lost, [])
  t.same(s.ids(), [1, 20_000])
  t.equal(s.take(1), 1)
  t.same(s.ids(), [20_000], 'the cleared prefix is dropped, the rest stays')
  t.equal(s.take(20_000), 20_000)
  t.equal(s.size, 0)
})
