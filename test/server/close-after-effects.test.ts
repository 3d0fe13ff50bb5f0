// [ERR-15] A Close caused by what a connection sent goes out only once the
// frames it sent before have taken effect: a connection opened after the
// Close (to this server, or in a cluster to another node) sees them. Here
// the store answers slowly; the Close must not overtake the commit.
import t from 'tap'
import { CloseCode } from '../../src/gen/es/imwire/v1/control_pb.js'
import { ConversationKind } from '../../src/gen/es/imwire/v1/conversation_pb.js'
import { startServer } from '../../src/server/server.js'
import { createMemoryStore } from '../../src/server/store/sqlite-store.js'
import type { Store } from '../../src/server/store/store.js'
import type { ResultOf, StoreOp } from '../../src/session/store-ops.js'
import { Peer } from './peer.js'

const SECRET = 'close-after-effects'

/** A store whose Sends take 300 ms to be answered, recording when each answer leaves. */
function slowSends(inner: Store, answered: number[]): Store {
  return {
    kind: inner.kind,
    run<O extends StoreOp>(op: O): Promise<ResultOf<O>> {
      const p = inner.run(op)
      if (op.op !== 'send') return p
      return p.then(
        (r) =>
          new Promise((resolve) =>
            setTimeout(() => {
              answered.push(Date.now())
              resolve(r)
            }, 300),
          ),
      )
    },
    idle: () => inner.idle(),
    close: () => inner.close(),
  }
}

/** The frame after the Send that ends the connection, and the code it closes with. */
const violations = [
  {
    what: 'a frame with no body',
    code: CloseCode.UNSUPPORTED_FRAME,
    write: (p: Peer) => p.send({ case: undefined }),
  },
  {
    // Bytes that are no Frame: field 1 (length-delimited) whose length varint
    // is cut off inside a complete frame. The codec rejects them, not the
    // session; the connection's own close must wait too.
    what: 'malformed bytes',
    code: CloseCode.MALFORMED_FRAME,
    write: (p: Peer, kind: 'tcp' | 'ws') =>
      p.conn.sendRaw(kind === 'tcp' ? new Uint8Array([2, 0x0a, 0xff]) : new Uint8Array([0x0a, 0xff])),
  },
]

for (const kind of ['tcp', 'ws'] as const)
  for (const v of violations)
    t.test(`${kind}: the Close for ${v.what} waits for the Send before it`, async (t) => {
      const answered: number[] = []
      const server = await startServer({
        store: slowSends(createMemoryStore(), answered),
        tokenSecret: SECRET,
        tcp: { host: '127.0.0.1', port: 0 },
        ws: { host: '127.0.0.1', port: 0, path: '/imwire' },
      })
      t.teardown(() => server.shutdown({ retryAfterMs: 1000 }))
      const a = await Peer.open(kind, server)
      await a.login(SECRET, 'ann', 'a1')
      a.send({
        case: 'createConversation',
        value: { requestId: 1, conversationId: 'g', kind: ConversationKind.GROUP, memberUserIds: [] },
      })
      await a.expect('conversationResult')
      a.send({
        case: 'send',
        value: {
          clientMsgId: new Uint8Array(16).fill(7),
          conversationId: 'g',
          contentType: 't',
          body: new Uint8Array([1]),
        },
      })
      v.write(a, kind)
      const code = await a.expectClose()
      const closedAt = Date.now()
      t.equal(code, v.code, `closed for ${v.what}`)
      t.equal(answered.length, 1, 'the Send before it had taken effect when the Close arrived')
      t.ok((answered[0] ?? Infinity) <= closedAt)
      const b = await Peer.open(kind, server)
      await b.login(SECRET, 'ann', 'a2')
      b.send({ case: 'historyRequest', value: { requestId: 2, conversationId: 'g' } })
      const page = await b.expect('historyPage')
      t.equal(page.messages.length, 1, 'a connection opened after the Close sees the message')
    })
