// Broken clients for the client-conformance self-test: each is the reference
// client with one realistic fault composed in through the adapter's hooks, and
// names the client scenarios that must catch it.
import { createHash, randomBytes } from 'node:crypto'
import { MemoryClientStore } from '../../src/client/index.js'
import { CloseCode } from '../../src/gen/es/imwire/v1/control_pb.js'
import { create } from '@bufbuild/protobuf'
import { type Frame, FrameSchema } from '../../src/gen/es/imwire/v1/frame_pb.js'
import type { Connection } from '../../src/transport/index.js'
import type { AdapterHooks } from '../../src/cli/client-adapter.js'
import { ErrorCode } from '../../src/gen/es/imwire/v1/control_pb.js'
import { UpdateReason } from '../../src/gen/es/imwire/v1/conversation_pb.js'

export interface BrokenClient {
  name: string
  fault: string
  hooks: AdapterHooks
  catchers: string[]
}

/** Rewrites frames the client receives before it sees them. */
function onIncoming(conn: Connection, edit: (f: Frame) => void): Connection {
  const emit = conn.emit.bind(conn) as (ev: string, ...args: unknown[]) => boolean
  ;(conn as unknown as { emit: typeof emit }).emit = (ev, ...args) => {
    if (ev === 'frame') edit(args[0] as Frame)
    return emit(ev, ...args)
  }
  return conn
}

/** Sees (and may rewrite) frames the client sends. */
function onOutgoing(conn: Connection, edit: (f: Frame) => void): Connection {
  const send = conn.send.bind(conn)
  conn.send = (f: Frame) => {
    edit(f)
    send(f)
  }
  return conn
}

/** Drops frames the client would receive when `drop` says so (the client never sees them). */
function dropIncoming(conn: Connection, drop: (f: Frame) => boolean): Connection {
  const emit = conn.emit.bind(conn) as (ev: string, ...args: unknown[]) => boolean
  ;(conn as unknown as { emit: typeof emit }).emit = (ev, ...args) => {
    if (ev === 'frame' && drop(args[0] as Frame)) return true
    return emit(ev, ...args)
  }
  return conn
}

const deliverAck = (conversationId: string, upToSeq: bigint): Frame =>
  create(FrameSchema, { body: { case: 'deliverAck', value: { conversationId, upToSeq } } })

const hexId = (b: Uint8Array) => Buffer.from(b).toString('hex')

/** Client scenarios no broken client fails, each with the reason. */
export const NOT_CAUGHT: Record<string, string> = {}

export const BROKEN_CLIENTS: BrokenClient[] = [
  {
    name: 'new-id-per-attempt',
    fault: 'draws a fresh client_msg_id for every connection a message is sent on',
    hooks: {
      connection: (conn) => {
        const fresh = new Map<string, Uint8Array>()
        return onOutgoing(conn, (f) => {
          if (f.body.case !== 'send') return
          const key = Buffer.from(f.body.value.clientMsgId).toString('hex')
          if (!fresh.has(key)) fresh.set(key, randomBytes(16))
          f.body.value.clientMsgId = fresh.get(key) as Uint8Array
        })
      },
    },
    catchers: ['client.retry.same-id-after-drop'],
  },
  {
    name: 'resend-on-live-connection',
    fault: 'sends an unanswered Send again 500 ms later on the same, live connection',
    hooks: {
      connection: (conn) => {
        const again = (f: Frame) => {
          const t = setTimeout(() => {
            if (!conn.closed) conn.send(f)
          }, 500)
          t.unref()
        }
        const send = conn.send.bind(conn)
        conn.send = (f: Frame) => {
          send(f)
          if (f.body.case === 'send') again(f)
        }
        return conn
      },
    },
    catchers: ['client.retry.no-resend-on-live-connection'],
  },
  {
    name: 'reconnects-after-terminal',
    fault: 'starts again after any terminal close, 3509 included',
    hooks: { restartAfterTerminal: () => true },
    catchers: ['client.retry.no-reconnect-after-3509', 'client.retry.no-reconnect-after-terminal-close'],
  },
  {
    name: 'no-backoff',
    fault: 'reconnects at once after every failure (a window of 0 ms)',
    hooks: { options: (o) => ({ ...o, backoff: { baseMs: 0 } }) },
    catchers: ['client.retry.backoff-window'],
  },
  {
    name: 'fixed-delay',
    fault: 'waits a fixed ~1 s before every reconnect instead of a jittered, growing window',
    hooks: { options: (o) => ({ ...o, backoff: { baseMs: 1000, capMs: 1000, random: () => 0.999 } }) },
    catchers: ['client.retry.backoff-window'],
  },
  {
    name: 'ignores-retry-after',
    fault: 'ignores Close.retry_after_ms',
    hooks: {
      connection: (conn) =>
        onIncoming(conn, (f) => {
          if (f.body.case === 'close') f.body.value.retryAfterMs = 0
        }),
    },
    catchers: ['client.retry.reconnect-not-before-retry-after'],
  },
  {
    name: 'never-pings',
    fault: 'never sends a Ping (it still answers the server with Pongs)',
    hooks: {
      connection: (conn) => {
        const send = conn.send.bind(conn)
        conn.send = (f: Frame) => {
          if (f.body.case !== 'ping') send(f)
        }
        return conn
      },
    },
    catchers: ['client.heartbeat.pings-an-idle-connection'],
  },
  {
    name: 'every-error-retryable',
    fault: 'treats every Error answer to a Send as retryable (a refused message is never reported and retried forever)',
    hooks: {
      connection: (conn) =>
        onIncoming(conn, (f) => {
          if (f.body.case === 'error') f.body.value.retryable = true
        }),
    },
    catchers: ['client.errors.non-retryable-error-reported-and-dropped'],
  },
  {
    name: 'unknown-close-codes-reconnect',
    fault: 'reconnects after any close code it does not know, whatever its range (4500-4999 included)',
    hooks: {
      connection: (conn) =>
        onIncoming(conn, (f) => {
          if (f.body.case === 'close' && f.body.value.code >= 4000) f.body.value.code = CloseCode.GOING_AWAY
        }),
    },
    catchers: ['client.errors.deployment-close-4500-is-terminal'],
  },
  {
    name: 'unknown-close-codes-terminal',
    fault: 'gives up after any close code it does not know, whatever its range (4000-4499 included)',
    hooks: {
      connection: (conn) =>
        onIncoming(conn, (f) => {
          if (f.body.case === 'close' && f.body.value.code >= 4000) f.body.value.code = 3500
        }),
    },
    catchers: ['client.errors.deployment-close-4000-reconnects'],
  },
  {
    name: 'pings-before-welcome',
    fault: 'sends a Ping right after Hello, before Welcome',
    hooks: {
      connection: (conn) => {
        const send = conn.send.bind(conn)
        conn.send = (f: Frame) => {
          send(f)
          if (f.body.case === 'hello') send(create(FrameSchema, { body: { case: 'ping', value: { nonce: 1n } } }))
        }
        return conn
      },
    },
    catchers: ['client.handshake.nothing-but-close-before-welcome'],
  },
  {
    name: 'ignores-max-inflight-sends',
    fault: 'ignores Welcome.limits.max_inflight_sends (sends its whole outbox at once)',
    hooks: {
      connection: (conn) =>
        onIncoming(conn, (f) => {
          if (f.body.case === 'welcome' && f.body.value.limits) f.body.value.limits.maxInflightSends = 0
        }),
    },
    catchers: ['client.flow.max-inflight-sends-respected'],
  },
  {
    name: 'memory-outbox',
    fault: 'keeps its outbox only in memory (lost on restart)',
    hooks: { store: () => new MemoryClientStore() },
    catchers: ['client.outbox.survives-restart'],
  },
  {
    name: 'never-acks',
    fault: 'never sends a DeliverAck',
    hooks: {
      connection: (conn) => {
        const send = conn.send.bind(conn)
        conn.send = (f: Frame) => {
          if (f.body.case !== 'deliverAck') send(f)
        }
        return conn
      },
    },
    catchers: ['client.delivery.acks-promptly-through-a-small-window', 'client.delivery.flushes-acks-before-close'],
  },
  {
    name: 'acks-lazily',
    fault: 'coalesces DeliverAcks for 1500 ms (not 200 ms) unless half the receive window is unacknowledged',
    hooks: { options: (o) => ({ ...o, ackDelayMs: 1500 }) },
    catchers: ['client.delivery.acks-promptly-through-a-small-window'],
  },
  {
    name: 'drops-acks-on-close',
    fault: 'holds each DeliverAck 150 ms before writing it, and loses the held ones when it closes',
    hooks: {
      connection: (conn) => {
        const send = conn.send.bind(conn)
        const held = new Set<NodeJS.Timeout>()
        conn.send = (f: Frame) => {
          if (f.body.case !== 'deliverAck') return send(f)
          const t = setTimeout(() => {
            held.delete(t)
            if (!conn.closed) send(f)
          }, 150)
          held.add(t)
        }
        const close = conn.close.bind(conn)
        conn.close = (...args: Parameters<Connection['close']>) => {
          for (const t of held) clearTimeout(t)
          held.clear()
          return close(...args)
        }
        return conn
      },
    },
    catchers: ['client.delivery.flushes-acks-before-close'],
  },
  {
    name: 'acks-on-receipt',
    fault: 'acknowledges each Deliver as it arrives, even one held behind a history pull',
    hooks: {
      connection: (conn) =>
        onIncoming(conn, (f) => {
          if (f.body.case === 'deliver' && f.body.value.message)
            conn.send(deliverAck(f.body.value.message.conversationId, f.body.value.message.seq))
        }),
    },
    catchers: ['client.resume.replay-limit-pages-history'],
  },
  {
    name: 'acks-what-it-heard',
    fault:
      "acknowledges up to the highest seq it has heard of (a notice's or page's top_seq, a Deliver), not what it holds",
    hooks: {
      connection: (conn) => {
        const heard = new Map<string, bigint>()
        const hear = (c: string, s: bigint) => {
          if (s > (heard.get(c) ?? 0n)) heard.set(c, s)
        }
        onIncoming(conn, (f) => {
          const b = f.body
          if (b.case === 'conversationUpdated') hear(b.value.conversationId, b.value.topSeq)
          else if (b.case === 'historyPage') hear(b.value.conversationId, b.value.topSeq)
          else if (b.case === 'deliver' && b.value.message) hear(b.value.message.conversationId, b.value.message.seq)
        })
        return onOutgoing(conn, (f) => {
          if (f.body.case === 'deliverAck')
            f.body.value.upToSeq = heard.get(f.body.value.conversationId) ?? f.body.value.upToSeq
        })
      },
    },
    catchers: ['client.resume.replay-limit-pages-history'],
  },
  {
    name: 'ignores-replay-limit',
    fault: 'ignores REPLAY_LIMIT notices (never pages the history it was not replayed)',
    hooks: {
      connection: (conn) =>
        dropIncoming(
          conn,
          (f) => f.body.case === 'conversationUpdated' && f.body.value.reason === UpdateReason.REPLAY_LIMIT,
        ),
    },
    catchers: ['client.resume.replay-limit-pages-history'],
  },
  {
    name: 'ignores-epoch-change',
    fault: 'ignores EPOCH_CHANGED notices (keeps its position from the old epoch)',
    hooks: {
      connection: (conn) =>
        dropIncoming(
          conn,
          (f) => f.body.case === 'conversationUpdated' && f.body.value.reason === UpdateReason.EPOCH_CHANGED,
        ),
    },
    catchers: ['client.resume.epoch-changed-rereads'],
  },
  {
    name: 'unknown-update-reasons-ignored',
    fault: 'treats a ConversationUpdated reason it does not know as MEMBERS_CHANGED (no pull)',
    hooks: {
      connection: (conn) =>
        onIncoming(conn, (f) => {
          if (f.body.case === 'conversationUpdated' && f.body.value.reason > UpdateReason.EPOCH_CHANGED)
            f.body.value.reason = UpdateReason.MEMBERS_CHANGED
        }),
    },
    catchers: ['client.resume.unknown-update-reason-pulls'],
  },
  {
    name: 'gives-up-on-retryable',
    fault: 'treats an Error it has no code-specific rule for as final, whatever its retryable flag',
    hooks: {
      connection: (conn) =>
        onIncoming(conn, (f) => {
          if (f.body.case === 'error') f.body.value.retryable = false
        }),
    },
    catchers: ['client.errors.unknown-error-code-by-retryable'],
  },
  {
    name: 'ignores-error-retry-after',
    fault: 'ignores Error.retry_after_ms (retries a refused Send after its own backoff only)',
    hooks: {
      connection: (conn) =>
        onIncoming(conn, (f) => {
          if (f.body.case === 'error') f.body.value.retryAfterMs = 0
        }),
    },
    catchers: ['client.errors.retryable-error-retried-not-before-retry-after'],
  },
  {
    name: 'resends-before-in-flight-answered',
    fault: 'resends a Send refused with SEND_OUT_OF_ORDER at once, before the Sends behind it are answered',
    hooks: {
      connection: (conn) => {
        const last = new Map<string, Frame>()
        onOutgoing(conn, (f) => {
          if (f.body.case === 'send') last.set(hexId(f.body.value.clientMsgId), f)
        })
        return onIncoming(conn, (f) => {
          if (f.body.case !== 'error' || f.body.value.code !== ErrorCode.SEND_OUT_OF_ORDER) return
          const again = last.get(hexId(f.body.value.clientMsgId))
          if (again !== undefined) conn.send(again)
        })
      },
    },
    catchers: ['client.order.out-of-order-resends-from-oldest'],
  },
  {
    name: 'keeps-original-send-seq',
    fault: 'resends every message with the send_seq of its first transmission (never renumbers)',
    hooks: {
      connection: (conn) => {
        const first = new Map<string, bigint>()
        return onOutgoing(conn, (f) => {
          if (f.body.case !== 'send') return
          const k = hexId(f.body.value.clientMsgId)
          if (!first.has(k)) first.set(k, f.body.value.sendSeq)
          f.body.value.sendSeq = first.get(k) as bigint
        })
      },
    },
    catchers: ['client.order.renumbers-after-dropped-message', 'client.order.renumbers-to-expected-send-seq'],
  },
  {
    name: 'ignores-expected-send-seq',
    fault: 'ignores Error.expected_send_seq (never resyncs its send_seqs to the server)',
    hooks: {
      connection: (conn) =>
        onIncoming(conn, (f) => {
          if (f.body.case === 'error') f.body.value.expectedSendSeq = 0n
        }),
    },
    catchers: ['client.order.renumbers-to-expected-send-seq'],
  },
  {
    name: 'ignores-dedupe-window',
    fault: 'resends an unacknowledged message forever, past Welcome.limits.dedupe_window_ms',
    hooks: {
      connection: (conn) =>
        onIncoming(conn, (f) => {
          if (f.body.case === 'welcome' && f.body.value.limits) f.body.value.limits.dedupeWindowMs = 0n
        }),
    },
    catchers: ['client.retry.stops-resending-after-dedupe-window'],
  },
  {
    name: 'never-drops-silent-link',
    fault: 'keeps a connection on which nothing arrives for a minute (no receive timeout)',
    hooks: { options: (o) => ({ ...o, deadMarginMs: 60_000 }) },
    catchers: ['client.heartbeat.drops-a-silent-link'],
  },
  {
    name: 'waits-forever-for-welcome',
    fault: 'waits two minutes for a Welcome before giving the connection up',
    hooks: { options: (o) => ({ ...o, handshakeTimeoutMs: 120_000 }) },
    catchers: ['client.handshake.gives-up-without-welcome'],
  },
  {
    name: 'counter-ids',
    fault: 'numbers client_msg_ids with a counter (16 bytes, unique, not random)',
    hooks: {
      options: (o) => {
        let n = 0n
        return {
          ...o,
          randomBytes: (len: number) => {
            n++
            const b = Buffer.alloc(len)
            b.writeBigUInt64BE(n, len - 8)
            return b
          },
        }
      },
    },
    catchers: ['client.outbox.ids-random-and-unique'],
  },
  {
    name: 'clock-ids',
    fault: 'derives each client_msg_id from the millisecond clock (hashed), so sends in one millisecond share an id',
    hooks: {
      options: (o) => ({
        ...o,
        randomBytes: (len: number) => createHash('sha256').update(String(Date.now())).digest().subarray(0, len),
      }),
    },
    catchers: ['client.outbox.ids-random-and-unique'],
  },
]
