// The model judges frames: it accepts what the spec allows (any order across
// conversations, a duplicate SendAck with the original values) and names the
// requirement a wrong frame breaks.
import t from 'tap'
import { ImwireModel } from '../model/index.js'

const LIMITS = {
  maxMessageBytes: 65536,
  replayLimit: 500,
  historyPageMax: 100,
  maxGroupMembers: 1000,
  receiveWindow: 256,
}
const ID = Buffer.alloc(16, 1).toString('base64')

function session(): ImwireModel {
  const m = new ImwireModel({ durable: true, tokenUser: (tok) => (tok.startsWith('ok.') ? tok.slice(3) : null) })
  for (const [conn, user] of [
    ['a', 'alice'],
    ['b', 'bob'],
  ] as const) {
    m.open(conn)
    m.clientFrame(conn, { hello: { versions: [1], token: `ok.${user}`, deviceId: 'd', heartbeatMs: 300000 } })
    t.equal(
      m.observe(conn, {
        welcome: {
          version: 1,
          userId: user,
          deviceId: 'd',
          heartbeatMs: 300000,
          sessionId: `s-${conn}`,
          limits: { ...LIMITS, maxFrameBytes: 1048576 },
        },
      }),
      null,
    )
    t.equal(m.observe(conn, { replayComplete: { delivered: '0', pullRequired: 0 } }), null)
  }
  m.clientFrame('a', {
    createConversation: { requestId: 1, conversationId: 'g', kind: 'CONVERSATION_KIND_GROUP', memberUserIds: ['bob'] },
  })
  const info = {
    conversationId: 'g',
    kind: 'CONVERSATION_KIND_GROUP',
    epoch: '1',
    topSeq: '0',
    cursor: '0',
    memberUserIds: ['alice', 'bob'],
    ownerUserId: 'alice',
  }
  t.equal(m.observe('a', { conversationResult: { requestId: 1, conversation: info } }), null)
  t.equal(
    m.observe('b', {
      conversationUpdated: {
        conversationId: 'g',
        reason: 'UPDATE_REASON_JOINED',
        epoch: '1',
        topSeq: '0',
        cursor: '0',
      },
    }),
    null,
  )
  return m
}

const ack = (seq: string, dup = false) => ({
  sendAck: {
    clientMsgId: ID,
    conversationId: 'g',
    seq,
    messageId: 'm1',
    serverTimeMs: '5',
    epoch: '1',
    duplicate: dup,
  },
})

t.test('a retried Send is answered with the original values and not delivered again', async (t) => {
  const m = session()
  m.clientFrame('a', { send: { clientMsgId: ID, conversationId: 'g', body: 'aGk=' } })
  t.equal(m.observe('a', ack('1')), null)
  t.equal(m.missing()[0]?.requirement, 'FAN-1', 'bob is owed the Deliver')
  const deliver = {
    deliver: {
      message: {
        conversationId: 'g',
        seq: '1',
        messageId: 'm1',
        senderUserId: 'alice',
        senderDeviceId: 'd',
        clientMsgId: ID,
        serverTimeMs: '5',
        body: 'aGk=',
      },
      epoch: '1',
    },
  }
  t.equal(m.observe('b', deliver), null)
  m.clientFrame('a', { send: { clientMsgId: ID, conversationId: 'g', body: 'aGk=' } })
  t.equal(m.observe('a', ack('2'))?.requirement, 'DUP-2', 'a second seq for a retry breaks DUP-2')
  t.equal(m.observe('b', deliver)?.requirement, 'DLV-1', 'the same seq twice breaks DLV-1')
  t.same(
    m.missing().map((v) => v.requirement),
    ['DUP-2'],
    'the duplicate SendAck is still owed',
  )
  t.equal(m.observe('a', ack('1', true)), null)
  t.same(m.missing(), [])
})

t.test('a refused Send leaves no trace and is answered in order', async (t) => {
  const m = session()
  m.clientFrame('b', { send: { clientMsgId: ID, conversationId: 'nope', body: '' } })
  m.clientFrame('b', { send: { clientMsgId: ID, conversationId: 'g', sendSeq: '2', body: '' } })
  t.equal(
    m.observe('b', {
      error: { code: 'ERROR_CODE_SEND_OUT_OF_ORDER', retryable: true, clientMsgId: ID, expectedSendSeq: '1' },
    })?.requirement,
    'SND-2',
    'answers come in Send order',
  )
  t.equal(m.observe('b', { error: { code: 'ERROR_CODE_CONVERSATION_NOT_FOUND', clientMsgId: ID } }), null)
  t.equal(
    m.observe('b', {
      error: { code: 'ERROR_CODE_SEND_OUT_OF_ORDER', retryable: true, clientMsgId: ID, expectedSendSeq: '1' },
    }),
    null,
  )
  t.equal(m.world.top('g'), 0)
})

t.test(
  'a notice to a device that is not concerned breaks CNV-6; a Close while nothing is wrong breaks ERR-12',
  async (t) => {
    const m = session()
    t.equal(
      m.observe('a', { conversationUpdated: { conversationId: 'g', reason: 'UPDATE_REASON_JOINED' } })?.requirement,
      'CNV-6',
    )
    t.equal(m.observe('b', { close: { code: 'CLOSE_CODE_PROTOCOL_ERROR' } })?.requirement, 'ERR-12')
  },
)

t.test(
  "a Welcome answering a small requested window does not lower the server's window the model simulates",
  async (t) => {
    const m = session()
    m.open('c')
    m.clientFrame('c', {
      hello: { versions: [1], token: 'ok.carol', deviceId: 'd', heartbeatMs: 300000, receiveWindow: 2 },
    })
    const welcome = {
      welcome: {
        version: 1,
        userId: 'carol',
        deviceId: 'd',
        heartbeatMs: 300000,
        sessionId: 's-c',
        limits: { ...LIMITS, receiveWindow: 2, maxFrameBytes: 1048576 },
      },
    }
    t.equal(m.observe('c', welcome), null)
    t.equal(
      m.knownLimits()?.receiveWindow,
      LIMITS.receiveWindow,
      '[FLW-5] 2 is min(requested, maximum), not the maximum',
    )
  },
)
