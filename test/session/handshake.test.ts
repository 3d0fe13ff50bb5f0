// Session core: handshake, frame rules, heartbeat, close. Fake clock, no I/O.
import t from 'tap'
import { encodeBatch } from '../../src/codec/index.js'
import { ConversationKind } from '../../src/gen/es/imwire/v1/conversation_pb.js'
import { CloseCode } from '../../src/gen/es/imwire/v1/control_pb.js'
import { makeTestToken } from '../../src/session/test-token.js'
import { frame, newClientMsgId, SECRET, World } from './harness.js'

const hello = (user = 'alice', over: Record<string, unknown> = {}) => ({
  case: 'hello' as const,
  value: { versions: [1], token: makeTestToken(SECRET, user), deviceId: 'dev-1', ...over },
})

t.test('answers a valid Hello with Welcome then exactly one ReplayComplete [HS-10] [HS-11]', async (t) => {
  const w = new World()
  const c = w.open().send(hello())
  const frames = c.take()
  t.same(
    frames.map((f) => f.body.case),
    ['welcome', 'replayComplete'],
  )
  const wel = frames[0]?.body.case === 'welcome' ? frames[0].body.value : undefined
  t.equal(wel?.version, 1)
  t.equal(wel?.userId, 'alice')
  t.equal(wel?.deviceId, 'dev-1')
  t.equal(wel?.sessionId, 's1')
  t.equal(wel?.serverTimeMs, BigInt(w.now))
  const l = wel?.limits
  t.ok(l, 'limits present')
  for (const [k, v] of Object.entries(l ?? {})) if (k !== '$typeName') t.ok(Number(v) > 0, `${k} positive`)
  t.equal(l?.maxFrameBytes, 1048576)
  t.equal(l?.receiveWindow, 256)
  t.equal(l?.maxGroupMembers, 1000)
})

t.test('session ids differ per connection [HS-10]', async (t) => {
  const w = new World()
  const a = w.open().send(hello('alice')).of('welcome')[0]
  const b = w.open().send(hello('bob')).of('welcome')[0]
  t.not(a?.sessionId, b?.sessionId)
})

t.test('a first frame other than Hello closes 3510 [HS-1]', async (t) => {
  const w = new World()
  const c = w.open().send({ case: 'ping', value: { nonce: 1n } })
  t.equal(c.closeCode, CloseCode.UNEXPECTED_FRAME)
  t.same(c.cases(), [], 'nothing before the Close [HS-2]')
})

t.test('a second Hello closes 3510 [HS-3]', async (t) => {
  const w = new World()
  const c = w.open().send(hello())
  c.take()
  c.send(hello())
  t.equal(c.closeCode, CloseCode.UNEXPECTED_FRAME)
})

t.test('picks the highest common version; none or an empty list closes 3502 [HS-4]', async (t) => {
  const w = new World()
  t.equal(
    w
      .open()
      .send(hello('a', { versions: [7, 1, 3] }))
      .of('welcome')[0]?.version,
    1,
  )
  t.equal(w.open().send(hello('b', { versions: [2] })).closeCode, CloseCode.UNSUPPORTED_VERSION)
  t.equal(w.open().send(hello('c', { versions: [] })).closeCode, CloseCode.UNSUPPORTED_VERSION)
})

t.test('enables only requested and supported features, ignoring unknown ones [HS-5]', async (t) => {
  const w = new World()
  t.same(
    w
      .open()
      .send(hello('a', { features: ['zstd', 'lz4'] }))
      .of('welcome')[0]?.features,
    ['lz4'],
  )
  t.same(
    w
      .open()
      .send(hello('b', { features: ['zstd'] }))
      .of('welcome')[0]?.features,
    [],
  )
  w.features = []
  t.same(
    w
      .open()
      .send(hello('c', { features: ['lz4'] }))
      .of('welcome')[0]?.features,
    [],
  )
})

t.test('Hello.max_frame_bytes must be 0 or at least 1 MiB, else 3500 [HS-13]', async (t) => {
  const w = new World()
  t.equal(w.open().send(hello('a', { maxFrameBytes: 1048575 })).closeCode, CloseCode.PROTOCOL_ERROR)
  t.equal(w.open().send(hello('b', { maxFrameBytes: 1048576 })).closeCode, null)
  t.equal(w.open().send(hello('c', { maxFrameBytes: 0 })).closeCode, null)
})

t.test('checks Hello in order: version, token, device id, max_frame_bytes [HS-12]', async (t) => {
  const w = new World()
  const all = { versions: [9], token: 'nope', deviceId: '', maxFrameBytes: 5 }
  t.equal(w.open().send(hello('a', all)).closeCode, CloseCode.UNSUPPORTED_VERSION)
  t.equal(w.open().send(hello('a', { ...all, versions: [1] })).closeCode, CloseCode.UNAUTHORIZED)
  const token = makeTestToken(SECRET, 'a')
  t.equal(w.open().send(hello('a', { ...all, versions: [1], token })).closeCode, CloseCode.PROTOCOL_ERROR)
  t.equal(
    w.open().send(hello('a', { ...all, versions: [1], token, deviceId: 'd' })).closeCode,
    CloseCode.PROTOCOL_ERROR,
  )
})

t.test('a Close as the first frame simply ends the connection (Appendix F) [ERR-3]', async (t) => {
  const w = new World()
  const c = w.open().send({ case: 'close', value: { code: CloseCode.NORMAL } })
  t.equal(c.ended, true)
  t.equal(c.closeEffect, null)
})

t.test('a Close while the Welcome is pending discards the held frames [HS-15] [ERR-3]', async (t) => {
  const w = new World()
  w.holdStore = true
  const c = w.open().send(hello())
  c.send({ case: 'ping', value: { nonce: 1n } })
  c.send({ case: 'close', value: { code: CloseCode.NORMAL } })
  w.holdStore = false
  w.runStore()
  t.equal(c.ended, true)
  t.same(c.cases(), [])
})

t.test('the idle period starts again when Welcome is sent [HB-2]', async (t) => {
  const w = new World()
  w.holdStore = true
  const c = w.open().send(hello('a', { heartbeatMs: 1_000 }))
  w.advance(1_400, [c]) // the snapshot is slow
  w.holdStore = false
  w.runStore()
  t.same(c.cases(), ['welcome', 'replayComplete'])
  w.advance(1_400, [c])
  t.equal(c.closeCode, null, 'not 1.5 s after Hello: 1.5 s after Welcome')
  w.advance(100, [c])
  t.equal(c.closeCode, CloseCode.HEARTBEAT_TIMEOUT)
})

t.test('a bad token closes 3501, a bad device id 3500 [HS-7] [AUTH-2]', async (t) => {
  const w = new World()
  const forged = `${makeTestToken('other-secret', 'alice')}`
  t.equal(w.open().send(hello('a', { token: forged })).closeCode, CloseCode.UNAUTHORIZED)
  t.equal(w.open().send(hello('a', { token: '' })).closeCode, CloseCode.UNAUTHORIZED)
  const tampered = makeTestToken(SECRET, 'alice').replace('alice', 'alicf')
  t.equal(w.open().send(hello('a', { token: tampered })).closeCode, CloseCode.UNAUTHORIZED)
  t.equal(w.open().send(hello('a', { deviceId: '' })).closeCode, CloseCode.PROTOCOL_ERROR)
  t.equal(w.open().send(hello('a', { deviceId: 'bad device' })).closeCode, CloseCode.PROTOCOL_ERROR)
  t.equal(w.open().send(hello('a', { deviceId: 'x'.repeat(65) })).closeCode, CloseCode.PROTOCOL_ERROR)
})

t.test('no Hello within the handshake timeout closes 3004 [HS-8]', async (t) => {
  const w = new World()
  const c = w.open()
  w.advance(9_999, [c])
  t.equal(c.closeCode, null)
  w.advance(1, [c])
  t.equal(c.closeCode, CloseCode.HANDSHAKE_TIMEOUT)
})

t.test('clamps the heartbeat into [1000, 300000], default 30000 [HS-9]', async (t) => {
  const w = new World()
  const hb = (ms: number) =>
    w
      .open()
      .send(hello(`u${ms}`, { heartbeatMs: ms }))
      .of('welcome')[0]?.heartbeatMs
  t.equal(hb(0), 30_000)
  t.equal(hb(1), 1_000)
  t.equal(hb(1_000), 1_000)
  t.equal(hb(4_321), 4_321)
  t.equal(hb(300_000), 300_000)
  t.equal(hb(999_999), 300_000)
})

t.test('uses the smaller receive window of client and server [FLW-1] [LIM-2]', async (t) => {
  const w = new World()
  t.equal(
    w
      .open()
      .send(hello('a', { receiveWindow: 10 }))
      .of('welcome')[0]?.limits?.receiveWindow,
    10,
  )
  t.equal(
    w
      .open()
      .send(hello('b', { receiveWindow: 9999 }))
      .of('welcome')[0]?.limits?.receiveWindow,
    256,
  )
})

t.test('sends nothing before Welcome: frames after Hello wait for it [HS-2]', async (t) => {
  const w = new World()
  w.holdStore = true
  const c = w.open().send(hello())
  c.send({ case: 'ping', value: { nonce: 5n } })
  t.same(c.cases(), [], 'store snapshot pending: nothing sent')
  w.holdStore = false
  w.runStore()
  t.same(c.cases(), ['welcome', 'replayComplete', 'pong'])
})

t.test('closes 1.5 heartbeats after the last inbound frame, any frame counts [HB-2] [HB-4]', async (t) => {
  const w = new World()
  const c = w.open().send(hello('a', { heartbeatMs: 2_000 }))
  w.advance(2_900, [c])
  c.send({ case: 'pong', value: { nonce: 1n } }) // not a Ping: still resets
  w.advance(2_900, [c])
  t.equal(c.closeCode, null)
  w.advance(100, [c])
  t.equal(c.closeCode, CloseCode.HEARTBEAT_TIMEOUT)
})

t.test('answers Ping with Pong carrying the same nonce [HB-1]', async (t) => {
  const w = new World()
  const c = w.open().send(hello())
  c.take()
  c.send({ case: 'ping', value: { nonce: 123456789012345n } })
  t.same(
    c.of('pong').map((p) => p.nonce),
    [123456789012345n],
  )
})

t.test('server-only frames from the client close 3510 [FRM-10]', async (t) => {
  const w = new World()
  const serverOnly = [
    { case: 'welcome', value: {} },
    { case: 'sendAck', value: {} },
    { case: 'deliver', value: {} },
    { case: 'error', value: {} },
    { case: 'conversationUpdated', value: {} },
    { case: 'replayComplete', value: {} },
    { case: 'historyPage', value: {} },
    { case: 'conversationList', value: {} },
    { case: 'conversationResult', value: {} },
  ] as const
  for (const body of serverOnly) {
    const c = w.open().send(hello(`u-${body.case}`))
    c.send(body)
    t.equal(c.closeCode, CloseCode.UNEXPECTED_FRAME, body.case)
  }
})

t.test('a frame with no known body closes 3511 [FRM-7]', async (t) => {
  const w = new World()
  const c = w.open().send(hello())
  c.step({ type: 'frame', frame: frame({ case: undefined }) })
  t.equal(c.closeCode, CloseCode.UNSUPPORTED_FRAME)
  const d = w.open()
  d.step({ type: 'frame', frame: frame({ case: undefined }) })
  t.equal(d.closeCode, CloseCode.UNSUPPORTED_FRAME, 'also before Hello')
})

t.test('a codec error closes with its close code [FRM-3] [FRM-5]', async (t) => {
  const w = new World()
  const c = w.open()
  c.step({ type: 'codecError', closeCode: CloseCode.FRAME_TOO_LARGE, reason: 'FRAME_TOO_LARGE' })
  t.equal(c.closeCode, CloseCode.FRAME_TOO_LARGE)
})

t.test('processes the frames of a Batch in order [BAT-1] [BAT-8]', async (t) => {
  const w = new World()
  const c = w.open().send(hello())
  c.take()
  const pings = [1n, 2n, 3n].map((nonce) => frame({ case: 'ping', value: { nonce } }))
  c.step({ type: 'frame', frame: encodeBatch(pings, 'none') })
  t.same(
    c.of('pong').map((p) => p.nonce),
    [1n, 2n, 3n],
  )
})

t.test('an LZ4 batch without the lz4 feature closes 3505; with it, it is accepted [HS-6] [BAT-6]', async (t) => {
  const w = new World()
  const ping = frame({ case: 'ping', value: { nonce: 9n } })
  const without = w.open().send(hello('a'))
  without.step({ type: 'frame', frame: encodeBatch([ping], 'lz4') })
  t.equal(without.closeCode, CloseCode.BAD_BATCH)
  const withLz4 = w.open().send(hello('b', { features: ['lz4'] }))
  withLz4.take()
  withLz4.step({ type: 'frame', frame: encodeBatch([ping, ping], 'lz4') })
  t.equal(withLz4.of('pong').length, 2)
})

t.test('a Batch before Hello, or a Hello inside a Batch, closes 3510 [BAT-12]', async (t) => {
  const w = new World()
  const before = w.open()
  before.step({ type: 'frame', frame: encodeBatch([frame(hello())], 'none') })
  t.equal(before.closeCode, CloseCode.UNEXPECTED_FRAME)
  const inside = w.open().send(hello())
  inside.step({ type: 'frame', frame: encodeBatch([frame(hello())], 'none') })
  t.equal(inside.closeCode, CloseCode.UNEXPECTED_FRAME)
})

t.test('a Batch over max_batch_frames closes 3506 [BAT-5]', async (t) => {
  const w = new World()
  w.limits = { ...w.limits, maxBatchFrames: 2 }
  const c = w.open().send(hello())
  const ping = frame({ case: 'ping', value: { nonce: 1n } })
  c.step({ type: 'frame', frame: encodeBatch([ping, ping, ping], 'none') })
  t.equal(c.closeCode, CloseCode.BATCH_TOO_LARGE)
})

t.test("a client's Close ends the connection without a Close of our own [ERR-3]", async (t) => {
  const w = new World()
  const c = w.open().send(hello())
  c.take()
  c.send({ case: 'close', value: { code: CloseCode.NORMAL } })
  t.equal(c.ended, true)
  t.equal(c.closeEffect, null)
  c.send({ case: 'ping', value: { nonce: 1n } })
  t.same(c.cases(), [], 'nothing after')
})

t.test('shutdown closes 3001 with retry_after [ERR-6]', async (t) => {
  const w = new World()
  const c = w.open().send(hello())
  c.step({ type: 'shutdown', retryAfterMs: 1500 })
  t.equal(c.closeCode, CloseCode.GOING_AWAY)
  t.equal(c.closeEffect?.retryAfterMs, 1500)
})

t.test('an output buffer over its bound closes 3003 [FLW-3]', async (t) => {
  const w = new World()
  const c = w.open().send(hello())
  c.step({ type: 'outputOverflow' })
  t.equal(c.closeCode, CloseCode.SLOW_CONSUMER)
})

t.test('batching is enabled after Welcome with the negotiated LZ4 and the client frame limit [RSM-9]', async (t) => {
  const w = new World()
  const c = w.open().send(hello('a', { features: ['lz4'], maxFrameBytes: 2_000_000 }))
  t.same([c.batching?.lz4, c.batching?.maxFrameBytes], [true, 2_000_000])
})

t.test(
  'Sends behind the Hello beyond max_inflight_sends: Welcome first, the ones before the offending Send take effect, then 3507 [HS-15] [HS-2] [ERR-15] [FLW-2]',
  async (t) => {
    const sendTo = (conversationId: string) => ({
      case: 'send' as const,
      value: { clientMsgId: newClientMsgId(), conversationId, body: new Uint8Array([1]) },
    })
    for (const asBatch of [false, true]) {
      const w = new World()
      const other = w.connect('alice', 'dev-0')
      other.send({
        case: 'createConversation',
        value: { requestId: 1, conversationId: 'g1', kind: ConversationKind.GROUP, memberUserIds: [] },
      })
      other.take()
      w.holdStore = true
      const c = w.open().send(hello())
      const sends = Array.from({ length: 257 }, () => sendTo('g1'))
      if (asBatch)
        c.step({
          type: 'frame',
          frame: encodeBatch(
            sends.map((s) => frame(s)),
            'none',
          ),
        })
      else for (const s of sends) c.send(s)
      c.send({ case: 'ping', value: { nonce: 7n } })
      t.same(c.cases(), [], `${asBatch ? 'batch' : 'frames'}: nothing before Welcome`)
      w.holdStore = false
      w.runStore()
      t.same(c.cases(), ['welcome', 'replayComplete'], 'Welcome first; nothing after the offending frame is answered')
      t.equal(c.closeCode, CloseCode.WINDOW_EXCEEDED)
      // a Batch over the bound is refused whole; of the single frames, the 256 before the 257th commit
      t.equal(other.of('deliver').length, asBatch ? 0 : 256, 'committed before the refused frame')
    }
  },
)
