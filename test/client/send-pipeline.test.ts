// The send pipeline with fake time: window, resend order after reconnect
// [RTY-2], SEND_OUT_OF_ORDER recovery [ORD-7], retryable errors with backoff
// and retry_after [RTY-5] [RTY-3], refused sends leaving the outbox.
import t from 'tap'
import { MemoryClientStore } from '../../src/client/client-store.js'
import { Outbox, type OutboxEntry } from '../../src/client/outbox.js'
import { type SendFailure, SendPipeline } from '../../src/client/send-pipeline.js'
import { ErrorCode } from '../../src/gen/es/imwire/v1/control_pb.js'

const body = (s: string) => new TextEncoder().encode(s)
const label = (e: OutboxEntry) => `${e.conversationId}${e.sendSeq}`

async function setup(n: Record<string, number>) {
  const outbox = await Outbox.open(new MemoryClientStore())
  const wire: OutboxEntry[] = []
  const pipe = new SendPipeline(outbox, (e) => wire.push(e), { random: () => 0.5 })
  const entries: OutboxEntry[] = []
  for (const [conv, count] of Object.entries(n)) {
    for (let i = 0; i < count; i++) entries.push(await outbox.add(conv, body(`${conv}${i}`)))
  }
  return { outbox, wire, pipe, entries }
}

const err = (code: ErrorCode, extra: Partial<SendFailure> = {}): SendFailure => ({
  code,
  retryable: false,
  retryAfterMs: 0,
  expectedSendSeq: 0,
  ...extra,
})

t.test('sends nothing until a connection is ready, then the whole outbox in order within the window', async (t) => {
  const { wire, pipe, outbox } = await setup({ a: 3, b: 2 })
  pipe.add(outbox.list()[0] as OutboxEntry, 0)
  t.equal(wire.length, 0)
  pipe.open(4, 0)
  t.same(wire.map(label), ['a1', 'a2', 'a3', 'b1'], 'window of 4 [FLW-2]')
  t.equal(pipe.inflightCount, 4)
  t.equal(pipe.oldestInflightAt, 0)
  const acked = pipe.acked((wire[0] as OutboxEntry).id, 10)
  t.equal(acked?.sendSeq, 1)
  t.same(wire.map(label), ['a1', 'a2', 'a3', 'b1', 'b2'], 'an ack frees a slot')
  t.equal(pipe.acked('nope', 10), undefined)
})

t.test('after a reconnect the unacked entries go again, same ids, same order [RTY-2]', async (t) => {
  const { wire, pipe, outbox } = await setup({ a: 3 })
  pipe.open(10, 0)
  await outbox.remove((wire[0] as OutboxEntry).id)
  pipe.acked((wire[0] as OutboxEntry).id, 1)
  const firstIds = wire.slice(1).map((e) => e.id)
  pipe.close()
  t.equal(pipe.inflightCount, 0)
  wire.length = 0
  pipe.open(10, 100)
  t.same(
    wire.map((e) => e.id),
    firstIds,
  )
  t.same(wire.map(label), ['a2', 'a3'])
})

t.test(
  'SEND_OUT_OF_ORDER: waits for the rest of the conversation to drain, then resends it in order [ORD-7]',
  async (t) => {
    const { wire, pipe } = await setup({ a: 4, b: 1 })
    pipe.open(10, 0)
    const [a1, a2, a3, a4, b1] = wire as [OutboxEntry, OutboxEntry, OutboxEntry, OutboxEntry, OutboxEntry]
    // a1 was lost on the way (say), so the server expects 1 and refuses 2, 3, 4.
    pipe.acked(b1.id, 1)
    t.same(
      pipe.failed(a2.id, err(ErrorCode.SEND_OUT_OF_ORDER, { expectedSendSeq: 1, retryable: true }), 1).kind,
      'retry',
    )
    t.same(pipe.blockedConversations, ['a'])
    pipe.failed(a3.id, err(ErrorCode.SEND_OUT_OF_ORDER, { expectedSendSeq: 1, retryable: true }), 2)
    pipe.failed(a4.id, err(ErrorCode.SEND_OUT_OF_ORDER, { expectedSendSeq: 1, retryable: true }), 3)
    t.equal(wire.length, 5, 'a1 is still in flight: nothing resent yet')
    pipe.failed(a1.id, err(ErrorCode.SEND_OUT_OF_ORDER, { expectedSendSeq: 1, retryable: true }), 4)
    t.same(wire.slice(5).map(label), ['a1', 'a2', 'a3', 'a4'], 'resent from expected_send_seq, in order')
    t.same(
      wire.slice(5).map((e) => e.id),
      [a1.id, a2.id, a3.id, a4.id],
      'with the same ids',
    )
    t.same(pipe.blockedConversations, [])
  },
)

t.test('a retryable error waits for backoff and retry_after before resending [RTY-5]', async (t) => {
  const { wire, pipe } = await setup({ a: 2 })
  pipe.open(10, 0)
  const [a1, a2] = wire as [OutboxEntry, OutboxEntry]
  pipe.failed(a1.id, err(ErrorCode.RATE_LIMITED, { retryable: true, retryAfterMs: 2000 }), 100)
  pipe.failed(a2.id, err(ErrorCode.SEND_OUT_OF_ORDER, { expectedSendSeq: 1, retryable: true }), 110)
  t.equal(wire.length, 2)
  t.equal(pipe.tick(1000), 2100, 'wake at the retry_after deadline')
  t.equal(wire.length, 2)
  t.equal(pipe.tick(2100), null)
  t.same(wire.slice(2).map(label), ['a1', 'a2'])
})

t.test('INTERNAL is retried even when the server did not mark it retryable', async (t) => {
  const { wire, pipe } = await setup({ a: 1 })
  pipe.open(10, 0)
  const out = pipe.failed((wire[0] as OutboxEntry).id, err(ErrorCode.INTERNAL), 0)
  t.equal(out.kind, 'retry')
  // random 0.5 of the 500 ms first window
  t.equal(pipe.tick(0), 250)
  pipe.tick(250)
  t.equal(wire.length, 2)
})

t.test('a refused send leaves the outbox and the later ones are resent renumbered [RTY-5]', async (t) => {
  const { wire, pipe, outbox } = await setup({ a: 3 })
  pipe.open(10, 0)
  const [a1, a2, a3] = wire as [OutboxEntry, OutboxEntry, OutboxEntry]
  const out = pipe.failed(a1.id, err(ErrorCode.MESSAGE_TOO_LARGE), 0)
  t.equal(out.kind, 'rejected')
  t.equal(outbox.get(a1.id), undefined)
  pipe.failed(a2.id, err(ErrorCode.SEND_OUT_OF_ORDER, { expectedSendSeq: 1, retryable: true }), 1)
  pipe.failed(a3.id, err(ErrorCode.SEND_OUT_OF_ORDER, { expectedSendSeq: 1, retryable: true }), 2)
  t.same(
    wire.slice(3).map((e) => [e.id, e.sendSeq]),
    [
      [a2.id, 1],
      [a3.id, 2],
    ],
  )
  t.equal(pipe.failed('gone', err(ErrorCode.INTERNAL), 3).kind, 'unknown')
})

t.test('new sends of a blocked conversation wait and then go in order behind the resends', async (t) => {
  const { wire, pipe, outbox } = await setup({ a: 1 })
  pipe.open(10, 0)
  pipe.failed((wire[0] as OutboxEntry).id, err(ErrorCode.RATE_LIMITED, { retryable: true, retryAfterMs: 100 }), 0)
  const a2 = await outbox.add('a', body('later'))
  pipe.add(a2, 10)
  const b1 = await outbox.add('b', body('other'))
  pipe.add(b1, 10)
  t.same(wire.slice(1).map(label), ['b1'], 'other conversations are not held up')
  pipe.tick(500)
  t.same(wire.slice(2).map(label), ['a1', 'a2'])
})

t.test('an entry older than dedupe_window_ms is handed to onExpired instead of being resent [RTY-6]', async (t) => {
  const outbox = await Outbox.open(new MemoryClientStore(), { now: () => 1000 })
  const wire: OutboxEntry[] = []
  const pipe = new SendPipeline(outbox, (e) => wire.push(e))
  const expired: OutboxEntry[] = []
  pipe.onExpired = (e) => expired.push(e)
  const old = await outbox.add('a', body('old'))
  pipe.open(10, 1000 + 1499, 1500)
  t.same(wire.map(label), ['a1'], 'inside the window: sent')
  pipe.close()
  wire.length = 0
  pipe.open(10, 1000 + 1500, 1500)
  t.same(wire, [], 'at the window: not sent again')
  t.same(
    expired.map((e) => e.id),
    [old.id],
  )
  pipe.close()
  expired.length = 0
  pipe.open(10, 10_000_000, 0)
  t.same(wire.map(label), ['a1'], 'no dedupe_window_ms known: never expires')
  t.same(expired, [])
})
