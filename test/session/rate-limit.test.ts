// Per-user rate limit of Sends and requests, and the bound on requests in
// progress per connection [SEC-6], on a fake clock: the limiter alone, then
// through the session, where the check sits in the order of checks ([SND-6]
// after step 2, [ERR-13] after step 1).
import t from 'tap'
import { ConversationKind } from '../../src/gen/es/imwire/v1/conversation_pb.js'
import { ErrorCode } from '../../src/gen/es/imwire/v1/control_pb.js'
import { UserRateLimiter } from '../../src/session/rate-limit.js'
import { REQUESTS_IN_PROGRESS_RETRY_MS } from '../../src/session/requests.js'
import { type Client, newClientMsgId, World } from './harness.js'

t.test('token bucket: burst, retry_after_ms until the next token, refill, per user', async (t) => {
  const rl = new UserRateLimiter({ ratePerSec: 10, burst: 3, maxUsers: 100 })
  const t0 = 1_000_000
  t.same([rl.take('a', t0), rl.take('a', t0), rl.take('a', t0)], [0, 0, 0], 'the burst passes')
  t.equal(rl.take('a', t0), 100, 'empty: one token in 100 ms at 10/s')
  t.equal(rl.take('a', t0 + 40), 60, 'refused takes cost nothing; 60 ms left')
  t.equal(rl.take('b', t0), 0, 'another user has a bucket of its own')
  t.equal(rl.take('a', t0 + 100), 0, 'refilled one token')
  t.equal(rl.take('a', t0 + 100), 100)
  t.same([rl.take('a', t0 + 10_000), rl.take('a', t0 + 10_000), rl.take('a', t0 + 10_000)], [0, 0, 0], 'full again')
  t.equal(rl.take('a', t0 + 10_000), 100, 'never more than the burst')
})

t.test('token bucket: idle users are forgotten, and the number of users is bounded', async (t) => {
  const rl = new UserRateLimiter({ ratePerSec: 10, burst: 2, maxUsers: 50 })
  const t0 = 1_000_000
  for (let i = 0; i < 40; i++) rl.take(`u${i}`, t0)
  t.equal(rl.size, 40)
  // 200 ms refill; the sweep runs at most once a second.
  rl.take('late', t0 + 1000)
  t.equal(rl.size, 1, 'every bucket that had refilled is dropped; only the new one stays')
  for (let i = 0; i < 500; i++) rl.take(`v${i}`, t0 + 1000)
  t.ok(rl.size <= 50, `never more than maxUsers (${rl.size})`)
  t.throws(() => new UserRateLimiter({ ratePerSec: 0, burst: 1, maxUsers: 1 }), RangeError)
})

function world(opts: { ratePerSec?: number; burst?: number; maxRequestsInProgress?: number }): World {
  const w = new World()
  const rl = new UserRateLimiter({ ratePerSec: opts.ratePerSec ?? 10, burst: opts.burst ?? 3, maxUsers: 100 })
  const base = w.config.bind(w)
  w.config = () => ({
    ...base(),
    rateLimit: (userId, now) => rl.take(userId, now),
    maxRequestsInProgress: opts.maxRequestsInProgress,
  })
  return w
}

function send(c: Client, over: Record<string, unknown> = {}): Uint8Array {
  const clientMsgId = newClientMsgId()
  c.send({ case: 'send', value: { clientMsgId, conversationId: 'g', body: Uint8Array.of(1), ...over } })
  return clientMsgId
}

const answers = (c: Client) =>
  c.take().map((f) => (f.body.case === 'error' ? ErrorCode[f.body.value.code] : (f.body.case as string)))

t.test(
  'a user over the rate gets RATE_LIMITED with retry_after_ms, retryable, and no trace [SEC-6] [ERR-8]',
  async (t) => {
    const w = world({ ratePerSec: 10, burst: 3 })
    const alice = w.connect('alice', 'a1')
    alice.take()
    alice.send({
      case: 'createConversation',
      value: { requestId: 1, conversationId: 'g', kind: ConversationKind.GROUP },
    })
    send(alice, { sendSeq: 1n })
    send(alice, { sendSeq: 2n })
    t.same(answers(alice), ['conversationResult', 'sendAck', 'sendAck'], 'three tokens: one request, two Sends')
    const limited = send(alice, { sendSeq: 3n })
    const [f] = alice.take()
    t.equal(f?.body.case, 'error')
    if (f?.body.case !== 'error') return
    const e = f.body.value
    t.same([e.code, e.retryable, e.retryAfterMs, e.clientMsgId], [ErrorCode.RATE_LIMITED, true, 100, limited])
    // Nothing used: after the advised wait the same send_seq commits with the next seq. [SND-8]
    w.now += e.retryAfterMs
    send(alice, { sendSeq: 3n })
    const [ack] = alice.of('sendAck')
    t.equal(ack?.seq, 3n)
  },
)

t.test('Send: RATE_LIMITED comes after syntax and size, before membership [SND-6]', async (t) => {
  const w = world({ ratePerSec: 1, burst: 1 })
  const alice = w.connect('alice', 'a1')
  alice.take()
  send(alice, { conversationId: 'nope' }) // the one token: CONVERSATION_NOT_FOUND
  send(alice, { clientMsgId: new Uint8Array(3) }) // step 1
  send(alice, { body: new Uint8Array(w.limits.maxMessageBytes + 1) }) // step 2
  send(alice, { conversationId: 'nope' }) // step 3 would say CONVERSATION_NOT_FOUND
  t.same(answers(alice), ['CONVERSATION_NOT_FOUND', 'BAD_REQUEST', 'MESSAGE_TOO_LARGE', 'RATE_LIMITED'])
})

t.test('requests: RATE_LIMITED after request_id, echoing it; per user, across devices [ERR-13] [SEC-6]', async (t) => {
  const w = world({ ratePerSec: 1, burst: 1 })
  const a1 = w.connect('alice', 'a1')
  const a2 = w.connect('alice', 'a2')
  const bob = w.connect('bob', 'b1')
  for (const c of [a1, a2, bob]) c.take()
  a1.send({ case: 'listConversations', value: { requestId: 7 } })
  t.same(answers(a1), ['conversationList'])
  a2.send({ case: 'listConversations', value: { requestId: 0 } })
  a2.send({ case: 'historyRequest', value: { requestId: 8, conversationId: '' } })
  const [zero, limited] = a2.of('error')
  t.same([zero?.code, zero?.requestId], [ErrorCode.BAD_REQUEST, 0], 'step 1 first')
  t.same(
    [limited?.code, limited?.requestId, limited?.retryable, limited?.retryAfterMs],
    [ErrorCode.RATE_LIMITED, 8, true, 1000],
    'the other device shares the bucket; before the syntax check (step 2)',
  )
  bob.send({ case: 'listConversations', value: { requestId: 9 } })
  t.same(answers(bob), ['conversationList'], 'another user is not affected')
  w.now += 1000
  a2.send({ case: 'listConversations', value: { requestId: 10 } })
  t.same(answers(a2), ['conversationList'], 'refilled')
})

t.test('a connection with too many requests in progress gets RATE_LIMITED until one finishes [SEC-6]', async (t) => {
  const w = world({ ratePerSec: 1000, burst: 1000, maxRequestsInProgress: 2 })
  const alice = w.connect('alice', 'a1')
  alice.take()
  w.holdStore = true
  for (const requestId of [1, 2, 3]) alice.send({ case: 'listConversations', value: { requestId } })
  const [e] = alice.of('error')
  t.same(
    [e?.code, e?.requestId, e?.retryable, e?.retryAfterMs],
    [ErrorCode.RATE_LIMITED, 3, true, REQUESTS_IN_PROGRESS_RETRY_MS],
  )
  send(alice, { conversationId: 'nope' }) // Sends have their own bound [FLW-2]
  w.runStore()
  t.same(answers(alice), ['conversationList', 'conversationList', 'CONVERSATION_NOT_FOUND'])
  for (const requestId of [4, 5]) alice.send({ case: 'listConversations', value: { requestId } })
  w.runStore()
  t.same(answers(alice), ['conversationList', 'conversationList'], 'the bound frees as answers go out')
})
