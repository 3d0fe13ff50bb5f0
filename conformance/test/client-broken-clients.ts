// Broken clients for the client-conformance self-test: each is the reference
// client with one realistic fault composed in through the adapter's hooks, and
// names the client scenarios that must catch it.
import { randomBytes } from 'node:crypto'
import { MemoryClientStore } from '../../src/client/index.js'
import { CloseCode } from '../../src/gen/es/imwire/v1/control_pb.js'
import { create } from '@bufbuild/protobuf'
import { type Frame, FrameSchema } from '../../src/gen/es/imwire/v1/frame_pb.js'
import type { Connection } from '../../src/transport/index.js'
import type { AdapterHooks } from '../../src/cli/client-adapter.js'

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
]
