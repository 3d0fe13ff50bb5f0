// A scripted server for client tests over the in-memory transport: enough of
// the protocol to drive the client (handshake, acks with dense seqs, dedupe,
// send_seq checks, history, read positions), with hooks a test uses to
// misbehave on purpose. Like a real server it enables only the features it
// offers and closes with 3511 on a feature frame that was not enabled [RD-1].
import { create, type MessageInitShape } from '@bufbuild/protobuf'
import { FEATURE_OF_BODY, type FrameBodyCase } from '../../src/codec/index.js'
import { CloseCode, ErrorCode } from '../../src/gen/es/imwire/v1/control_pb.js'
import { type Frame, FrameSchema } from '../../src/gen/es/imwire/v1/frame_pb.js'
import type { Hello } from '../../src/gen/es/imwire/v1/handshake_pb.js'
import type { Message, Send } from '../../src/gen/es/imwire/v1/messaging_pb.js'
import { type Connection, createMemoryPair } from '../../src/transport/index.js'

export interface StoredMessage {
  seq: number
  id: string
  sender: string
  send: Send
}

export const frame = (body: MessageInitShape<typeof FrameSchema>['body']): Frame => create(FrameSchema, { body })

export class FakePeer {
  /** Every connection the client opened, newest last. */
  readonly conns: Connection[] = []
  /** Every frame received, with the connection index. */
  readonly received: Array<{ conn: number; frame: Frame }> = []
  readonly hellos: Hello[] = []
  readonly messages = new Map<string, StoredMessage[]>()
  private readonly dedupe = new Map<string, StoredMessage>()
  private readonly lastSendSeq = new Map<string, number>()
  /** Return a Frame (or null for no answer) to override the default answer to a Send. */
  onSend: ((send: Send, conn: Connection) => Frame | null | undefined) | null = null
  /** Extra frames sent between Welcome and ReplayComplete. */
  replay: Frame[] = []
  heartbeatMs = 30_000
  userId = 'alice'
  /** Features this peer offers; Welcome lists those the Hello asked for. [HS-5] */
  offer: string[] = []
  /** Features enabled per connection index. */
  readonly enabled: string[][] = []
  /** Feature frames received on a connection that had not enabled the feature. */
  readonly violations: Frame[] = []
  /** The user's read positions, by conversation ([RD-2]); MarkRead moves them. */
  readonly readSeqs = new Map<string, number>()
  /** Answer a feature request (or historyRequest) instead of the default; null = no answer. */
  onRequest: ((f: Frame, conn: Connection) => Frame | null | undefined) | null = null
  private waiters: Array<() => void> = []

  /** The client's connect option. */
  connect = async (): Promise<Connection> => {
    const [client, server] = createMemoryPair()
    const index = this.conns.length
    this.conns.push(server)
    server.on('frame', (f) => {
      this.received.push({ conn: index, frame: f })
      this.handle(server, f)
      this.notify()
    })
    this.notify()
    return client
  }

  get last(): Connection {
    return this.conns[this.conns.length - 1] as Connection
  }

  framesOf(kind: Frame['body']['case'], conn?: number): Frame[] {
    return this.received
      .filter((r) => r.frame.body.case === kind && (conn === undefined || r.conn === conn))
      .map((r) => r.frame)
  }

  /** Wait (bounded) until pred holds; re-checked whenever a frame arrives or a connection opens. */
  async until(pred: () => boolean, what = 'condition', timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await new Promise<void>((r) => {
        this.waiters.push(r)
        setTimeout(r, 20)
      })
    }
  }

  private notify(): void {
    const ws = this.waiters
    this.waiters = []
    for (const w of ws) w()
  }

  deliver(
    conn: Connection,
    conversationId: string,
    seq: number,
    opts: { replayed?: boolean; epoch?: number } = {},
  ): void {
    conn.send(
      frame({
        case: 'deliver',
        value: {
          message: this.message(conversationId, seq, 'bob', 'bob-phone'),
          epoch: BigInt(opts.epoch ?? 1),
          replayed: opts.replayed ?? false,
        },
      }),
    )
  }

  message(conversationId: string, seq: number, sender: string, device: string): Message {
    return {
      $typeName: 'imwire.v1.Message',
      conversationId,
      seq: BigInt(seq),
      messageId: `${conversationId}/${seq}`,
      senderUserId: sender,
      senderDeviceId: device,
      clientMsgId: new Uint8Array(16),
      serverTimeMs: 1n,
      contentType: '',
      body: new TextEncoder().encode(`m${seq}`),
    }
  }

  /** Current read state of a conversation, as a server computes it. [RD-5] */
  readState(conversationId: string) {
    const all = this.messages.get(conversationId) ?? []
    const readSeq = this.readSeqs.get(conversationId) ?? 0
    return {
      conversationId,
      epoch: 1n,
      topSeq: BigInt(all.length),
      readSeq: BigInt(readSeq),
      unreadCount: BigInt(all.filter((m) => m.seq > readSeq && m.sender !== this.userId).length),
    }
  }

  private handle(conn: Connection, f: Frame): void {
    const b = f.body
    const feature = FEATURE_OF_BODY[b.case as FrameBodyCase] ?? null
    const index = this.conns.indexOf(conn)
    const historyTime = b.case === 'historyRequest' && b.value.anchorTimeMs !== 0n ? 'history-time' : null
    const needs = feature ?? historyTime
    if (needs !== null && !(this.enabled[index] ?? []).includes(needs)) {
      this.violations.push(f)
      // [RD-1] as a server would; history-time alone is only an ignored field there.
      if (feature !== null) conn.close(CloseCode.UNSUPPORTED_FRAME, `feature ${feature} not enabled`)
      if (feature !== null) return
    }
    if (b.case !== 'hello' && this.onRequest !== null && (needs !== null || b.case === 'historyRequest')) {
      const custom = this.onRequest(f, conn)
      if (custom === null) return
      if (custom !== undefined) {
        conn.send(custom)
        return
      }
    }
    switch (b.case) {
      case 'markRead': {
        const top = (this.messages.get(b.value.conversationId) ?? []).length
        const up = Number(b.value.upToSeq)
        if (up > top) {
          conn.send(frame({ case: 'error', value: { code: ErrorCode.BAD_REQUEST, requestId: b.value.requestId } }))
          return
        }
        const moved = b.value.epoch === 1n && up > (this.readSeqs.get(b.value.conversationId) ?? 0)
        if (moved) this.readSeqs.set(b.value.conversationId, up)
        conn.send(
          frame({
            case: 'markReadResult',
            value: { requestId: b.value.requestId, state: this.readState(b.value.conversationId), moved },
          }),
        )
        return
      }
      case 'syncRequest':
        // Nothing changed, unless a test scripts onRequest.
        conn.send(
          frame({
            case: 'syncPage',
            value: { requestId: b.value.requestId, syncPoint: b.value.since, hasMore: false },
          }),
        )
        return
      case 'inboxRequest':
        conn.send(frame({ case: 'inboxPage', value: { requestId: b.value.requestId, hasMore: false } }))
        return
      case 'hello': {
        this.hellos.push(b.value)
        const features = this.offer.filter((x) => b.value.features.includes(x))
        this.enabled[index] = features
        conn.send(
          frame({
            case: 'welcome',
            value: {
              version: 1,
              sessionId: `s${this.conns.length}`,
              userId: this.userId,
              deviceId: b.value.deviceId,
              heartbeatMs: this.heartbeatMs,
              limits: { maxInflightSends: 256, receiveWindow: 256, maxMessageBytes: 65536, historyPageMax: 100 },
              features,
            },
          }),
        )
        for (const r of this.replay) conn.send(r)
        conn.send(frame({ case: 'replayComplete', value: {} }))
        return
      }
      case 'send': {
        const custom = this.onSend?.(b.value, conn)
        if (custom === null) return
        conn.send(custom ?? this.commit(b.value))
        return
      }
      case 'ping':
        conn.send(frame({ case: 'pong', value: { nonce: b.value.nonce } }))
        return
      case 'historyRequest': {
        const all = this.messages.get(b.value.conversationId) ?? []
        const after = Number(b.value.anchorSeq)
        const limit = b.value.limit || 100
        const page = all.filter((m) => m.seq > after).slice(0, limit)
        conn.send(
          frame({
            case: 'historyPage',
            value: {
              requestId: b.value.requestId,
              conversationId: b.value.conversationId,
              epoch: 1n,
              topSeq: BigInt(all.length),
              messages: page.map((m) => ({
                ...this.message(b.value.conversationId, m.seq, m.sender, 'bob-phone'),
                body: m.send.body,
              })),
              hasMore: all.filter((m) => m.seq > after).length > limit,
            },
          }),
        )
        return
      }
      case 'createConversation':
        if (b.value.conversationId === 'taken') {
          conn.send(frame({ case: 'error', value: { code: ErrorCode.ALREADY_EXISTS, requestId: b.value.requestId } }))
          return
        }
        conn.send(
          frame({
            case: 'conversationResult',
            value: {
              requestId: b.value.requestId,
              conversation: {
                conversationId: b.value.conversationId,
                kind: b.value.kind,
                epoch: 1n,
                memberUserIds: [this.userId, ...b.value.memberUserIds],
                ownerUserId: this.userId,
              },
            },
          }),
        )
        return
      default:
        return
    }
  }

  /** Commit like a server: dedupe first, then the send_seq check [ORD-2], dense seqs. */
  commit(s: Send): Frame {
    const key = Buffer.from(s.clientMsgId).toString('hex')
    const dup = this.dedupe.get(key)
    if (dup !== undefined) return this.ack(s, dup, true)
    const seqKey = s.conversationId
    const last = this.lastSendSeq.get(seqKey) ?? 0
    const sendSeq = Number(s.sendSeq)
    if (sendSeq !== 0 && sendSeq > last + 1) {
      return frame({
        case: 'error',
        value: {
          code: ErrorCode.SEND_OUT_OF_ORDER,
          retryable: true,
          clientMsgId: s.clientMsgId,
          expectedSendSeq: BigInt(last + 1),
        },
      })
    }
    if (sendSeq !== 0 && sendSeq <= last) {
      return frame({ case: 'error', value: { code: ErrorCode.SEND_SEQ_REUSED, clientMsgId: s.clientMsgId } })
    }
    if (sendSeq !== 0) this.lastSendSeq.set(seqKey, sendSeq)
    const list = this.messages.get(s.conversationId) ?? []
    this.messages.set(s.conversationId, list)
    const m: StoredMessage = {
      seq: list.length + 1,
      id: `${s.conversationId}/${list.length + 1}`,
      sender: this.userId,
      send: s,
    }
    list.push(m)
    this.dedupe.set(key, m)
    return this.ack(s, m, false)
  }

  private ack(s: Send, m: StoredMessage, duplicate: boolean): Frame {
    return frame({
      case: 'sendAck',
      value: {
        clientMsgId: s.clientMsgId,
        conversationId: s.conversationId,
        seq: BigInt(m.seq),
        messageId: m.id,
        serverTimeMs: 1n,
        epoch: 1n,
        duplicate,
      },
    })
  }

  closeLast(code: CloseCode, retryAfterMs = 0): void {
    this.last.close(code, 'test', retryAfterMs)
  }
}
