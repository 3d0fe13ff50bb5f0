// Cluster mode: live traffic another node committed before this session's
// snapshot can reach the session after it subscribed. What the snapshot
// covers (commit-log position at or below livePosition) is not sent — a
// JOINED for a conversation the snapshot already holds would be news of
// the past [CNV-6] — and what came after it is. Single node: no positions,
// nothing dropped.
import t from 'tap'
import { UpdateReason } from '../../src/gen/es/imwire/v1/conversation_pb.js'
import type { Frame } from '../../src/gen/es/imwire/v1/frame_pb.js'
import { Deliveries } from '../../src/session/delivery.js'

function deliveries() {
  const sent: Frame[] = []
  const d = new Deliveries(
    {
      send: (f) => sent.push(f),
      sendEncoded: () => {},
      close: () => {},
      readReplay: () => {},
    },
    { userId: 'bob', deviceId: 'b1', window: 8, replayLimit: 100, maxBacklog: 100, peerMaxFrameBytes: 1 << 20 },
  )
  const notices = () =>
    sent
      .filter((f) => f.body.case === 'conversationUpdated')
      .map((f) => (f.body.case === 'conversationUpdated' ? f.body.value.conversationId : ''))
  return { d, notices }
}

const joined = (conversationId: string, logPos?: number) => ({
  conversationId,
  reason: UpdateReason.JOINED,
  epoch: 1,
  topSeq: 0,
  ...(logPos !== undefined ? { logPos } : {}),
})

t.test('notices at or below the live position are covered by the snapshot; later ones are sent', async (t) => {
  const { d, notices } = deliveries()
  d.notice(joined('old', 7))
  d.notice(joined('edge', 9))
  d.notice(joined('new', 10))
  d.startReplay([], 9)
  t.same(notices(), ['new'])
  d.notice(joined('late-copy', 8))
  d.notice(joined('later', 11))
  t.same(notices(), ['new', 'later'], 'also after replay')
})

t.test('without positions (single node) every notice is sent', async (t) => {
  const { d, notices } = deliveries()
  d.notice(joined('a'))
  d.startReplay([])
  d.notice(joined('b'))
  t.same(notices(), ['a', 'b'])
})
