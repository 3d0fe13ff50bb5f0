// The shared deadline wheel behind every session's handshake timeout [HS-8]
// and idle deadline [HB-2]: never early, once per arming, cancellable, and
// holding no Node timer once nothing waits (an idle server must be able to exit).
import t from 'tap'
import { TimerWheel, type WheelEntry } from '../../src/server/timer-wheel.js'

function entry(log: string[], name: string, deadline: { at: number }): WheelEntry {
  return {
    wheelTick: 0,
    onWheelTimer() {
      log.push(`${name}${Date.now() >= deadline.at ? '' : ' EARLY'}`)
    },
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

t.test('runs each armed entry once, never before its deadline, in deadline order', async (t) => {
  const wheel = new TimerWheel(Date.now, 10)
  const log: string[] = []
  const base = Date.now()
  const d = [{ at: base + 45 }, { at: base + 5 }, { at: base + 23 }]
  wheel.schedule(entry(log, 'a', d[0] as { at: number }), (d[0] as { at: number }).at)
  wheel.schedule(entry(log, 'b', d[1] as { at: number }), (d[1] as { at: number }).at)
  wheel.schedule(entry(log, 'c', d[2] as { at: number }), (d[2] as { at: number }).at)
  t.equal(wheel.size, 3)
  while (log.length < 3) await sleep(5)
  await sleep(40)
  t.same(log, ['b', 'c', 'a'])
  t.equal(wheel.size, 0)
})

t.test('re-arming replaces the earlier deadline; a cancelled entry never runs', async (t) => {
  const wheel = new TimerWheel(Date.now, 10)
  const log: string[] = []
  const late = { at: Date.now() + 40 }
  const moved = entry(log, 'moved', late)
  wheel.schedule(moved, Date.now() + 5)
  wheel.schedule(moved, late.at)
  const gone = entry(log, 'gone', { at: 0 })
  wheel.schedule(gone, Date.now() + 5)
  wheel.cancel(gone)
  t.equal(wheel.size, 1)
  while (log.length < 1) await sleep(5)
  await sleep(30)
  t.same(log, ['moved'])
})

t.test('an entry cancelled after its tick fired but before it ran does not run', async (t) => {
  const wheel = new TimerWheel(Date.now, 10)
  const log: string[] = []
  const e = entry(log, 'e', { at: 0 })
  wheel.schedule(e, Date.now() + 1)
  // Stall past the deadline, let the timer fire (timers phase), then cancel
  // before the check phase's setImmediate runs the due entries.
  const until = Date.now() + 20
  while (Date.now() < until) {
    // busy
  }
  setTimeout(() => wheel.cancel(e), 0)
  await sleep(40)
  t.same(log, [])
})

t.test('a wheel with nothing waiting holds no Node timer', async (t) => {
  const wheel = new TimerWheel(Date.now, 10)
  const e = entry([], 'e', { at: 0 })
  wheel.schedule(e, Date.now() + 60_000)
  t.not((wheel as unknown as { timer: unknown }).timer, null, 'armed while an entry waits')
  wheel.cancel(e)
  t.equal((wheel as unknown as { timer: unknown }).timer, null, 'cleared when the last entry is cancelled')
  t.equal(wheel.size, 0)
})
