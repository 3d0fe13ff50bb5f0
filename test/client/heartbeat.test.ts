// Client liveness with fake time: [HB-3] ping when quiet, reconnect when the
// peer is silent; [RTY-1] probe a missing SendAck with a Ping, never a resend.
import t from 'tap'
import { Heartbeat } from '../../src/client/heartbeat.js'

t.test('pings after heartbeat_ms without sending anything', async (t) => {
  const hb = new Heartbeat({ heartbeatMs: 1000 }, 0)
  t.equal(hb.check(999, null), null)
  t.equal(hb.check(1000, null), 'ping')
  hb.sent(1000)
  hb.received(1000)
  t.equal(hb.check(1500, null), null, 'the ping reset the send timer')
})

t.test('declares the link dead after heartbeat_ms + margin of silence, any frame counting [HB-4]', async (t) => {
  const hb = new Heartbeat({ heartbeatMs: 1000, deadMarginMs: 10_000 }, 0)
  hb.sent(10_500)
  t.equal(hb.check(11_000, null), null)
  t.equal(hb.check(11_001, null), 'dead')
  const hb2 = new Heartbeat({ heartbeatMs: 1000, deadMarginMs: 10_000 }, 0)
  hb2.received(5000)
  hb2.sent(11_000)
  t.equal(hb2.check(11_001, null), null, 'a frame at 5 s moved the deadline')
})

t.test('probes an overdue SendAck with one Ping, then gives up after heartbeat_ms of silence [RTY-1]', async (t) => {
  const hb = new Heartbeat({ heartbeatMs: 1000, ackTimeoutMs: 300, deadMarginMs: 10_000 }, 0)
  hb.sent(100)
  t.equal(hb.check(399, 100), null, 'not overdue yet')
  t.equal(hb.check(400, 100), 'ping', 'overdue: probe')
  hb.sent(400)
  t.equal(hb.check(500, 100), null, 'one probe at a time')
  hb.sent(1300)
  t.equal(hb.check(1400, 100), null, 'heartbeat_ms after the probe, not more')
  t.equal(hb.check(1401, 100), 'dead', 'nothing answered the probe')
})

t.test('an answer to the probe keeps the link', async (t) => {
  const hb = new Heartbeat({ heartbeatMs: 1000, ackTimeoutMs: 300 }, 0)
  hb.sent(100)
  t.equal(hb.check(400, 100), 'ping')
  hb.sent(400)
  hb.received(450)
  t.equal(hb.check(1500, 100), 'ping', 'still overdue, link alive: a fresh probe later')
  hb.sent(1500)
  t.equal(hb.check(2000, 100), null)
})

t.test('no probe while answers keep arriving (a busy server, not a dead one)', async (t) => {
  const hb = new Heartbeat({ heartbeatMs: 1000, ackTimeoutMs: 300 }, 0)
  hb.sent(0)
  for (let now = 100; now <= 900; now += 100) {
    hb.received(now)
    hb.sent(now)
    t.equal(hb.check(now, 0), null)
  }
})

t.test('checks run often enough to catch a heartbeat', async (t) => {
  t.equal(new Heartbeat({ heartbeatMs: 1000 }, 0).checkEveryMs, 250)
  t.equal(new Heartbeat({ heartbeatMs: 30_000 }, 0).checkEveryMs, 1000)
  t.equal(new Heartbeat({ heartbeatMs: 100 }, 0).checkEveryMs, 50)
})
