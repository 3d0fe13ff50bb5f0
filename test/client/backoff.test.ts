// Reconnect backoff [RTY-3]: exponential from 500 ms, capped at 30 s, full jitter, retry_after as a floor.
import t from 'tap'
import { Backoff } from '../../src/client/backoff.js'

t.test('windows double from 500 ms and stop at 30 s', async (t) => {
  const b = new Backoff({ random: () => 0.999999 })
  const windows: number[] = []
  for (let i = 0; i < 10; i++) {
    windows.push(b.window())
    b.next()
  }
  t.same(windows, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000])
})

t.test('delays are drawn uniformly below the window (full jitter)', async (t) => {
  const draws = [0, 0.25, 0.5, 0.999]
  let i = 0
  const b = new Backoff({ random: () => draws[i++ % draws.length] as number })
  t.equal(b.next(), 0, 'random 0 gives no delay at all')
  t.equal(b.next(), 250, 'a quarter of the 1000 ms window')
  t.equal(b.next(), 1000, 'half of the 2000 ms window')
  t.equal(b.next(), 3996, 'just under the 4000 ms window')
})

t.test('a server retry_after is a floor under the jittered delay', async (t) => {
  const b = new Backoff({ random: () => 0.1 })
  t.equal(b.next(5000), 5000, 'jitter gave 50 ms, the server asked for 5 s')
  t.equal(b.next(10), 100, 'a smaller retry_after does not shorten the delay')
})

t.test('reset starts again from the base window', async (t) => {
  const b = new Backoff({ random: () => 0.5 })
  b.next()
  b.next()
  b.next()
  t.equal(b.attempts, 3)
  b.reset()
  t.equal(b.attempts, 0)
  t.equal(b.window(), 500)
})

t.test('the window never exceeds the cap however many attempts failed', async (t) => {
  const b = new Backoff({ random: () => 0.999999 })
  for (let i = 0; i < 2000; i++) b.next()
  t.ok(b.next() < 30000)
  t.equal(b.window(), 30000)
})
