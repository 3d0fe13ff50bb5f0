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

const ID2 = Buffer.alloc(16, 2).toString('base64')
const deliverOf = (seq: string, replayed: boolean) => ({
  deliver: {
    message: {
      conversationId: 'g',
      seq,
      messageId: `m${seq}`,
      senderUserId: 'alice',
      senderDeviceId: 'd',
      clientMsgId: seq === '1' ? ID : ID2,
      serverTimeMs: '5',
      body: 'aGk=',
    },
    epoch: '1',
    replayed,
  },
})

/**
 * Seq 1 acknowledged before bob's second device says Hello; seq 2 sent after
 * its Hello and acknowledged before its Welcome is observed, so the server
 * may have committed it on either side of the replay boundary [RSM-1].
 */
function aroundTheBoundary(): ImwireModel {
  const m = session()
  m.clientFrame('a', { send: { clientMsgId: ID, conversationId: 'g', body: 'aGk=' } })
  t.equal(m.observe('a', { sendAck: { ...ack('1').sendAck, messageId: 'm1' } }), null)
  t.equal(m.observe('b', { deliver: { ...deliverOf('1', false).deliver } }), null)
  m.open('b2')
  m.clientFrame('b2', { hello: { versions: [1], token: 'ok.bob', deviceId: 'e', heartbeatMs: 300000 } })
  m.clientFrame('a', { send: { clientMsgId: ID2, conversationId: 'g', body: 'aGk=' } })
  t.equal(m.observe('a', { sendAck: { ...ack('2').sendAck, clientMsgId: ID2, messageId: 'm2' } }), null)
  t.equal(m.observe('b', deliverOf('2', false)), null)
  const welcome = { version: 1, userId: 'bob', deviceId: 'e', heartbeatMs: 300000, sessionId: 's-b2' }
  t.equal(m.observe('b2', { welcome: { ...welcome, limits: { ...LIMITS, maxFrameBytes: 1048576 } } }), null)
  return m
}

t.test('a message committed while Welcome was on its way may come replayed or live, never both', async (t) => {
  const replayed = aroundTheBoundary()
  t.equal(replayed.observe('b2', deliverOf('1', true)), null)
  t.equal(replayed.observe('b2', deliverOf('2', true)), null)
  t.equal(replayed.observe('b2', { replayComplete: { delivered: 2 } }), null)
  t.same(replayed.missing(), [])

  const live = aroundTheBoundary()
  t.equal(live.observe('b2', deliverOf('1', true)), null)
  t.equal(live.observe('b2', { replayComplete: { delivered: 1 } }), null)
  t.equal(live.missing()[0]?.requirement, 'RSM-7', 'seq 2 is owed live once the replay ended without it')
  t.equal(live.observe('b2', deliverOf('2', true))?.requirement, 'RSM-7', 'not marked replayed after ReplayComplete')
  t.equal(live.observe('b2', deliverOf('2', false)), null)
  t.equal(live.observe('b2', deliverOf('2', false))?.requirement, 'DLV-1', 'and only once')
})

t.test('a message acknowledged before the Hello must be replayed before ReplayComplete [RSM-1]', async (t) => {
  const m = aroundTheBoundary()
  t.equal(m.observe('b2', { replayComplete: { delivered: 0 } })?.requirement, 'RSM-1', 'the replay still owes seq 1')
  t.equal(m.observe('b2', deliverOf('1', false))?.requirement, 'RSM-1', 'a live copy of it is not the replay')
})

t.test('a message sent after Welcome was observed comes live after ReplayComplete [RSM-7]', async (t) => {
  const m = aroundTheBoundary()
  const ID3 = Buffer.alloc(16, 3).toString('base64')
  m.clientFrame('a', { send: { clientMsgId: ID3, conversationId: 'g', body: 'aGk=' } })
  t.equal(m.observe('b2', deliverOf('1', true)), null)
  t.equal(m.observe('b2', deliverOf('2', true)), null)
  const third = { deliver: { ...deliverOf('3', true).deliver } }
  third.deliver.message = { ...third.deliver.message, clientMsgId: ID3, messageId: 'm3' }
  t.equal(m.observe('b2', third)?.requirement, 'HS-11', 'not replayed: it is above the boundary')
})

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
