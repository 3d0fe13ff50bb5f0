// The kit as a server for a client under test: a TCP (or WebSocket) listener on an ephemeral
// port that records every connection and frame with its arrival time, answers
// Ping by itself (so liveness never depends on the script), and otherwise
// does only what the scenario's steps tell it to.
import { create } from '@bufbuild/protobuf'
import { encodeFrame } from '../../src/codec/index.js'
import { type Frame, FrameSchema } from '../../src/gen/es/imwire/v1/frame_pb.js'
import { type Connection, type Listener, listenTcp, listenWs } from '../../src/transport/index.js'
import type { Transcript } from '../engine/transcript.js'
import { frameToJson } from '../judge/proto-json.js'

export interface ReceivedFrame {
  frame: Frame
  at: number
}

export interface ScriptedConnection {
  /** 1-based, in accept order. */
  index: number
  conn: Connection
  acceptedAt: number
  /** When it ended (either side), or null while open. */
  closedAt: number | null
  frames: ReceivedFrame[]
  /** How many of `frames` steps have consumed. */
  cursor: number
  /** When the kit last sent a frame on it (Pongs included), or null. */
  lastSentAt: number | null
  /** Per-kind cursors of nextFrameOf (steps that take one kind of frame and leave the rest). */
  kindCursors: Map<string, number>
  /** A `silent` step ran: the kit answers nothing any more, not even Ping. */
  silent: boolean
}

export class ScriptedServer {
  readonly connections: ScriptedConnection[] = []
  private listener: Listener | null = null
  private wake: Array<() => void> = []
  private accepted = 0

  constructor(
    private readonly now: () => number,
    private readonly transcript: Transcript,
  ) {}

  /** Sees every frame from a client as it arrives, before any step: judges that hold at all times. */
  onFrame: ((c: ScriptedConnection, f: Frame) => void) | null = null

  /** The URL clients connect to, once started. */
  url = ''

  /** Listens on TCP, or on WebSocket (subprotocol imwire.v1, path /imwire [FRM-2]). */
  async start(transport: 'tcp' | 'ws' = 'tcp'): Promise<string> {
    const accept = (conn: Connection) => this.onConnection(conn)
    if (transport === 'ws') {
      this.listener = await listenWs({ host: '127.0.0.1', port: 0 }, accept)
      this.url = this.listener.address
    } else {
      this.listener = await listenTcp({ host: '127.0.0.1', port: 0 }, accept)
      this.url = `tcp://127.0.0.1:${this.listener.port}`
    }
    return this.url
  }

  private onConnection(conn: Connection): void {
    const c: ScriptedConnection = {
      index: this.connections.length + 1,
      conn,
      acceptedAt: this.now(),
      closedAt: null,
      frames: [],
      cursor: 0,
      lastSentAt: null,
      kindCursors: new Map(),
      silent: false,
    }
    this.connections.push(c)
    const name = `#${c.index}`
    this.transcript.event(name, 'connect', 'accepted')
    // Every frame the kit sends goes into the transcript too.
    const send = conn.send.bind(conn)
    conn.send = (f: Frame) => {
      this.transcript.frame(name, 'out', frameToJson(f), encodeFrame(f), f.body.case === 'pong' ? { auto: true } : {})
      c.lastSentAt = this.now()
      send(f)
    }
    conn.on('frame', (frame, bytes) => {
      c.frames.push({ frame, at: this.now() })
      this.transcript.frame(name, 'in', frameToJson(frame), bytes)
      this.onFrame?.(c, frame)
      // Liveness is not under test unless a step says so: answer every Ping. [HB-1]
      if (frame.body.case === 'ping' && !c.silent)
        conn.send(create(FrameSchema, { body: { case: 'pong', value: { nonce: frame.body.value.nonce } } }))
      this.notify()
    })
    conn.on('close', (info) => {
      c.closedAt = this.now()
      this.transcript.event(name, 'close', info.local ? 'by the kit' : 'by the client')
      this.notify()
    })
    this.notify()
  }

  private notify(): void {
    const ws = this.wake
    this.wake = []
    for (const w of ws) w()
  }

  /** Resolves with the first value `probe` returns that is not undefined, or null at the deadline. */
  async waitFor<T>(probe: () => T | undefined, timeoutMs: number): Promise<T | null> {
    const deadline = this.now() + timeoutMs
    for (;;) {
      const v = probe()
      if (v !== undefined) return v
      const left = deadline - this.now()
      if (left <= 0) return null
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left)
        this.wake.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }

  /** The next connection not yet taken by a step. */
  nextConnection(timeoutMs: number): Promise<ScriptedConnection | null> {
    return this.waitFor(() => {
      const c = this.connections[this.accepted]
      if (c === undefined) return undefined
      this.accepted++
      return c
    }, timeoutMs)
  }

  /** The connection most recently taken by a step. */
  get current(): ScriptedConnection | undefined {
    return this.connections[this.accepted - 1]
  }

  /** Untaken connections so far (a client that reconnected when it must not have). */
  get pending(): number {
    return this.connections.length - this.accepted
  }

  /** The next unconsumed frame of `c` matching `pred` (earlier non-matching frames are consumed). */
  nextFrame(c: ScriptedConnection, pred: (f: Frame) => boolean, timeoutMs: number): Promise<ReceivedFrame | null> {
    return this.waitFor(() => {
      while (c.cursor < c.frames.length) {
        const f = c.frames[c.cursor++] as ReceivedFrame
        if (pred(f.frame)) return f
      }
      return undefined
    }, timeoutMs)
  }

  /**
   * The next frame of `c` matching `pred` that no earlier call for `kind` took;
   * other frames stay for the other steps.
   */
  nextFrameOf(
    c: ScriptedConnection,
    kind: string,
    pred: (f: Frame) => boolean,
    timeoutMs: number,
  ): Promise<ReceivedFrame | null> {
    return this.waitFor(() => {
      let i = c.kindCursors.get(kind) ?? 0
      while (i < c.frames.length) {
        const f = c.frames[i++] as ReceivedFrame
        c.kindCursors.set(kind, i)
        if (pred(f.frame)) return f
      }
      return undefined
    }, timeoutMs)
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.conn.destroy()
    await this.listener?.close()
  }
}
