// The `dense` assert: the Deliver seqs a connection received for a
// conversation are exactly from..to, once each, in order [DLV-1] [ORD-1];
// with exceptOwn, without the seqs of the SendAcks it received (its own
// messages are never delivered to it, [DLV-5]).
import { create } from '@bufbuild/protobuf'
import t from 'tap'
import { type Frame, FrameSchema } from '../../src/gen/es/imwire/v1/frame_pb.js'
import { StepFailure } from '../engine/case-types.js'
import { CaseNames, CaseState, Scope } from '../engine/scope.js'
import { runAssert } from '../engine/step-assert.js'
import type { StepContext } from '../engine/step-context.js'
import type { Scenario } from '../load/scenario-types.js'

const deliver = (seq: number, conv = 'g'): Frame =>
  create(FrameSchema, {
    body: { case: 'deliver', value: { message: { conversationId: conv, seq: BigInt(seq) } } },
  })
const sendAck = (seq: number, conv = 'g'): Frame =>
  create(FrameSchema, { body: { case: 'sendAck', value: { conversationId: conv, seq: BigInt(seq) } } })

function check(received: Frame[], arg: Record<string, unknown>): StepFailure | null {
  const scenario = { id: 'x.y', actors: {}, steps: [] } as unknown as Scenario
  const state = new CaseState()
  const ctx = { conn: () => ({ received }) } as unknown as StepContext
  try {
    runAssert(
      { dense: { conn: 'a1', conversation: 'g', ...arg } },
      new Scope(new CaseNames(scenario, 'r', 0, 's'), state),
      ctx,
    )
    return null
  } catch (err) {
    if (err instanceof StepFailure) return err
    throw err
  }
}

t.test('a dense run from..to passes; a gap, a repeat or a swap fails', async (t) => {
  t.equal(check([deliver(1), deliver(2), deliver(3), deliver(1, 'other')], { from: 1, to: 3 }), null)
  t.ok(check([deliver(1), deliver(3)], { from: 1, to: 3 }), 'a gap')
  t.ok(check([deliver(1), deliver(2), deliver(2), deliver(3)], { from: 1, to: 3 }), 'a repeat')
  t.ok(check([deliver(2), deliver(1), deliver(3)], { from: 1, to: 3 }), 'out of order')
})

t.test('exceptOwn leaves out the seqs of the SendAcks the connection received, and only those', async (t) => {
  const senderView = [sendAck(2), deliver(1), sendAck(4), deliver(3), deliver(5)]
  t.equal(check(senderView, { from: 1, to: 5, exceptOwn: true }), null)
  t.equal(check(senderView, { from: 1, exceptOwn: true }), null, 'without to: as far as the seqs go')
  t.ok(check(senderView, { from: 1, to: 5 }), 'without exceptOwn the own seqs are missing')
  const echoed = check([sendAck(2), deliver(1), deliver(2), deliver(3)], { from: 1, to: 3, exceptOwn: true })
  t.match(echoed?.message, /without its own 1 message\(s\).*\[DLV-5\]/, 'an own message delivered back fails')
  t.ok(check([sendAck(2), deliver(1)], { from: 1, to: 3, exceptOwn: true }), 'a missing one fails')
  t.equal(
    check([sendAck(2, 'other'), deliver(1), deliver(2)], { from: 1, to: 2, exceptOwn: true }),
    null,
    'SendAcks of another conversation do not count',
  )
})
