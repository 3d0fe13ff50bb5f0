// A minimal scripted client for end-to-end tests: raw frames over a real
// transport, with bounded waits (every wait has a deadline, so a broken
// server fails a test instead of hanging it).
import { create, type MessageInitShape } from '@bufbuild/protobuf'
import { decodeBatch } from '../../src/codec/index.js'
import { type Frame, FrameSchema } from '../../src/gen/es/imwire/v1/frame_pb.js'
import { makeTestToken } from '../../src/session/test-token.js'
import { type CloseInfo, type Connection, connectTcp, connectWs } from '../../src/transport/index.js'

export type Body = MessageInitShape<typeof FrameSchema>['body']
export type Kind = 'tcp' | 'ws'
export type Value<C extends NonNullable<Frame['body']['case']>> = Extract<Frame['body'], { case: C }>['value']

const WAIT_MS = 5000

export class Peer {
  /** Frames received and not yet consumed (batches unpacked, recorded). */
  private queue: Frame[] = []
  private wake: (() => void) | null = null
  closeInfo: CloseInfo | null = null
  readonly closed: Promise<CloseInfo>
  /** Number of Batch frames received. */
  batches = 0

  constructor(readonly conn: Connection) {
    conn.on('frame', (f) => {
      if (f.body.case === 'batch') {
        this.batches++
        const inner = decodeBatch(f, {
          maxBatchBytes: 1 << 24,
          maxBatchFrames: 1 << 16,
          maxFrameBytes: 1 << 24,
          lz4Enabled: true,
        })
        this.queue.push(...inner)
      } else this.queue.push(f)
      this.wake?.()
    })
    this.closed = new Promise((resolve) =>
      conn.on('close', (info) => {
        this.closeInfo = info
        this.wake?.()
        resolve(info)
      }),
    )
  }

  static async open(kind: Kind, server: { tcpAddress: string | null; wsUrl: string | null }): Promise<Peer> {
    if (kind === 'tcp') {
      const [host, port] = (server.tcpAddress as string).split(':')
      return new Peer(await connectTcp(host as string, Number(port)))
    }
    return new Peer(await connectWs(server.wsUrl as string))
  }

  send(body: Body): this {
    this.conn.send(create(FrameSchema, { body }))
    return this
  }

  /** The next frame (any kind), waiting up to WAIT_MS. */
  async next(): Promise<Frame> {
    const deadline = Date.now() + WAIT_MS
    while (this.queue.length === 0) {
      if (this.closeInfo !== null) throw new Error('connection closed while waiting for a frame')
      const left = deadline - Date.now()
      if (left <= 0) throw new Error('timed out waiting for a frame')
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.wake = null
    }
    return this.queue.shift() as Frame
  }

  /** The next frame, which must be of this kind. */
  async expect<C extends NonNullable<Frame['body']['case']>>(kind: C): Promise<Value<C>> {
    const f = await this.next()
    if (f.body.case !== kind)
      throw new Error(`expected ${kind}, got ${f.body.case}: ${JSON.stringify(f.body.value, bigintJson)}`)
    return f.body.value as Value<C>
  }

  /** Wait for the Close frame and the end of the connection; returns the Close code. */
  async expectClose(): Promise<number> {
    for (;;) {
      const f = await this.next()
      if (f.body.case === 'close') {
        await Promise.race([this.closed, new Promise((r) => setTimeout(r, WAIT_MS))])
        return f.body.value.code
      }
      if (f.body.case !== 'ping' && f.body.case !== 'pong') {
        throw new Error(`expected close, got ${f.body.case}`)
      }
    }
  }

  /** Hello; returns the Welcome, leaving replay frames queued (through ReplayComplete). */
  async hello(
    secret: string,
    userId: string,
    deviceId: string,
    over: Record<string, unknown> = {},
  ): Promise<Value<'welcome'>> {
    this.send({ case: 'hello', value: { versions: [1], token: makeTestToken(secret, userId), deviceId, ...over } })
    return this.expect('welcome')
  }

  /** Hello and consume everything up to ReplayComplete; returns the replayed frames. */
  async login(secret: string, userId: string, deviceId: string, over: Record<string, unknown> = {}): Promise<Frame[]> {
    await this.hello(secret, userId, deviceId, over)
    const replay: Frame[] = []
    for (;;) {
      const f = await this.next()
      if (f.body.case === 'replayComplete') return replay
      replay.push(f)
    }
  }

  /** Frames already queued. */
  get pending(): number {
    return this.queue.length
  }

  destroy(): void {
    this.conn.destroy()
  }
}

function bigintJson(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v
}
