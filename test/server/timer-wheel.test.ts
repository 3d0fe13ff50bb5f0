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

t.test('an entry cancelled or re-armed after its tick fired but before it ran does not run then', async (t) => {
  // Entries of one tick run in one batch, in the order they were armed; the
  // first one's callback cancels the second and re-arms the third, as a
  // session's frame handling can for another session between the tick firing
  // and the batch running. Deterministic: no race with other timers.
  const wheel = new TimerWheel(Date.now, 10)
  const log: string[] = []
  const at = Date.now() + 5
  const later = { at: at + 40 }
  const cancelled = entry(log, 'cancelled', { at: 0 })
  const moved = entry(log, 'moved', later)
  const first: WheelEntry = {
    wheelTick: 0,
    onWheelTimer() {
      log.push('first')
      wheel.cancel(cancelled)
      wheel.schedule(moved, later.at)
    },
  }
  wheel.schedule(first, at)
  wheel.schedule(cancelled, at)
  wheel.schedule(moved, at)
  while (log.length < 1) await sleep(5)
  t.same(log, ['first'], 'the cancelled and the re-armed entry did not run with their old tick')
  t.equal(wheel.size, 1, 'the re-armed entry waits for its new deadline')
  while (log.length < 2) await sleep(5)
  await sleep(30)
  t.same(log, ['first', 'moved'], 'the re-armed entry ran once, not early')
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
